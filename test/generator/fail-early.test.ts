/**
 * What can be checked before the heavy work is: an output path that cannot be written, a scratch
 * file system too small for the extracted images, an input that is no Artifact at all. Each case
 * fails with its exact message, without starting a phase (nothing read, extracted or encoded) and
 * without creating anything.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { MenderDeltaError } from "../../src/errors";
import { generateDelta, resolveOptions, type Progress, type RawOptions } from "../../src/generator";
import { needRoot } from "../helpers/peers";
import { releaseSuite } from "./fixtures";

const suite = releaseSuite("mbd-gen-early-", ["mender-artifact", "mke2fs"]);
const usable = (t: TestContext): boolean => suite.usable(t);

/** Runs the generator; asserts it fails with exactly `message` before any phase started. */
async function failsEarly(message: string, raw: RawOptions, ...inputs: string[]): Promise<void> {
  const phases: string[] = [];
  const progress: Progress = { start: (label) => void phases.push(label), advance() {}, finish() {} };
  await assert.rejects(generateDelta(resolveOptions(raw, inputs), { progress }), (err: unknown) => {
    assert.ok(err instanceof MenderDeltaError, `expected a MenderDeltaError, got ${String(err)}`);
    assert.equal(err.message, message);
    return true;
  });
  assert.deepEqual(phases, [], "no phase started: nothing was read, extracted or encoded");
}

/**
 * A fresh tmpfs of `size` (mount(8) syntax) at a new directory in the suite's work directory,
 * unmounted when the test ends (before the suite removes its work directory).
 */
function tmpfs(t: TestContext, name: string, size: string, extra: string[] = []): string {
  const dir = path.join(suite.work, name);
  fs.mkdirSync(dir);
  execFileSync("mount", ["-t", "tmpfs", "-o", [`size=${size}`, ...extra].join(","), "tmpfs", dir]);
  t.after(() => execFileSync("umount", [dir]));
  return dir;
}

test("output: an existing directory, a missing directory, a path that is not a directory, an input", async (t) => {
  if (!usable(t)) return;
  const dir = path.join(suite.work, "out");
  fs.mkdirSync(dir);
  await failsEarly(
    `cannot write the output ${dir}: it is a directory; give the delta Artifact's file name, e.g. ${path.join(dir, "delta.mender")}`,
    { output: dir }, suite.rel.r1, suite.rel.r2,
  );
  const missing = path.join(suite.work, "no", "such");
  await failsEarly(`cannot write the output ${missing}/d.mender: the directory ${missing} does not exist; create it first`, { output: `${missing}/d.mender` }, suite.rel.r1, suite.rel.r2);
  await failsEarly(`cannot write the output ${suite.rel.r1}/d.mender: ${suite.rel.r1} is not a directory`, { output: `${suite.rel.r1}/d.mender` }, suite.rel.r1, suite.rel.r2);
  await failsEarly(
    `the output ${suite.rel.r2} is the TO input; write the delta Artifact to a new file`,
    { output: suite.rel.r2 }, suite.rel.r1, suite.rel.r2,
  );
  await failsEarly(
    "cannot write the output /dev/null: it exists and is not a regular file (a device, FIFO or socket); the Artifact is written to a new file and renamed, give a file path",
    { output: "/dev/null" }, suite.rel.r1, suite.rel.r2,
  );
  assert.deepEqual(fs.readdirSync(dir), [], "nothing created");
});

test("output: a directory on a read-only file system", async (t) => {
  if (!usable(t) || !needRoot(t, "mounts a read-only tmpfs")) return;
  const ro = tmpfs(t, "read-only", "1m", ["ro"]);
  await failsEarly(
    `cannot write the output ${ro}/d.mender: the directory ${ro} is not writable (a read-only file system); choose a writable directory`,
    { output: `${ro}/d.mender` }, suite.rel.r1, suite.rel.r2,
  );
});

test("scratch space: a file system without room for the extracted images fails with the numbers, before extracting", async (t) => {
  if (!usable(t) || !needRoot(t, "mounts a small tmpfs")) return;
  const small = tmpfs(t, "small", "2m");
  const available = (() => {
    const s = fs.statfsSync(small);
    return s.bavail * s.bsize;
  })();
  // Both releases hold a 4 MiB image.
  const image = fs.statSync(suite.rel.v1).size;
  assert.equal(image, 4 << 20);
  const mib = (n: number): string => `${(n / (1 << 20)).toFixed(1)} MiB`;
  await failsEarly(
    `not enough free space in ${small} for the scratch files: the images extracted from the Artifacts need at least ${2 * image} bytes ` +
      `(${mib(2 * image)}: FROM ${image} + TO ${image}), the file system has ${available} bytes (${mib(available)}) available; the scratch files are made ` +
      "beside the output, so give -o a path on a file system with more room, or give the images with --from-image/--to-image (read where they are)",
    { output: path.join(small, "d.mender") }, suite.rel.r1, suite.rel.r2,
  );
  assert.deepEqual(fs.readdirSync(small), [], "no scratch directory made");
});

test("an input that is not an Artifact: a raw image, random bytes, a text file", async (t) => {
  if (!usable(t)) return;
  const out = path.join(suite.work, "na", "d.mender");
  fs.mkdirSync(path.dirname(out));
  const random = path.join(suite.work, "random.bin");
  fs.writeFileSync(random, Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24));
  const notes = path.join(suite.work, "notes.txt");
  fs.writeFileSync(notes, "hello\n");
  const hint = (side: "FROM" | "TO"): string => `give a rootfs-image Artifact, or a raw filesystem image with ${side === "FROM" ? "--from-image" : "--to-image"}`;
  await failsEarly(
    `FROM ${suite.rel.v1} is not a Mender Artifact (it starts with a block of zeros, as a disk or filesystem image does); ${hint("FROM")}`,
    { output: out }, suite.rel.v1, suite.rel.r2,
  );
  await failsEarly(`TO ${random} is not a Mender Artifact (its first 512 bytes are not a tar header); ${hint("TO")}`, { output: out }, suite.rel.r1, random);
  await failsEarly(
    `TO ${notes} is not a Mender Artifact (it is 6 bytes long, less than one tar header, and does not start like an Artifact); ${hint("TO")}`,
    { output: out }, suite.rel.r1, notes,
  );
  // A real Artifact cut short is still reported as truncated.
  const cut = path.join(suite.work, "cut.mender");
  fs.writeFileSync(cut, fs.readFileSync(suite.rel.r2).subarray(0, 300));
  await assert.rejects(generateDelta(resolveOptions({ output: out }, [suite.rel.r1, cut])), /cut\.mender is truncated/);
  assert.deepEqual(fs.readdirSync(path.dirname(out)), []);
});
