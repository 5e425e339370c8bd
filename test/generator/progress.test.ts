/**
 * Progress and machine-readable output of the generator: with stderr piped (a CI log), one plain
 * line per 10 % of every phase, the writing phase included; none with --quiet/--no-progress; with
 * --json, stdout holds only JSON, on success and on failure.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { writeArtifact } from "../../src/artifact";
import { createProgress, phase, progressLine } from "../../src/generator";
import { runCli, releaseSuite } from "./fixtures";

const suite = releaseSuite("mbd-gen-progress-", ["mender-artifact", "mke2fs"]);
const usable = (t: import("node:test").TestContext): boolean => suite.usable(t);

const PHASES = ["reading FROM", "reading TO", "encoding", "writing"];
/** Every line a completed run prints on a pipe: each phase at 0, 10, ..., 100 %. */
const ALL_LINES = PHASES.flatMap((label) => Array.from({ length: 11 }, (_, k) => progressLine(label, k * 10))).join("");

let runs = 0;
function outputPath(): string {
  const dir = path.join(suite.work, `run-${++runs}`);
  fs.mkdirSync(dir);
  return path.join(dir, "delta.mender");
}

test("stderr piped: a line per 10 % of each phase (reading FROM, reading TO, encoding, writing), in order", (t) => {
  if (!usable(t)) return;
  // Two 1 MiB windows and xz level 0 keep it quick; xz is the default compression and the writing phase measured.
  const r = runCli(["-D", "-W1048576", "--compression-level", "0", "-o", outputPath(), suite.rel.r1, suite.rel.r2]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, ALL_LINES);
  assert.match(r.stderr, /^writing {2}40%$/m, "the format docs/generator.md shows");
  assert.match(r.stdout, /^wrote /m, "the text summary on stdout");
});

test("--json: stdout is exactly the JSON summary, progress lines still on stderr", (t) => {
  if (!usable(t)) return;
  const out = outputPath();
  const r = runCli(["--json", "-o", out, suite.rel.r1, suite.rel.r2]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).output, out);
  assert.equal(r.stderr, ALL_LINES);
});

test("--quiet and --no-progress: nothing on stderr", (t) => {
  if (!usable(t)) return;
  for (const flag of ["--quiet", "-q", "--no-progress"]) {
    const r = runCli([flag, "--json", "-o", outputPath(), suite.rel.r1, suite.rel.r2]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "", flag);
    assert.ok(JSON.parse(r.stdout).artifactSize > 0);
  }
});

test("--json failures: one JSON object {error, exitCode} on stdout, the usual line on stderr", (t) => {
  if (!usable(t)) return;
  const notes = path.join(suite.work, "notes.txt");
  fs.writeFileSync(notes, "release notes\n".repeat(100));
  const out = outputPath();
  const r = runCli(["--json", "-o", out, notes, suite.rel.r2]);
  const message =
    `FROM ${notes} is not a Mender Artifact (its first 512 bytes are not a tar header); ` +
    "give a rootfs-image Artifact, or a raw filesystem image with --from-image";
  assert.equal(r.status, 1);
  assert.deepEqual(JSON.parse(r.stdout), { error: message, exitCode: 1 });
  assert.equal(r.stderr, `mender-binary-delta-generator: error: ${message}\n`, "no progress line: nothing heavy started");
  assert.deepEqual(fs.readdirSync(path.dirname(out)), []);

  const usage = runCli(["--json", "--frobnicate", "-o", out, suite.rel.r1, suite.rel.r2]);
  assert.equal(usage.status, 2);
  assert.deepEqual(JSON.parse(usage.stdout), { error: "unknown option '--frobnicate'", exitCode: 2 });
  // Without --json stdout stays empty on failure, as before.
  const plain = runCli(["-o", out, notes, suite.rel.r2]);
  assert.equal(plain.status, 1);
  assert.equal(plain.stdout, "");
  // A --json after "--" is an encoder flag, not a request for JSON.
  assert.equal(runCli(["-o", out, notes, suite.rel.r2, "--", "--", "--json"]).stdout, "");
});

/** A stream that records what is written and says it is not a terminal. */
function pipe(): { stream: NodeJS.WriteStream; text(): string } {
  let text = "";
  const stream = { isTTY: false, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

test("line progress: a failed phase never claims 100 %; a phase of unknown size prints its name once", async () => {
  const p = pipe();
  const progress = createProgress(p.stream, true);
  await assert.rejects(
    phase(progress, "encoding", 1000, async () => {
      progress.advance(250);
      progress.advance(1000); // counted past the total: still not 100 % until the phase completes
      throw new Error("disk full");
    }),
    /disk full/,
  );
  assert.equal(p.text(), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90].map((n) => progressLine("encoding", n)).join(""));
  const q = pipe();
  await phase(createProgress(q.stream, true), "reading", 0, async () => undefined);
  assert.equal(q.text(), "reading\n");
  const off = pipe();
  await phase(createProgress(off.stream, false), "encoding", 10, async () => undefined);
  assert.equal(off.text(), "");
});

test("writeArtifact reports the payload bytes as the compressor takes them, chunk by chunk, up to the payload's size", async (t) => {
  if (!usable(t)) return;
  const size = fs.statSync(suite.rel.v2).size;
  const seen: number[] = [];
  const out = path.join(suite.work, "progress.mender");
  const written = await writeArtifact(
    out,
    { artifactName: "p", deviceTypes: ["d"], compression: "xz", compressionLevel: 0, payload: { type: "rootfs-image", files: [{ path: suite.rel.v2 }] } },
    { onPayloadProgress: (bytes) => seen.push(bytes) },
  );
  assert.equal(seen.reduce((a, b) => a + b, 0), size);
  assert.ok(seen.length >= 4, `a 4 MiB payload in several steps, got ${seen.length}`);
  assert.equal(written.payloadFiles[0]!.size, size);
});
