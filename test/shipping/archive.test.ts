/**
 * The release archive (targets/archive.mjs), laid out like the original product's: it unpacks into
 * mender-binary-delta-<version>/ with x86_64/, aarch64/ and arm/, each holding both programs, so
 * its documented `tar xvf ...; cd mender-binary-delta-<version>/x86_64/` steps work. Packed from the
 * built binaries by test/helpers/release.ts.
 */
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, TARGETS, binaryPath } from "../helpers/targets";
import { REQUIRE_PEERS } from "../helpers/peers";
import { releaseArchive, VERSION } from "../helpers/release";

const TOP = `mender-binary-delta-${VERSION}`;
const PROGRAMS = ["mender-binary-delta", "mender-binary-delta-generator"];
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

let archive: ReturnType<typeof releaseArchive>;
const out = mkdtempSync(path.join(tmpdir(), "mbd-release-"));
before(() => {
  archive = releaseArchive();
});
after(() => rmSync(out, { recursive: true, force: true }));

function ready(t: import("node:test").TestContext): string | undefined {
  if ("file" in archive) return archive.file;
  if (REQUIRE_PEERS) assert.fail(archive.problem);
  process.stderr.write(`SKIPPED: ${archive.problem}\n`);
  t.skip(archive.problem);
  return undefined;
}

test("mender-binary-delta-<version>/ holds x86_64/, aarch64/, arm/ with both programs (0755, root) and the licenses", (t) => {
  const file = ready(t);
  if (!file) return;
  assert.deepEqual(TARGETS.map((tg) => tg.releaseDir).sort(), ["aarch64", "arm", "x86_64"]);
  const list = spawnSync("tar", ["-tvJf", file], { encoding: "utf8", maxBuffer: 1 << 24 });
  assert.equal(list.status, 0, list.stderr);
  const entries = list.stdout.trim().split("\n").map((l) => {
    const f = l.split(/\s+/);
    return { mode: f[0]!, owner: f[1]!, name: f[f.length - 1]! };
  });
  for (const e of entries) assert.ok(e.name === `${TOP}/` || e.name.startsWith(`${TOP}/`), `${e.name} is outside ${TOP}/`);
  const files = entries.filter((e) => e.mode.startsWith("-"));
  const programs = TARGETS.flatMap((tg) => PROGRAMS.map((p) => `${TOP}/${tg.releaseDir}/${p}`));
  const licenses = [`${TOP}/LICENSE`, ...new Set(TARGETS.map((tg) => `${TOP}/licenses/node-v${tg.nodeVersion}.LICENSE`))];
  assert.deepEqual(files.map((f) => f.name).sort(), [...programs, ...licenses].sort());
  for (const f of entries) {
    assert.equal(f.mode, programs.includes(f.name) || f.mode.startsWith("d") ? f.mode.replace(/^(.).*/, "$1rwxr-xr-x") : "-rw-r--r--", f.name);
    assert.equal(f.owner, "0/0", f.name);
  }
});

test("tar xvf; cd mender-binary-delta-<version>/x86_64/: the built programs, and they run", (t) => {
  const file = ready(t);
  if (!file) return;
  const x = spawnSync("sh", ["-c", `tar xvf '${file}' && cd '${TOP}/x86_64/' && ./mender-binary-delta --version && ./mender-binary-delta-generator --version`],
    { cwd: out, encoding: "utf8" });
  assert.equal(x.status, 0, x.stderr);
  assert.match(x.stdout, new RegExp(`\\nmender-binary-delta ${VERSION.replace(/\./g, "\\.")}\\nmender-binary-delta-generator ${VERSION.replace(/\./g, "\\.")}\\n$`));
  for (const tg of TARGETS) {
    for (const program of tg.programs) {
      const extracted = path.join(out, TOP, tg.releaseDir, program);
      assert.equal(sha256(extracted), sha256(binaryPath(tg, program)), `${tg.releaseDir}/${program}`);
      assert.equal(statSync(extracted).mode & 0o777, 0o755);
    }
  }
  assert.deepEqual(readFileSync(path.join(out, TOP, "LICENSE")), readFileSync(path.join(ROOT, "LICENSE")));
  assert.match(readFileSync(path.join(out, TOP, "licenses", `node-v${TARGETS[0]!.nodeVersion}.LICENSE`), "utf8"), /Node\.js is licensed/);
});
