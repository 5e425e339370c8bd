/**
 * The build itself: reproducible binaries, and a release archive laid out like the original
 * product's (x86_64/, aarch64/, arm/). `npm test` builds dist/ before the tests run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DIST, ROOT, TARGETS, binaryPath } from "./helpers/targets";
import { needBuilt } from "./helpers/peers";

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const ARCHIVE = path.join(DIST, `mender-binary-delta-${VERSION}.tar.xz`);

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

test("two builds from the same commit give byte-identical binaries", { timeout: 900_000 }, (t) => {
  const firsts = TARGETS.flatMap((tg) => tg.programs.map((p) => binaryPath(tg, p)));
  if (!needBuilt(t, ...firsts)) return;
  const out = mkdtempSync(path.join(tmpdir(), "mbd-rebuild-"));
  try {
    const r = spawnSync(process.execPath, ["build.mjs", "--out", out, "--no-archive", "--quiet"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    for (const tg of TARGETS) {
      for (const program of tg.programs) {
        assert.equal(sha256(binaryPath(tg, program, out)), sha256(binaryPath(tg, program)), `${tg.arch}/${program} differs between builds`);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("the release archive holds x86_64/, aarch64/, arm/ with the built programs (mode 0755) and the licenses", (t) => {
  if (!needBuilt(t, ARCHIVE)) return;
  const list = spawnSync("tar", ["-tvJf", ARCHIVE], { encoding: "utf8", maxBuffer: 1 << 24 });
  assert.equal(list.status, 0, list.stderr);
  const files = list.stdout.trim().split("\n").filter((l) => l.startsWith("-"))
    .map((l) => { const f = l.split(/\s+/); return { mode: f[0], owner: f[1], name: f[f.length - 1]! }; });
  const programs = TARGETS.flatMap((tg) => tg.programs.map((p) => `${tg.releaseDir}/${p}`));
  const licenses = ["LICENSE", ...new Set(TARGETS.map((tg) => `licenses/node-v${tg.nodeVersion}.LICENSE`))];
  assert.deepEqual(files.map((f) => f.name).sort(), [...programs, ...licenses].sort());
  for (const f of files) {
    assert.equal(f.mode, programs.includes(f.name) ? "-rwxr-xr-x" : "-rw-r--r--", f.name);
    assert.equal(f.owner, "0/0", f.name);
  }
  const out = mkdtempSync(path.join(tmpdir(), "mbd-release-"));
  try {
    const x = spawnSync("tar", ["-xJf", ARCHIVE, "-C", out]);
    assert.equal(x.status, 0);
    for (const tg of TARGETS) {
      for (const program of tg.programs) {
        const extracted = path.join(out, tg.releaseDir, program);
        assert.equal(sha256(extracted), sha256(binaryPath(tg, program)), `${tg.releaseDir}/${program}`);
        assert.equal(statSync(extracted).mode & 0o777, 0o755);
      }
    }
    assert.deepEqual(readFileSync(path.join(out, "LICENSE")), readFileSync(path.join(ROOT, "LICENSE")));
    assert.match(readFileSync(path.join(out, "licenses", `node-v${TARGETS[0]!.nodeVersion}.LICENSE`), "utf8"), /Node\.js is licensed/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
