/**
 * The built generator starts itself again with glibc's mmap threshold fixed (src/cli/allocator-tuning.ts):
 * the environment it adds, that the built program really runs with it (its --debug line), that a
 * threshold the user set is kept, and that the Artifact does not depend on it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { MMAP_THRESHOLD, tunedEnvironment } from "../../src/cli/allocator-tuning";
import { HOST_TARGET, binaryPath, runBinary } from "../helpers/targets";
import { needBuilt } from "../helpers/peers";
import { releaseSuite, sha256File } from "./fixtures";

const PROGRAM = "mender-binary-delta-generator";
const suite = releaseSuite("mbd-gen-malloc-", ["mender-artifact", "mke2fs"]);

test("tunedEnvironment: the threshold added to GLIBC_TUNABLES, other tunables kept, a threshold already set left alone", () => {
  const setting = `glibc.malloc.mmap_threshold=${MMAP_THRESHOLD}`;
  assert.equal(MMAP_THRESHOLD, 131072);
  assert.equal(tunedEnvironment({ PATH: "/bin" })?.GLIBC_TUNABLES, setting);
  assert.equal(tunedEnvironment({ PATH: "/bin" })?.PATH, "/bin");
  assert.equal(tunedEnvironment({ GLIBC_TUNABLES: "" })?.GLIBC_TUNABLES, setting);
  assert.equal(tunedEnvironment({ GLIBC_TUNABLES: "glibc.malloc.arena_max=2" })?.GLIBC_TUNABLES, `glibc.malloc.arena_max=2:${setting}`);
  assert.equal(tunedEnvironment({ GLIBC_TUNABLES: "glibc.malloc.mmap_threshold=262144" }), undefined);
  assert.equal(tunedEnvironment({ GLIBC_TUNABLES: "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=0" }), undefined);
  // A longer tunable name that merely starts the same is not the threshold.
  assert.equal(tunedEnvironment({ GLIBC_TUNABLES: "glibc.malloc.mmap_threshold_x=1" })?.GLIBC_TUNABLES, `glibc.malloc.mmap_threshold_x=1:${setting}`);
});

test("the built generator runs with the threshold fixed (started again in place), keeps one the user set, and makes the same Artifact either way", { timeout: 300_000 }, (t) => {
  if (!suite.usable(t)) return;
  if (!needBuilt(t, binaryPath(HOST_TARGET, PROGRAM))) return;
  const run = (name: string, tunables: string | undefined): { stderr: string; artifact: string } => {
    const env = { ...process.env };
    delete env.GLIBC_TUNABLES;
    if (tunables !== undefined) env.GLIBC_TUNABLES = tunables;
    const artifact = path.join(suite.work, `${name}.mender`);
    const r = runBinary(HOST_TARGET, PROGRAM, ["--quiet", "--debug", "-o", artifact, suite.rel.r1, suite.rel.r2], { env });
    assert.equal(r.status, 0, r.stderr);
    return { stderr: r.stderr, artifact };
  };
  const line = (value: string): RegExp => new RegExp(`^${PROGRAM}: debug: runs with GLIBC_TUNABLES=${value.replace(/\./g, "\\.")}$`, "m");
  const unset = run("unset", undefined);
  assert.match(unset.stderr, line(`glibc.malloc.mmap_threshold=${MMAP_THRESHOLD}`));
  const others = run("others", "glibc.malloc.arena_max=4");
  assert.match(others.stderr, line(`glibc.malloc.arena_max=4:glibc.malloc.mmap_threshold=${MMAP_THRESHOLD}`));
  const own = run("own", "glibc.malloc.mmap_threshold=262144");
  assert.match(own.stderr, line("glibc.malloc.mmap_threshold=262144"));
  assert.equal(sha256File(others.artifact), sha256File(unset.artifact));
  assert.equal(sha256File(own.artifact), sha256File(unset.artifact));
});
