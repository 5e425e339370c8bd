/**
 * The documentation's compression tables state what the compression registry
 * (src/artifact/compressions/) holds: docs/artifact-library.md's table lists every compression in
 * registry order with its suffix, default level and level range and marks the writer's default;
 * docs/generator.md gives every compression, name and level --compression takes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { COMPRESSIONS, DEFAULT_ARTIFACT_COMPRESSION } from "../../src/artifact";
import { DEFAULT_DELTA_COMPRESSION } from "../../src/generator";

const ROOT = path.resolve(__dirname, "../..");
const doc = (name: string): string => readFileSync(path.join(ROOT, "docs", name), "utf8");

/** The rows (cells trimmed) of the markdown table whose header row starts with `| first |`. */
function table(text: string, first: string): string[][] {
  const lines = text.split("\n");
  const start = lines.findIndex((l, i) => l.startsWith(`| ${first} |`) && lines[i + 1]?.startsWith("|---"));
  assert.ok(start >= 0, `no table headed '${first}'`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split(" | ").map((c) => c.replace(/^\| ?| ?\|$/g, "").trim()));
  }
  return rows;
}

test("docs/artifact-library.md: one row per compression, in registry order, with its suffix, default and levels", () => {
  const rows = table(doc("artifact-library.md"), "`compression`");
  assert.deepEqual(rows.map((r) => r[0]!.replace(/ \(default\)$/, "")), COMPRESSIONS.map((c) => `\`${c.id}\``));
  for (const [row, c] of rows.map((r, i) => [r, COMPRESSIONS[i]!] as const)) {
    assert.equal(row[0]!.endsWith("(default)"), c.id === DEFAULT_ARTIFACT_COMPRESSION, `${c.id}: the writer's default is marked, only it`);
    assert.equal(row[1], c.suffix === "" ? "(none)" : `\`${c.suffix}\``, `${c.id}: suffix`);
    const write = row[3]!;
    if (c.levels) {
      assert.ok(write.includes(`level ${c.levels.default} (\`compressionLevel\` ${c.levels.min}–${c.levels.max}`), `${c.id}: levels in '${write}'`);
    } else {
      assert.equal(write, "–", `${c.id} has no levels`);
    }
  }
});

test("docs/generator.md: --compression's names and levels, and mender-artifact's names, as the registry has them", () => {
  const text = doc("generator.md");
  const options = new Map(table(text, "option").map((r) => [r[0], r[1]!]));
  const kinds = options.get("`--compression KIND`")!;
  const levels = options.get("`--compression-level N`")!;
  assert.ok(kinds.startsWith(`\`${DEFAULT_DELTA_COMPRESSION}\` (default`), kinds);
  for (const c of COMPRESSIONS) {
    assert.ok(kinds.includes(`\`${c.id}\``), `--compression ${c.id} is listed`);
    if (c.levels) {
      const def = c.id === DEFAULT_DELTA_COMPRESSION ? `default ${c.levels.default}:` : `default ${c.levels.default})`;
      assert.ok(levels.includes(`${c.id} ${c.levels.min}-${c.levels.max} (${def}`), `${c.id}'s levels in '${levels}'`);
    } else {
      assert.ok(!levels.includes(`${c.id} `), `${c.id} has no levels`);
    }
  }
  const aliases = table(text, "mender-artifact option");
  for (const c of COMPRESSIONS) {
    for (const a of c.aliases) {
      // A row may name several: "`--compression zstd_fastest`, `zstd_fast`".
      const row = aliases.find((r) => r[0]!.split(", ").some((n) => n === `\`--compression ${a.name}\`` || n === `\`${a.name}\``));
      assert.ok(row, `mender-artifact's --compression ${a.name} has a row`);
      const want = a.level === undefined ? `\`--compression ${c.id}\`` : `\`--compression ${c.id} --compression-level ${a.level}\``;
      assert.ok(row[1]!.startsWith(want), `${a.name}: '${row[1]}' should start with ${want}`);
    }
  }
});
