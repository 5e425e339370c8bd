/**
 * The build itself (build.mjs): rebuilt from the same commit, a target gives byte-identical
 * binaries; its command line; its report of missing host tools. One target is rebuilt (x86_64,
 * natively): the others go through the same code, with qemu only making their SEA blobs. The
 * release archive and the Debian packages are checked in test/shipping/. `npm test` builds dist/
 * before the tests.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HOST_TARGET, ROOT, binaryPath } from "./helpers/targets";
import { needBuilt, needTools } from "./helpers/peers";

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

test("x86_64 rebuilt by build.mjs --quiet: byte-identical binaries, nothing printed", { timeout: 600_000 }, (t) => {
  const programs = HOST_TARGET.programs;
  if (!needBuilt(t, ...programs.map((p) => binaryPath(HOST_TARGET, p)))) return;
  if (!needTools(t, "strip")) return;
  const out = mkdtempSync(path.join(tmpdir(), "mbd-rebuild-"));
  try {
    const r = spawnSync(process.execPath, ["build.mjs", "--arch", HOST_TARGET.arch, "--out", out, "--no-archive", "--quiet"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "", "--quiet prints nothing");
    assert.equal(r.stderr, "", "--quiet prints nothing");
    for (const program of programs) {
      assert.equal(sha256(binaryPath(HOST_TARGET, program, out)), sha256(binaryPath(HOST_TARGET, program)), `${program} differs between builds`);
    }
    assert.deepEqual(readdirSync(out), [HOST_TARGET.arch], "build.mjs leaves no scratch files");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("build.mjs --help prints usage; a wrong option or arch is a usage error naming it", () => {
  const help = spawnSync(process.execPath, ["build.mjs", "--help"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(help.status, 0);
  assert.equal(help.stderr, "");
  assert.match(help.stdout, /^Usage: node build\.mjs \[options\]\n/);
  for (const opt of ["--arch", "--out", "--no-archive", "--no-deb", "--quiet", "--help"]) assert.match(help.stdout, new RegExp(`\\n  ${opt}\\b`));
  const bad = spawnSync(process.execPath, ["build.mjs", "--no-such-option"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^build\.mjs: Unknown option '--no-such-option'[^\n]*\nRun 'node build\.mjs --help' for usage\.\n$/);
  const arch = spawnSync(process.execPath, ["build.mjs", "--arch", "mips"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(arch.status, 2);
  assert.equal(arch.stderr, "build.mjs: unknown arch 'mips' (known: aarch64, armhf, x86_64)\n");
});

test("build.mjs without its host tools: one line per missing tool naming its Debian package, no stack trace, nothing built", () => {
  // A PATH with node and sh only: no strip, qemu, cross binutils, tar, xz, dpkg-deb.
  const bin = mkdtempSync(path.join(tmpdir(), "mbd-nopath-"));
  try {
    for (const tool of [process.execPath, "/bin/sh"]) {
      spawnSync("ln", ["-s", tool, path.join(bin, path.basename(tool))]);
    }
    const out = path.join(bin, "out");
    const r = spawnSync(process.execPath, ["build.mjs", "--out", out], { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH: bin } });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.ok(lines.includes("build.mjs: x86_64 needs strip: install the Debian/Ubuntu package binutils"), r.stderr);
    assert.ok(lines.includes("build.mjs: aarch64 needs qemu-aarch64-static: install the Debian/Ubuntu package qemu-user-static"), r.stderr);
    assert.ok(lines.includes("build.mjs: armhf needs arm-linux-gnueabihf-strip: install the Debian/Ubuntu package binutils-arm-linux-gnueabihf"), r.stderr);
    assert.ok(lines.includes("build.mjs: needs xz: install the Debian/Ubuntu package xz-utils"), r.stderr);
    assert.ok(lines.includes("build.mjs: needs dpkg-deb: install the Debian/Ubuntu package dpkg"), r.stderr);
    for (const l of lines) assert.match(l, /^build\.mjs: /, "every line is the build's own, no stack trace");
    assert.match(lines.at(-1)!, /scripts\/install-deps\.sh test installs every build tool/);
    assert.equal(spawnSync("test", ["-e", out]).status, 1, "nothing built");
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
