/**
 * The built generator of each foreign target (aarch64, armhf; the release archive ships it in
 * aarch64/ and arm/) run under qemu-user on a small pair of releases: its Artifact must be byte for
 * byte the one the host's build makes, so everything the host tests prove of that Artifact holds
 * for it too. armhf is a 32-bit Node: docs/generator.md says what that limits.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { HOST_TARGET, TARGETS, binaryPath, runBinary } from "../helpers/targets";
import { needBuilt, needTools } from "../helpers/peers";
import { releaseSuite, sha256File } from "./fixtures";

const PROGRAM = "mender-binary-delta-generator";
const suite = releaseSuite("mbd-gen-arch-", ["mender-artifact", "mke2fs"]);
// Four 1 MiB windows and two threads: the worker threads run under qemu too.
// --quiet: no progress lines on stderr; --debug: only its lines there.
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
    const env = { ...process.env };
    delete env.GLIBC_TUNABLES;
    const r = runBinary(target, PROGRAM, [...ARGS, "--debug", "-o", foreign, suite.rel.r1, suite.rel.r2], { timeout: 540_000, env });
    assert.equal(r.status, 0, r.stderr);
    // Nothing on stderr but --debug's lines (no progress either).
    for (const line of r.stderr.split("\n").filter((l) => l !== "")) assert.match(line, /^mender-binary-delta-generator: debug: /);
    // The restart with glibc's mmap threshold fixed (src/cli/allocator-tuning.ts) needs execve
    // (Node 22.15 and later) and a host that starts the binary by itself (binfmt with the target's
    // libraries); otherwise its trial start fails under qemu-user and the run goes on as it was.
    const [major, minor] = target.nodeVersion.split(".").map(Number) as [number, number];
    const restarts = (major > 22 || (major === 22 && minor >= 15)) && spawnSync(binaryPath(target, PROGRAM), ["--version"], { stdio: "ignore" }).status === 0;
    assert.match(r.stderr, new RegExp(`^${PROGRAM}: debug: runs with GLIBC_TUNABLES=${restarts ? "glibc\\.malloc\\.mmap_threshold=131072" : "\\(unset\\)"}$`, "m"));
    assert.equal(sha256File(foreign), sha256File(host));
  });
}
