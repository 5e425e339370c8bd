/**
 * The built generator of each foreign target (aarch64, armhf; the release archive ships it in
 * aarch64/ and arm/) run under qemu-user on a small pair of releases: its Artifact must be byte for
 * byte the one the host's build makes, so everything the host tests prove of that Artifact holds
 * for it too. armhf is a 32-bit Node: docs/generator.md says what that limits.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { HOST_TARGET, TARGETS, binaryPath, runBinary } from "../helpers/targets";
import { needBuilt, needTools } from "../helpers/peers";
import { releaseSuite, sha256File } from "./fixtures";

const PROGRAM = "mender-binary-delta-generator";
const suite = releaseSuite("mbd-gen-arch-", ["mender-artifact", "mke2fs"]);
// Four 1 MiB windows and two threads: the worker threads run under qemu too.
// --quiet: stderr must stay empty (no progress lines either).
const ARGS = ["--quiet", "--threads", "2", "-D", "-W1048576"];

for (const target of TARGETS.filter((t) => t !== HOST_TARGET && t.programs.includes(PROGRAM))) {
  test(`${target.arch} generator under qemu: the same Artifact as the host's build, byte for byte`, { timeout: 600_000 }, (t) => {
    if (!suite.usable(t)) return;
    if (!needBuilt(t, binaryPath(target, PROGRAM), binaryPath(HOST_TARGET, PROGRAM))) return;
    if (!needTools(t, target.run[0]!)) return;
    const host = path.join(suite.work, "host.mender");
    const r0 = runBinary(HOST_TARGET, PROGRAM, [...ARGS, "-o", host, suite.rel.r1, suite.rel.r2]);
    assert.equal(r0.status, 0, r0.stderr);
    const foreign = path.join(suite.work, `${target.arch}.mender`);
    const r = runBinary(target, PROGRAM, [...ARGS, "-o", foreign, suite.rel.r1, suite.rel.r2], { timeout: 540_000 });
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    assert.equal(sha256File(foreign), sha256File(host));
  });
}
