/**
 * Figures measured by a benchmark stay tied to the benchmark that prints them. In the docs, a
 * measured block is marked (invisible in rendered markdown):
 *
 *   <!-- bench: NAME -->
 *   ... table or paragraph of figures ...
 *   <!-- /bench -->
 *
 * and this test holds each block to its bench: NAME is a benchmark in test/bench/ (what
 * `npm run bench -- NAME` runs); the block, or the paragraph just above it, tells the reader that
 * command; and every decimal figure in the block is in a unit that bench prints. A delta size
 * quoted with three decimals in MB (the benches' precision) anywhere in README.md or docs/ must be
 * one a marked block states, so a quote cannot drift from its source unnoticed.
 *
 * Figures from one-off experiments (the encoder's tuning table, a hand-run measurement) are not
 * marked: the text around them says how they were made.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const BENCH = path.join(ROOT, "test", "bench");
const DOCS = ["README.md", ...readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

interface Block { doc: string; line: number; bench: string; text: string; above: string }

function blocks(doc: string): Block[] {
  const lines = readFileSync(path.join(ROOT, doc), "utf8").split("\n");
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^<!-- bench: ([\w-]+) -->$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l === "<!-- /bench -->");
    assert.ok(end > i, `${doc}:${i + 1}: bench block without <!-- /bench -->`);
    // The paragraph just above (blank lines between are skipped) and the heading over it, if any.
    let start = i;
    while (start > 0 && lines[start - 1]!.trim() === "") start--;
    while (start > 0 && lines[start - 1]!.trim() !== "") start--;
    found.push({ doc, line: i + 1, bench: open[1]!, text: lines.slice(i + 1, end).join("\n"), above: lines.slice(Math.max(0, start - 2), i).join("\n") });
    i = end;
  }
  return found;
}

const ALL = DOCS.flatMap(blocks);

/** The source a bench prints from: its file and the shared helpers in test/bench/lib/. */
function benchSource(name: string): string {
  const lib = path.join(BENCH, "lib");
  const helpers = existsSync(lib) ? readdirSync(lib).map((f) => readFileSync(path.join(lib, f), "utf8")) : [];
  return [readFileSync(path.join(BENCH, `${name}.ts`), "utf8"), ...helpers].join("\n");
}

/** Units a decimal figure can carry, and how a bench's source prints each. */
const UNITS: Record<string, RegExp> = {
  MB: /\}\s?MB\b/, KB: /\}\s?KB\b/, KiB: /\}\s?KiB\b/, MiB: /\}\s?MiB\b/, GiB: /\}\s?GiB\b/, s: /\}\s?s\b/, x: /\}\s?x\b/, "%": /\}\s?%/,
};
const FIGURE = /\b\d+\.\d+ ?(MB|KB|KiB|MiB|GiB|s|x|%)(?![\w])/g;

test("the docs mark their benchmark figures (the blocks this test checks exist)", () => {
  assert.ok(ALL.length >= 5, `only ${ALL.length} bench blocks found`);
});

test("every bench block names a benchmark, tells its command, and uses only units that bench prints", () => {
  for (const b of ALL) {
    const where = `${b.doc}:${b.line} (bench ${b.bench})`;
    assert.ok(existsSync(path.join(BENCH, `${b.bench}.ts`)) && b.bench !== "run", `${where}: no benchmark test/bench/${b.bench}.ts`);
    const told = `${b.above}\n${b.text}`;
    assert.ok(told.includes(`npm run bench -- ${b.bench}`) || told.includes(`test/bench/${b.bench}.ts`), `${where}: the block or the paragraph above it must give the command that prints it`);
    const source = benchSource(b.bench);
    const units = new Set([...b.text.matchAll(FIGURE)].map((m) => m[1]!));
    assert.ok(units.size > 0, `${where}: a bench block with no figures`);
    for (const unit of units) assert.match(source, UNITS[unit]!, `${where}: figures in ${unit}, which ${b.bench}.ts does not print`);
  }
});

test("a delta size quoted to the kB (x.xxx MB) is one a bench block states", () => {
  const stated = new Set(ALL.flatMap((b) => [...b.text.matchAll(/\b\d+\.\d{3} MB\b/g)].map((m) => m[0])));
  for (const doc of DOCS) {
    const text = readFileSync(path.join(ROOT, doc), "utf8");
    for (const m of text.matchAll(/\b\d+\.\d{3} MB\b/g)) {
      const line = text.slice(0, m.index).split("\n").length;
      assert.ok(stated.has(m[0]), `${doc}:${line}: ${m[0]} is in no bench block; quote a figure a bench prints, inside or from a marked block`);
    }
  }
});
