/**
 * Our decoder against stock `xdelta3 -e` (Debian 3.0.11) output: a flag matrix on generated images,
 * without and with DJW secondary compression (the LZMA runs are in decode-lzma.test.ts), plus the
 * `@ably/vcdiff-decoder` oracle on the plain profile and 1-byte / random chunking of the delta.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { decode as ablyDecode } from "@ably/vcdiff-decoder";
import { needTools } from "../helpers/peers";
import { assertSameBytes, countCompressedWindows, decodeBuffers, makeImage, mutateImage, scratchDir, xdelta3Encode, XDELTA3_FLAG_MATRIX } from "./helpers";

const OLD = makeImage(1, 1_500_000);
const NEW = mutateImage(OLD, 2);
const EMPTY = new Uint8Array(0);

const same = assertSameBytes;

// The flag matrix, each entry combined with `-S none`, `-S djw` and `-S djw9`.
for (const secondary of ["none", "djw", "djw9"]) {
  test(`stock xdelta3 -e flag matrix, -S ${secondary}: byte-exact`, async (t) => {
    if (!needTools(t, "xdelta3")) return;
    const dir = scratchDir("matrix");
    let compressed = 0;
    for (const flags of XDELTA3_FLAG_MATRIX) {
      const delta = xdelta3Encode(dir, OLD, NEW, [...flags, "-S", secondary]);
      compressed += countCompressedWindows(delta).compressed;
      same(await decodeBuffers(delta, OLD), NEW);
    }
    if (secondary !== "none") assert.ok(compressed > 0, "the matrix must exercise DJW-compressed sections");
  });
}

test("inputs without a source (multi-table DJW with djw9), empty and identical targets", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("edge");
  const zeros = new Uint8Array(300_000);
  for (const secondary of ["none", "djw", "djw9"]) {
    const cases: [Uint8Array | null, Uint8Array][] = [
      [null, NEW], // compression only: target copies and runs
      [null, zeros],
      [OLD, EMPTY],
      [EMPTY, NEW.subarray(0, 100_000)],
      [OLD, OLD], // identical: one COPY per window
    ];
    for (const [source, target] of cases) {
      for (const w of [[], ["-W", "16384"]]) {
        const delta = xdelta3Encode(dir, source, target, [...w, "-S", secondary]);
        same(await decodeBuffers(delta, source ?? EMPTY), target);
      }
    }
  }
});

test("@ably/vcdiff-decoder agrees on the plain profile (-n -A= -S none)", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("ably");
  for (const flags of [[], ["-W", "16384"], ["-9"], ["-N"]]) {
    const delta = xdelta3Encode(dir, OLD, NEW, [...flags, "-n", "-A=", "-S", "none"]);
    // The oracle ignores indicator bits it does not know: make sure it is in its profile.
    assert.equal(delta[4], 0, "header indicator must be 0 for the oracle");
    const oracle = ablyDecode(delta, OLD);
    same(oracle, NEW);
    same(await decodeBuffers(delta, OLD), oracle);
  }
});

test("1-byte and random chunking of the delta give identical results", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("chunks");
  for (const flags of [["-S", "none"], ["-S", "djw"], ["-W", "16384", "-S", "none"]]) {
    const delta = xdelta3Encode(dir, OLD, NEW, flags);
    same(await decodeBuffers(delta, OLD, { chunking: "bytes" }), NEW);
    for (const seed of [1, 2, 3]) same(await decodeBuffers(delta, OLD, { chunking: { randomSeed: seed, max: 9000 } }), NEW);
  }
});

test("the source's block size (the decoder's longest read) does not change the result", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("cache");
  const delta = xdelta3Encode(dir, OLD, NEW, ["-S", "none", "-W", "65536"]);
  for (const blockSize of [4096, 16384, 65536, 1 << 20]) same(await decodeBuffers(delta, OLD, { blockSize }), NEW);
});

test("onWindow reports every window in order", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("progress");
  const delta = xdelta3Encode(dir, OLD, NEW, ["-S", "none", "-W", "16384"]);
  const seen: { index: number; targetOffset: number; targetLength: number }[] = [];
  await decodeBuffers(delta, OLD, { onWindow: (w) => seen.push(w) });
  assert.equal(seen.length, Math.ceil(NEW.length / 16384));
  let offset = 0;
  seen.forEach((w, i) => {
    assert.equal(w.index, i);
    assert.equal(w.targetOffset, offset);
    offset += w.targetLength;
  });
  assert.equal(offset, NEW.length);
});
