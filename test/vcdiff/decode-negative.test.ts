/**
 * Edge and negative vectors (bad file and window headers, bad instructions, wrong source or
 * checksum, truncations and byte flips): malformed or unsupported deltas end in a
 * MenderDeltaError that names the window and offset; never a hang, never another exception, never
 * a write past the declared target size.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MenderDeltaError } from "../../src/errors";
import { DeltaFormatError, SourceMismatchError } from "../../src/vcdiff/decoder/errors";
import { needTools } from "../helpers/peers";
import { countCompressedWindows, decodeBuffers, makeImage, mutateImage, Rng, scratchDir, xdelta3Encode } from "./helpers";
import { file, RFC_SOURCE, RFC_TARGET, rfcWindow, varint, window } from "./vectors";

const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

async function decodes(delta: Uint8Array, source: Uint8Array, expected: Uint8Array, options = {}): Promise<void> {
  const out = await decodeBuffers(delta, source, options);
  assert.deepEqual(Buffer.from(out), Buffer.from(expected));
}

async function fails(delta: Uint8Array, source: Uint8Array, pattern: RegExp, kind: Function = DeltaFormatError, options = {}): Promise<Error> {
  let caught: unknown;
  try {
    await decodeBuffers(delta, source, options);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof kind, `expected ${kind.name}, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  assert.match((caught as Error).message, pattern);
  return caught as Error;
}

test("valid edge vectors decode", async () => {
  await decodes(file([rfcWindow()]), RFC_SOURCE, RFC_TARGET);
  await decodes(file([rfcWindow({ checksumOf: RFC_TARGET })]), RFC_SOURCE, RFC_TARGET);
  // Application header (xdelta3's file names) is skipped.
  await decodes(file([rfcWindow()], [0x04, ...varint(11), ...bytes("tgt1//src1/")]), RFC_SOURCE, RFC_TARGET);
  // Empty window between two windows; ADD with explicit size 0; RUN 1000 without a source.
  const empty = window({ targetLength: 0, inst: [] });
  const add0 = window({ targetLength: 3, data: [...bytes("abc")], inst: [0x01, 0x00, 0x04] });
  const run = window({ targetLength: 1000, data: [0x7a], inst: [0x00, ...varint(1000)] });
  await decodes(file([add0, empty, run]), new Uint8Array(0), bytes("abc" + "z".repeat(1000)));
  // SELF copy then same-cache mode 6; HERE-mode overlapping copy with distance 1 and 2.
  const selfSame = window({ targetLength: 8, data: [...bytes("ABCD")], inst: [0x05, 0x74], addr: [0x00] });
  await decodes(file([selfSame]), new Uint8Array(0), bytes("ABCDABCD"));
  const period = window({ targetLength: 10, data: [...bytes("xy")], inst: [0x03, 0x28], addr: [0x02] });
  await decodes(file([period]), new Uint8Array(0), bytes("xyxyxyxyxy").subarray(0, 10));
  // VCD_SOURCE with an empty segment; COPY ending exactly at the end of the segment and the source.
  await decodes(file([window({ source: [0, 0], targetLength: 2, data: [...bytes("ab")], inst: [0x03] })]), RFC_SOURCE, bytes("ab"));
  await decodes(file([window({ source: [4, 12], targetLength: 4, inst: [0x14], addr: [0x00] })]), RFC_SOURCE, bytes("mnop"));
  // Non-minimal integer inside the instruction section is accepted (like xdelta3).
  await decodes(file([window({ targetLength: 3, data: [...bytes("abc")], inst: [0x01, 0x80, 0x03] })]), new Uint8Array(0), bytes("abc"));
  // Address caches are reset per window: window 1 stores address 4 in same[4]; window 2's same-mode
  // lookup of same[4] must read 0 (QRST), not 4 (UVWX).
  const w1 = window({ targetLength: 12, data: [...bytes("ABCDEFGH")], inst: [0x09, 0x14], addr: [0x04] });
  const w2 = window({ targetLength: 12, data: [...bytes("QRSTUVWX")], inst: [0x09, 0x74], addr: [0x04] });
  await decodes(file([w1, w2]), new Uint8Array(0), bytes("ABCDEFGHEFGHQRSTUVWXQRST"));
});

test("bad file headers", async () => {
  const src = RFC_SOURCE;
  await fails(Uint8Array.from([0xd6, 0xc3, 0xc5, 0, 0, ...rfcWindow()]), src, /delta byte 2: not a VCDIFF file/);
  await fails(Uint8Array.from([0xd6, 0xc3, 0xc4, 0x53, 0, ...rfcWindow()]), src, /unsupported.*version 83/);
  await fails(file([rfcWindow()], [0x02]), src, /code tables.*not supported/);
  await fails(file([rfcWindow()], [0x08]), src, /unrecognized header indicator bits/);
  await fails(file([rfcWindow()], [0x01, 0x03]), src, /unknown secondary compressor id 3/);
  await fails(file([rfcWindow()], [0x01, 0x10]), src, /FGK/);
  await fails(Uint8Array.from([0xd6, 0xc3]), src, /truncated/);
  await fails(new Uint8Array(0), src, /truncated|not a VCDIFF/);
});

test("bad window headers", async () => {
  const src = RFC_SOURCE;
  await fails(file([rfcWindow({ indicator: 0x09 })]), src, /window 0.*unrecognized window indicator bits/);
  await fails(file([rfcWindow({ indicator: 0x03 })]), src, /both VCD_SOURCE and VCD_TARGET/);
  await fails(file([rfcWindow({ indicator: 0x02 })]), src, /VCD_TARGET windows .* not supported/);
  await fails(file([rfcWindow({ deltaIndicator: 1 })]), src, /no secondary compressor/);
  await fails(file([rfcWindow({ encLengthDelta: 1 })]), src, /length of the delta encoding/);
  await fails(file([rfcWindow({ encLengthDelta: -1 })]), src, /length of the delta encoding/);
  // Non-minimal target window length (80 1c) in the window header: xdelta3's length check fails.
  const w = rfcWindow();
  const nonMinimal = [...w.slice(0, 4), 0x80, ...w.slice(4)];
  nonMinimal[3] = w[3]! + 1;
  await fails(file([nonMinimal]), src, /length of the delta encoding/);
  // Integer overflow: 6-byte size, size 2^32, offset >= 2^64.
  await fails(file([[0x00, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00]]), src, /window 0.*integer overflow/);
  await fails(file([[0x00, ...[0x90, 0x80, 0x80, 0x80, 0x00]]]), src, /integer overflow/);
  await fails(file([[0x01, 0x04, ...Array(10).fill(0xff), 0x7f]]), src, /integer overflow/);
  // Sections far larger than the window could need are refused before anything is allocated.
  const huge = window({ targetLength: 10, data: [], inst: [] });
  const hugeHeader = [huge[0]!, ...varint(1 + 1 + 4 + 1 + 1 + 200_000_000), 10, 0, ...varint(200_000_000), 0, 0];
  await fails(file([hugeHeader]), src, /sections of 200000000 bytes are implausibly large for a 10-byte window/);
  // ... and so are compressed sections that claim a huge decoded size.
  const bigClaim = window({ targetLength: 4, deltaIndicator: 1, data: [...varint(100_000_000), 1, 2, 3], inst: [0x05] });
  await fails(file([bigClaim], [0x01, 0x02]), src, /declares 100000000 decoded bytes, more than plausible/);
  // Window above the configured maximum.
  await fails(file([rfcWindow()]), src, /28 bytes exceeds the limit of 16 bytes/, DeltaFormatError, { maxWindowSize: 16 });
  // Second window is bad: the message names it.
  await fails(file([rfcWindow(), rfcWindow({ indicator: 0x02 })]), src, /window 1, delta byte 32/);
});

test("bad instructions", async () => {
  const none = new Uint8Array(0);
  // COPY address >= here.
  await fails(file([window({ targetLength: 8, data: [...bytes("ABCD")], inst: [0x05, 0x14], addr: [0x04] })]), none, /window 0.*target byte 4.*COPY address 4 .*not before the current position 4/);
  // COPY straddling the source/target boundary (4-byte segment, copy 8 from 2).
  await fails(file([window({ source: [4, 0], targetLength: 12, data: [...bytes("wxyz")], inst: [0x05, 0x18], addr: [0x02] })]), RFC_SOURCE, /straddles/);
  // Instruction writing past the target window.
  await fails(file([window({ targetLength: 3, data: [...bytes("abcd")], inst: [0x05] })]), none, /writes past the end of the 3-byte target window/);
  // Output shorter than declared.
  await fails(file([window({ targetLength: 5, data: [...bytes("abcd")], inst: [0x05] })]), none, /produce 4 bytes but the window declares 5/);
  // Extra data / address bytes.
  await fails(file([window({ targetLength: 3, data: [...bytes("abcd")], inst: [0x04] })]), none, /1 unused bytes left in the data section/);
  await fails(file([window({ targetLength: 8, data: [...bytes("ABCD")], inst: [0x05, 0x14], addr: [0x00, 0x00] })]), none, /unused bytes left in the address section/);
  // Instruction section ends inside a size; ADD past the data section; address section exhausted.
  await fails(file([window({ targetLength: 3, data: [...bytes("abc")], inst: [0x01, 0x83] })]), none, /ends inside an instruction size/);
  await fails(file([window({ targetLength: 3, data: [...bytes("ab")], inst: [0x04] })]), none, /runs past the end of the data section/);
  await fails(file([window({ targetLength: 8, data: [...bytes("ABCD")], inst: [0x05, 0x14] })]), none, /address section/);
});

test("wrong source, checksum and file structure", async () => {
  const good = file([rfcWindow({ checksumOf: RFC_TARGET })]);
  const wrongSource = RFC_SOURCE.slice();
  wrongSource[1] = wrongSource[1]! ^ 1;
  const err = await fails(good, wrongSource, /checksum mismatch.*source partition differs from the image the delta was made from/, SourceMismatchError);
  assert.equal((err as MenderDeltaError).exitCode, 3);
  // Without checksum verification the wrong byte goes through (what -n does in xdelta3).
  const out = await decodeBuffers(good, wrongSource, { verifyChecksums: false });
  assert.equal(out[1], RFC_TARGET[1]! ^ 1);
  await fails(good, RFC_SOURCE.subarray(0, 3), /source too short/, SourceMismatchError);
  const flipped = good.slice();
  flipped[14] = flipped[14]! ^ 0x10; // inside the 4 checksum bytes
  await fails(flipped, RFC_SOURCE, /checksum mismatch/, SourceMismatchError);
  // A window built from the delta's own bytes cannot be wrong because of the source: a corrupt delta (exit 1).
  const abcd = new Uint8Array(bytes("ABCD"));
  const ownBytes = window({ targetLength: 4, data: [...abcd], inst: [0x05], checksumOf: new Uint8Array(bytes("ABCE")) });
  const corrupt = await fails(file([ownBytes]), RFC_SOURCE, /target window checksum mismatch .* in a window that copies nothing from the source/, DeltaFormatError);
  assert.equal((corrupt as MenderDeltaError).exitCode, 1);
  await fails(file([]), RFC_SOURCE, /no window/);
  await fails(Uint8Array.from([...good, 0x00]), RFC_SOURCE, /window 1.*truncated/);
  await fails(Uint8Array.from([...good, 0xff]), RFC_SOURCE, /window 1.*unrecognized window indicator/);
});

/**
 * Every error must be a MenderDeltaError; a wrong output must never get through with checksums on.
 * A delta cut at a window boundary is a valid, shorter VCDIFF file: its output is a prefix.
 */
async function robust(delta: Uint8Array, source: Uint8Array, expected: Uint8Array): Promise<"ok" | "prefix" | "error"> {
  try {
    const out = Buffer.from(await decodeBuffers(delta, source));
    if (out.equals(Buffer.from(expected))) return "ok";
    assert.ok(out.equals(Buffer.from(expected.subarray(0, out.length))), "corrupt delta produced wrong output without an error");
    return "prefix";
  } catch (err) {
    if (!(err instanceof MenderDeltaError)) throw err;
    return "error";
  }
}

const OLD = makeImage(7, 60_000);
const NEW = mutateImage(OLD, 8, 10);

for (const secondary of ["none", "djw", "lzma"]) {
  test(`truncation at every byte offset and random byte flips, -S ${secondary}`, async (t) => {
    if (!needTools(t, "xdelta3")) return;
    const delta = xdelta3Encode(scratchDir("trunc"), OLD, NEW, ["-W", "16384", "-S", secondary]);
    assert.ok(delta.length < 20000, `delta of ${delta.length} bytes is too big for this test`);
    if (secondary !== "none") assert.ok(countCompressedWindows(delta).compressed > 0, `no ${secondary}-compressed section`);
    const windows = Math.ceil(NEW.length / 16384);
    let accepted = 0;
    for (let n = 0; n < delta.length; n++) {
      const outcome = await robust(delta.subarray(0, n), OLD, NEW);
      assert.notEqual(outcome, "ok", `prefix of ${n} bytes gave the whole target`);
      if (outcome === "prefix") accepted++;
    }
    assert.equal(accepted, windows - 1, "only cuts at window boundaries are valid files");
    assert.equal(await robust(delta, OLD, NEW), "ok");
    const rng = new Rng(12345);
    for (let i = 0; i < 1000; i++) {
      const bad = delta.slice();
      const flips = 1 + rng.below(3);
      for (let f = 0; f < flips; f++) {
        const at = rng.below(bad.length);
        bad[at] = bad[at]! ^ (1 << rng.below(8));
      }
      await robust(bad, OLD, NEW);
    }
  });
}
