/** Byte-exact round trips against the real xz CLI: presets, checks, blocks, streams, chunking. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { pipeline } from "node:stream/promises";
import { Readable, Writable } from "node:stream";
import { needTools } from "../helpers/peers.js";
import { XzDecoder, createXzDecompressStream } from "../../src/compress/xz.js";
import { decodeChunked, decodeWhole, mixedData, randomBytes, rng, xz } from "./xz-fixtures.js";

const MIXED = mixedData(600000, 7);

function assertSame(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `${what}: bytes differ`);
}

test("every preset -0 … -9 and -9e decodes byte-exact", (t) => {
  if (!needTools(t, "xz")) return;
  for (const preset of ["-0", "-1", "-2", "-3", "-4", "-5", "-6", "-7", "-8", "-9", "-9e", "-0e"]) {
    assertSame(decodeWhole(xz([preset], MIXED)), MIXED, `xz ${preset}`);
  }
});

test("every integrity check: none, crc32, crc64, sha256", (t) => {
  if (!needTools(t, "xz")) return;
  for (const check of ["none", "crc32", "crc64", "sha256"]) {
    assertSame(decodeWhole(xz(["-3", `--check=${check}`], MIXED)), MIXED, `--check=${check}`);
  }
});

test("multi-block files (threaded with sizes in the headers, and single-threaded)", (t) => {
  if (!needTools(t, "xz")) return;
  assertSame(decodeWhole(xz(["-T2", "--block-size=100KiB", "-1"], MIXED)), MIXED, "-T2 --block-size");
  assertSame(decodeWhole(xz(["-T1", "--block-size=70000", "--check=sha256"], MIXED)), MIXED, "-T1 --block-size");
  assertSame(decodeWhole(xz(["--block-list=1000,50000,200000", "-2"], MIXED)), MIXED, "--block-list");
});

test("raw LZMA2 option variants (lc/lp/pb, dictionary sizes, match finders)", (t) => {
  if (!needTools(t, "xz")) return;
  for (const opts of ["lc=0,lp=0,pb=0", "lc=4,lp=0,pb=4", "lc=0,lp=4,pb=2", "lc=1,lp=3,pb=1", "preset=6,dict=4KiB", "preset=1,mf=hc3,mode=fast", "preset=9,nice=273,depth=512", "dict=6MiB,mf=bt2"]) {
    assertSame(decodeWhole(xz(["--format=xz", `--lzma2=${opts}`], MIXED)), MIXED, `--lzma2=${opts}`);
  }
});

test("concatenated streams with stream padding", (t) => {
  if (!needTools(t, "xz")) return;
  const a = MIXED.subarray(0, 300000);
  const b = MIXED.subarray(300000, 500000);
  const empty = xz(["-0"], new Uint8Array(0));
  const pad4 = new Uint8Array(4);
  const file = Buffer.concat([xz(["-6", "--check=crc32"], a), pad4, pad4, xz(["-1", "--check=sha256"], b), empty, pad4]);
  assertSame(decodeWhole(file), Buffer.concat([a, b]), "a.xz + padding + b.xz + empty.xz + padding");
  // The xz CLI agrees this is one valid file.
  assert.equal(Buffer.from(xzDecompress(file)).equals(Buffer.concat([a, b])), true);
});

test("empty, incompressible and a few MB of mixed data", (t) => {
  if (!needTools(t, "xz")) return;
  assertSame(decodeWhole(xz([], new Uint8Array(0))), new Uint8Array(0), "empty");
  const random = randomBytes(700000, 3);
  assertSame(decodeWhole(xz(["-6"], random)), random, "incompressible");
  const big = mixedData(3 << 20, 11);
  assertSame(decodeWhole(xz(["-6"], big)), big, "3 MiB mixed");
  const zeros = new Uint8Array(3 << 20);
  assertSame(decodeWhole(xz(["-9"], zeros)), zeros, "3 MiB of zeros (long matches, tiny input)");
});

test("1-byte and random chunking of input and output give identical results", (t) => {
  if (!needTools(t, "xz")) return;
  const data = MIXED.subarray(0, 200000);
  const file = Buffer.concat([xz(["-T2", "--block-size=50000", "-6", "--check=crc64"], data), new Uint8Array(4), xz(["-0"], data.subarray(0, 30000))]);
  const expected = Buffer.concat([data, data.subarray(0, 30000)]);
  assertSame(decodeChunked(file, () => 1, () => 1 << 16), expected, "1-byte input");
  assertSame(decodeChunked(file, () => 1 << 20, () => 1), expected, "1-byte output");
  for (const seed of [1, 2, 3]) {
    const r = rng(seed);
    assertSame(
      decodeChunked(file, () => 1 + Math.floor(r() * 3000), () => 1 + Math.floor(r() * 70000)),
      expected,
      `random chunks, seed ${seed}`,
    );
  }
});

test("createXzDecompressStream decodes a file through a pipeline with back-pressure", async (t) => {
  if (!needTools(t, "xz")) return;
  const data = mixedData(1 << 20, 5);
  const file = Buffer.concat([xz(["-9", "--check=sha256"], data), new Uint8Array(8), xz(["-0"], data.subarray(0, 1000))]);
  const expected = Buffer.concat([data, data.subarray(0, 1000)]);
  const pieces: Buffer[] = [];
  const slowSink = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      pieces.push(chunk);
      setImmediate(cb);
    },
  });
  await pipeline(Readable.from(chunksOf(file, 9000)), createXzDecompressStream(), slowSink);
  assertSame(Buffer.concat(pieces), expected, "pipeline");
  for (const p of pieces) assert.ok(p.length <= 64 * 1024, "output pieces stay small");

  // Tiny input pieces give tiny outputs: each is its own small buffer, not a view of 64 KiB.
  const small = data.subarray(0, 40000);
  const tiny: Buffer[] = [];
  await pipeline(Readable.from(chunksOf(xz(["-0"], small), 7)), createXzDecompressStream(), new Writable({ write: (c: Buffer, _e, cb) => (tiny.push(c), cb()) }));
  assertSame(Buffer.concat(tiny), small, "7-byte input pieces");
  assert.ok(tiny.every((p) => p.length >= 16 * 1024 || p.buffer.byteLength < 64 * 1024), "small outputs do not pin 64 KiB each");
});

function* chunksOf(b: Buffer, n: number): Generator<Buffer> {
  for (let at = 0; at < b.length; at += n) yield b.subarray(at, at + n);
}

function xzDecompress(file: Uint8Array): Buffer {
  return xz(["-d"], file);
}

test("memory is bounded by the dictionary, not by the output size", (t) => {
  if (!needTools(t, "xz")) return;
  // 48 MiB of output from a few KB of input with a 1 MiB dictionary.
  const total = 48 << 20;
  const file = xz(["--lzma2=preset=1,dict=1MiB"], new Uint8Array(total));
  assert.ok(file.length < 100000);
  const d = new XzDecoder();
  const out = new Uint8Array(1 << 20);
  const before = process.memoryUsage().arrayBuffers;
  let peak = 0;
  let produced = 0;
  d.push(file);
  for (;;) {
    const n = d.readInto(out, 0, out.length);
    if (n === 0) break;
    produced += n;
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
  }
  d.end();
  assert.equal(produced, total);
  assert.ok(peak < 4 << 20, `array buffers grew by ${(peak / 1048576).toFixed(1)} MiB decoding ${total >> 20} MiB`);
});
