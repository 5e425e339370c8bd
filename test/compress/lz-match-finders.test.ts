/**
 * The match finders on their own: every match they report is real (the bytes agree, within the
 * dictionary), lengths grow, and the binary tree's rebasing of stored positions (which happens
 * after ~4 GiB of input) changes nothing it finds.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BinaryTreeFinder } from "../../src/compress/lz-binary-tree.js";
import { HashChainFinder } from "../../src/compress/lz-hash-chain.js";
import { IN_PLACE_PADDING, spareTableBytes, type MatchFinder, type MatchFinderOptions } from "../../src/compress/lz-match-finder.js";
import { xzSize } from "../../src/compress/xz-size.js";
import { Lzma2Encoder } from "../../src/compress/lzma2-encoder.js";
import { encodeXzPart } from "../../src/compress/xz-part.js";
import { mixedData } from "./xz-fixtures.js";

const OPTIONS: MatchFinderOptions = { dictSize: 128 << 10, keepExtra: 0, niceLen: 64, depth: 32 };

/** Feeds data through the finder, looking up every position; returns a digest of all matches and checks each. */
function walk(mf: MatchFinder, data: Uint8Array, dictSize: number): { matches: number; digest: number } {
  const lens = new Int32Array(274);
  const dists = new Int32Array(274);
  let matches = 0;
  let digest = 0;
  let fed = 0;
  for (let pos = 0; pos < data.length; pos++) {
    while (fed < data.length && mf.available < 300) fed += mf.append(data, fed, Math.min(data.length, fed + 65536));
    const count = mf.find(lens, dists);
    let last = 1;
    for (let k = 0; k < count; k++) {
      const len = lens[k]!;
      const dist = dists[k]! + 1;
      if (len <= last) assert.fail(`lengths must grow at ${pos}`);
      if (dist > dictSize || dist > pos || pos + len > data.length) assert.fail(`match at ${pos} (len ${len}, dist ${dist}) is out of reach`);
      for (let b = 0; b < len; b++) {
        if (data[pos - dist + b] !== data[pos + b]) assert.fail(`match at ${pos} (len ${len}, dist ${dist}) differs at +${b}`);
      }
      last = len;
      digest = (Math.imul(digest, 31) + len * 65599 + dist) | 0;
      matches++;
    }
  }
  return { matches, digest };
}

test("match finders: every reported match is real and within the dictionary (hash chain, binary tree)", () => {
  const data = mixedData(512 << 10, 17);
  for (const mf of [new HashChainFinder(OPTIONS), new BinaryTreeFinder(OPTIONS)]) {
    const r = walk(mf, data, OPTIONS.dictSize);
    assert.ok(r.matches > 5000, `${mf.constructor.name} found only ${r.matches} matches`);
  }
});

test("binary tree: rebasing stored positions (every 100 KiB here, every ~4 GiB in use) changes no match", () => {
  const data = mixedData(640 << 10, 23);
  const plain = walk(new BinaryTreeFinder(OPTIONS), data, OPTIONS.dictSize);
  const rebased = walk(new BinaryTreeFinder(OPTIONS, OPTIONS.dictSize + 1 + (100 << 10)), data, OPTIONS.dictSize);
  assert.equal(rebased.matches, plain.matches);
  assert.equal(rebased.digest, plain.digest);
});

test("a window sized to the expected input (or grown past it when more comes) finds what a full-size one does", () => {
  // 4.5 MiB: past the full window (128 KiB of history + 4 MiB), so the full-size one also slides.
  const data = mixedData(4400 << 10, 29);
  for (const make of [(o: MatchFinderOptions) => new HashChainFinder(o), (o: MatchFinderOptions) => new BinaryTreeFinder(o)]) {
    const full = walk(make(OPTIONS), data, OPTIONS.dictSize);
    for (const expectedInput of [300 << 10, data.length * 2]) {
      const sized = walk(make({ ...OPTIONS, expectedInput }), data, OPTIONS.dictSize);
      assert.deepEqual(sized, full, `${make(OPTIONS).constructor.name}, expecting ${expectedInput} bytes`);
    }
  }
});

test("LZMA2 output is the same whatever input size the encoder was told to expect", () => {
  const data = mixedData(3 << 20, 31);
  for (const mode of ["fast", "normal"] as const) {
    const encode = (expectedInput?: number): Buffer => {
      const parts: Uint8Array[] = [];
      const lzma2 = new Lzma2Encoder({ dictSize: 1 << 20, mode, expectedInput }, (bytes) => parts.push(bytes));
      for (let at = 0; at < data.length; at += 100_000) lzma2.write(data.subarray(at, Math.min(data.length, at + 100_000)));
      lzma2.end();
      return Buffer.concat(parts);
    };
    const reference = encode();
    for (const expectedInput of [data.length, 1000, 1 << 20]) assert.ok(encode(expectedInput).equals(reference), `${mode}, expecting ${expectedInput} bytes`);
  }
});

test("finished finders' spare tables stay bounded however many input sizes the estimates see", () => {
  // 24 sizes up to 9 MiB (of zeros, quick to compress): windows of many sizes, dictionaries up to 12 MiB.
  const data = new Uint8Array(9 << 20);
  for (let k = 1; k <= 24; k++) xzSize([data.subarray(0, Math.floor((data.length * k * k) / 576))]);
  assert.ok(spareTableBytes() > 0, "tables are kept for reuse");
  assert.ok(spareTableBytes() <= 32 << 20, `${spareTableBytes()} bytes of spare tables kept`);
});

test("an input given in place is the finder's window (nothing copied) and the finder reports the same matches; bad padding falls back to a window of its own", () => {
  const data = mixedData(200_000, 5);
  const padded = (fill: number): Uint8Array => {
    const input = new Uint8Array(new ArrayBuffer(data.length + IN_PLACE_PADDING), 0, data.length);
    input.set(data);
    new Uint8Array(input.buffer).fill(fill, data.length);
    return input;
  };
  const options = { ...OPTIONS, expectedInput: data.length };
  const reference = walk(new BinaryTreeFinder(options), data, OPTIONS.dictSize);
  const input = padded(0);
  const inPlace = new BinaryTreeFinder({ ...options, inPlace: input });
  assert.equal(inPlace.window.buffer, input.buffer, "the input is the window");
  assert.deepEqual(walk(inPlace, input, OPTIONS.dictSize), reference);
  assert.deepEqual(walk(new HashChainFinder({ ...options, inPlace: padded(0) }), data, OPTIONS.dictSize), walk(new HashChainFinder(options), data, OPTIONS.dictSize));
  // Not zeros after it, or no room for them: the finder copies into its own window, as without.
  const dirty = padded(7);
  const fallback = new BinaryTreeFinder({ ...options, inPlace: dirty });
  assert.notEqual(fallback.window.buffer, dirty.buffer);
  assert.deepEqual(walk(fallback, dirty, OPTIONS.dictSize), reference);
  assert.notEqual(new BinaryTreeFinder({ ...options, inPlace: data }).window.buffer, data.buffer);
});

test("encodeXzPart: the same LZMA2 bytes whether its input (history and part) is used in place or copied", () => {
  const data = mixedData(600_000, 6);
  const history = 200_000;
  const settings = { dictSize: 256 << 10, dictByte: 0 };
  const copied = encodeXzPart(data.slice(), history, settings);
  const input = new Uint8Array(new ArrayBuffer(data.length + IN_PLACE_PADDING), 0, data.length);
  input.set(data);
  assert.deepEqual(encodeXzPart(input, history, settings), copied);
  assert.deepEqual(input, data, "the input is left as it was");
});
