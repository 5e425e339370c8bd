/**
 * `mender-binary-delta apply` through the real CLI entry (src/cli/device.ts run by tsx, as
 * `npx tsx` does, without npm's seconds of start-up per call): exit codes, one-line messages, and no
 * half-written target when it fails.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { needTools } from "../helpers/peers";
import { buildReadSet, encodeReadSetAppHeader } from "../../src/vcdiff/format/read-set";
import { progressLine } from "../../src/progress";
import { makeImage, MemorySource, mutateImage, scratchDir, xdelta3Encode } from "./helpers";

const ROOT = path.resolve(__dirname, "..", "..");

/** What a completed apply prints on a piped stderr: a line per 10 % of the new image. */
const APPLY_PROGRESS = Array.from({ length: 11 }, (_, k) => progressLine("applying", 10 * k)).join("");

function apply(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/device.ts", "apply", ...args], { cwd: ROOT, input, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("apply: success, stdin, wrong source, truncated delta, usage errors", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("apply");
  const old = makeImage(3, 400_000);
  const neu = mutateImage(old, 4);
  const oldFile = path.join(dir, "old.img");
  const deltaFile = path.join(dir, "delta");
  const target = path.join(dir, "new.img");
  fs.writeFileSync(oldFile, old);
  const delta = xdelta3Encode(dir, old, neu, ["-W", "65536"]); // stock: LZMA, adler32, app header
  fs.writeFileSync(deltaFile, delta);
  const leftovers = () => fs.readdirSync(dir).filter((f) => f.includes("tmp"));

  let r = apply(["--source", oldFile, "--delta", deltaFile, "--target", target]);
  assert.equal(r.status, 0, r.stderr);
  const windows = Math.ceil(neu.length / 65536);
  assert.match(r.stdout, new RegExp(`${neu.length} bytes written from ${windows} delta windows`));
  assert.ok(fs.readFileSync(target).equals(Buffer.from(neu)));
  assert.deepEqual(leftovers(), []);

  fs.rmSync(target);
  r = apply(["--source", oldFile, "--delta", "-", "--target", target], delta);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.readFileSync(target).equals(Buffer.from(neu)));

  // A named pipe (as `--delta <(...)` gives): opened once and read through (a second open would
  // wait for a writer that has gone).
  fs.rmSync(target);
  const fifo = path.join(dir, "delta.fifo");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  const piped = spawnSync("sh", ["-c", `timeout 60 cat '${deltaFile}' > '${fifo}' 2>/dev/null < /dev/null & exec "$@"`, "sh", process.execPath, "--import", "tsx", "src/cli/device.ts", "apply", "--source", oldFile, "--delta", fifo, "--target", target], { cwd: ROOT, encoding: "utf8" });
  assert.equal(piped.status, 0, piped.stderr);
  assert.ok(fs.readFileSync(target).equals(Buffer.from(neu)));

  // A wrong source (one byte changed): exit 3, the existing NEW is left as it was, no temp file.
  fs.writeFileSync(target, "previous content");
  const wrong = Buffer.from(old);
  wrong[200_000] = wrong[200_000]! ^ 0xff;
  const wrongFile = path.join(dir, "wrong.img");
  fs.writeFileSync(wrongFile, wrong);
  r = apply(["--source", wrongFile, "--delta", deltaFile, "--target", target]);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /^mender-binary-delta: error: target window checksum mismatch .*window \d+ .*the source partition differs from the image the delta was made from/);
  assert.equal(r.stderr.trim().split("\n").length, 1, "one line on stderr");
  assert.equal(fs.readFileSync(target, "utf8"), "previous content");
  assert.deepEqual(leftovers(), []);
  // --no-verify lets it through (what xdelta3 -d -n does): exit 0, different output.
  r = apply(["--source", wrongFile, "--delta", deltaFile, "--target", target, "--no-verify"]);
  assert.equal(r.status, 0, r.stderr);

  // A truncated delta: exit 1 with the reason, NEW untouched.
  fs.writeFileSync(target, "previous content");
  const cut = path.join(dir, "cut");
  fs.writeFileSync(cut, delta.subarray(0, delta.length - 10));
  r = apply(["--source", oldFile, "--delta", cut, "--target", target]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`invalid delta at (the header of )?window ${windows - 1}\\b.*truncated`));
  assert.equal(fs.readFileSync(target, "utf8"), "previous content");
  assert.deepEqual(leftovers(), []);

  // Files that do not exist, a window above the limit, and wrong command lines.
  r = apply(["--source", path.join(dir, "nope"), "--delta", deltaFile, "--target", target]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /source '.*nope' does not exist/);
  r = apply(["--source", oldFile, "--delta", path.join(dir, "nope"), "--target", target]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot open delta/);
  r = apply(["--source", oldFile, "--delta", deltaFile, "--target", target, "--max-window-size", "1000"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /exceeds the limit of 1000 bytes/);
  r = apply(["--source", oldFile, "--delta", deltaFile, "--target", oldFile]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--source and --target are the same/);
  assert.ok(fs.readFileSync(oldFile).equals(Buffer.from(old)), "the source is untouched");
  r = apply(["--source", oldFile, "--target", target]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /apply needs --delta/);
  r = apply(["--source", oldFile, "--delta", deltaFile, "--target", target, "--bogus"]);
  assert.equal(r.status, 2);
  assert.deepEqual(leftovers(), []);
});

test("apply: a delta with a read set is checked against --source before anything is written", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("apply-read-set");
  // The new image copies only from the first half of the old one: the second half is not read.
  const old = makeImage(5, 2 << 20);
  const neu = Buffer.concat([old.subarray(0, 1 << 20), makeImage(6, 30_000)]);
  const oldFile = path.join(dir, "old.img");
  const newFile = path.join(dir, "new.img");
  const deltaFile = path.join(dir, "delta");
  const target = path.join(dir, "out.img");
  fs.writeFileSync(oldFile, old);
  fs.writeFileSync(newFile, neu);
  const set = buildReadSet([[0, 1 << 20]], new MemorySource(old));
  const appHeader = Buffer.from(encodeReadSetAppHeader(set)).toString("latin1");
  const r0 = spawnSync("xdelta3", ["-e", "-f", `-A=${appHeader}`, "-s", oldFile, newFile, deltaFile], { encoding: "utf8" });
  assert.equal(r0.status, 0, r0.stderr);

  // Identical source: no note, only the progress lines (stderr is a pipe here).
  let r = apply(["--source", oldFile, "--delta", deltaFile, "--target", target]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, APPLY_PROGRESS);
  // --quiet / --no-progress: nothing at all.
  for (const flag of ["-q", "--quiet", "--no-progress"]) {
    r = apply([flag, "--source", oldFile, "--delta", deltaFile, "--target", target]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "", flag);
  }
  assert.ok(fs.readFileSync(target).equals(neu));

  // Changed outside what the delta reads: applied, with a note on stderr.
  const outside = Buffer.from(old);
  outside[(3 << 19) + 5]! ^= 1;
  fs.writeFileSync(oldFile, outside);
  r = apply(["--source", oldFile, "--delta", deltaFile, "--target", target]);
  assert.equal(r.status, 0, r.stderr);
  // The note comes before the progress lines.
  assert.match(r.stderr, /^mender-binary-delta: --source \S+ differs from the delta's source in 1 of 2 1 MiB chunks .* the 1 range \(1048576 bytes\) the delta reads is intact: applying\n(?!mender)/);
  assert.ok(r.stderr.endsWith(`intact: applying\n${APPLY_PROGRESS}`), r.stderr);
  assert.ok(fs.readFileSync(target).equals(neu));

  // Changed inside: exit 3 before anything is written, the old target stays.
  fs.writeFileSync(target, "previous content");
  outside[70_000]! ^= 1;
  fs.writeFileSync(oldFile, outside);
  r = apply(["--source", oldFile, "--delta", deltaFile, "--target", target]);
  assert.equal(r.status, 3, r.stderr);
  assert.match(
    r.stderr,
    /^mender-binary-delta: error: 1 of 1 ranges the delta reads changed on --source \S+ since the delta was made \(in 1 64 KiB chunk\): they belong to partition bytes 65536-131071; nothing was written\. Give the image/,
  );
  assert.equal(r.stderr.trim().split("\n").length, 1, "one line on stderr");
  assert.equal(fs.readFileSync(target, "utf8"), "previous content");
});
