/**
 * Encoder round trips on the encoder's test vectors 1-11 (each test names what its vector covers; 12,
 * a real ext4 pair, is encode-ext4.test.ts): every delta is
 * decoded by stock `xdelta3 -d` and by our decoder (checksums on), and a checksum-free encoding of
 * the same pair by @ably/vcdiff-decoder. Files are small or sparse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { MenderDeltaError } from "../../src/errors";
import { encodeVcdiff, type EncodeOptions, type EncodeStats } from "../../src/vcdiff/encoder/encode";
import { needTools } from "../helpers/peers";
import { assertAblyDecodes, assertOurDecoderDecodes, assertXdelta3Decodes, rng, tempDir } from "./encode-oracles";

const KiB = 1024;
const MiB = 1024 * 1024;
const W = 64 * KiB; // the smallest window: many windows from small files

function random(seed: number, n: number): Buffer {
  const r = rng(seed);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  return b;
}

interface Pair { source: string; target: string }

function writePair(dir: string, name: string, source: Uint8Array, target: Uint8Array): Pair {
  const p = { source: path.join(dir, `${name}.old`), target: path.join(dir, `${name}.new`) };
  writeFileSync(p.source, source);
  writeFileSync(p.target, target);
  return p;
}

/** Encodes, checks both strict decoders, and (small pairs) ably on a checksum-free encoding. */
async function roundTrip(dir: string, pair: Pair, options: EncodeOptions = {}, ably = true): Promise<EncodeStats> {
  const delta = `${pair.target}.vcdiff`;
  const stats = await encodeVcdiff(pair.source, pair.target, delta, { threads: 1, ...options });
  assert.equal(statSync(delta).size, stats.deltaSize);
  const bytes = readFileSync(delta);
  assert.deepEqual([...bytes.subarray(0, 5)], [0xd6, 0xc3, 0xc4, 0x00, 0x00]);
  assertXdelta3Decodes(pair.source, delta, pair.target, path.join(dir, "out"));
  await assertOurDecoderDecodes(pair.source, delta, pair.target, path.join(dir, "out"));
  if (ably) {
    const plain = `${delta}.plain`;
    await encodeVcdiff(pair.source, pair.target, plain, { threads: 1, ...options, checksum: false });
    assertAblyDecodes(readFileSync(pair.source), readFileSync(plain), readFileSync(pair.target));
  }
  return stats;
}

test("vector 1: empty source and/or empty target", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const empty = new Uint8Array(0);
  const some = random(1, 5000);
  // Empty target: exactly one empty window carrying adler32 1.
  let s = await roundTrip(dir, writePair(dir, "ee", empty, empty));
  assert.deepEqual([...readFileSync(path.join(dir, "ee.new.vcdiff"))],
    [0xd6, 0xc3, 0xc4, 0, 0, 0x04, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(s.windows, 1);
  s = await roundTrip(dir, writePair(dir, "se", some, empty));
  assert.equal(s.deltaSize, 16);
  s = await roundTrip(dir, writePair(dir, "es", empty, Buffer.concat([some, some])));
  assert.equal(s.copiedFromSource, 0);
  assert.ok(s.copiedFromTarget >= 4990, "the repeat is a self-copy");
});

test("vector 2: identical images cost a few bytes per window", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const data = random(2, 3 * MiB + 123);
  const s = await roundTrip(dir, writePair(dir, "same", data, data), { windowSize: W });
  assert.equal(s.copiedFromSource, data.length);
  assert.equal(s.windows, 49);
  assert.ok(s.deltaSize <= 5 + 49 * 30, `delta ${s.deltaSize} bytes for ${s.windows} identical windows`);
});

test("vector 3: target sizes around the window size (W-1, W, W+1, 2W, 2W+1)", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const source = random(3, 3 * W);
  for (const n of [W - 1, W, W + 1, 2 * W, 2 * W + 1]) {
    // Mostly source content, shifted, with some new bytes: every window mixes ADD and COPY.
    const target = Buffer.concat([random(n, 100), source.subarray(7, n - 100 + 7)]);
    assert.equal(target.length, n);
    const s = await roundTrip(dir, writePair(dir, `w${n}`, source, target), { windowSize: W });
    assert.equal(s.windows, Math.ceil(n / W));
    assert.ok(s.addedBytes <= 200, `${s.addedBytes} bytes added for n=${n}`);
  }
  // And once with the default 8 MiB window.
  const big = random(33, 8 * MiB + 1);
  const s = await roundTrip(dir, writePair(dir, "w8m", big.subarray(1), big), {}, false);
  assert.equal(s.windows, 2);
  assert.ok(s.deltaSize < 100, `${s.deltaSize}`);
});

test("vector 4: a long source match crossing window boundaries is split per window", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const source = random(4, 1 * MiB);
  const target = Buffer.concat([random(40, 10_000), source.subarray(5000, 5000 + 600 * KiB), random(41, 3000)]);
  const s = await roundTrip(dir, writePair(dir, "cross", source, target), { windowSize: W });
  assert.equal(s.copiedFromSource, 600 * KiB);
  assert.ok(s.deltaSize < 13_000 + s.windows * 30, `${s.deltaSize}`);
});

test("vector 5: a 4 MiB block moved by more than 64 MiB costs almost nothing (xdelta3 -e misses it)", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const size = 96 * MiB;
  const block = random(5, 4 * MiB);
  const pair = { source: path.join(dir, "far.old"), target: path.join(dir, "far.new") };
  // Sparse files: the block sits at 88 MiB in the old image and at 8 MiB in the new one.
  for (const [file, at] of [[pair.source, 88 * MiB], [pair.target, 8 * MiB]] as const) {
    const fd = openSync(file, "w");
    ftruncateSync(fd, size);
    writeSync(fd, block, 0, block.length, at);
    closeSync(fd);
  }
  const s = await roundTrip(dir, pair, {}, false);
  assert.ok(s.deltaSize < 1000, `delta is ${s.deltaSize} bytes`);
  const x = spawnSync("xdelta3", ["-e", "-f", "-S", "none", "-s", pair.source, pair.target, path.join(dir, "x.vcdiff")]);
  assert.equal(x.status, 0);
  const xsize = statSync(path.join(dir, "x.vcdiff")).size;
  assert.ok(xsize > 4 * MiB, `stock xdelta3 found the move after all (${xsize} bytes)`);
});

test("vector 6: source segment far larger than the window, touching the source's last byte", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const source = random(6, 2 * MiB);
  const target = Buffer.concat([source.subarray(0, 1000), random(60, 500), source.subarray(source.length - 1000)]);
  const s = await roundTrip(dir, writePair(dir, "seg", source, target), { windowSize: W });
  assert.equal(s.copiedFromSource, 2000);
  const d = readFileSync(path.join(dir, "seg.new.vcdiff"));
  // Window header: VCD_SOURCE|VCD_ADLER32, segment length = the whole source, position 0.
  assert.equal(d[5], 0x05);
  assert.deepEqual([...d.subarray(6, 11)], [0x81, 0x80, 0x80, 0x00, 0x00]); // 2^21 = 81 80 80 00, then 0
});

test("vector 7: runs (32 = the shortest taken, 255, 1 MiB; at window edges; source-less; all-zero images)", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const parts = [Buffer.alloc(32, 7), random(70, 100), Buffer.alloc(255, 1), random(71, 100), Buffer.alloc(MiB, 0xaa)];
  const target = Buffer.concat([...parts, random(72, W - 33), Buffer.alloc(40, 5)]); // a run across a window edge
  let s = await roundTrip(dir, writePair(dir, "runs", new Uint8Array(0), target), { windowSize: W });
  assert.ok(s.runBytes >= 32 + 255 + MiB, `${s.runBytes}`);
  assert.ok(s.deltaSize < 400 + 200 + W + 17 * 30, `${s.deltaSize}`);
  const zeros = Buffer.alloc(4 * MiB);
  s = await roundTrip(dir, writePair(dir, "zeros", zeros, zeros));
  assert.ok(s.deltaSize < 40, `${s.deltaSize}`);
  s = await roundTrip(dir, writePair(dir, "zeros2", new Uint8Array(0), zeros));
  assert.ok(s.deltaSize < 40, `${s.deltaSize}`);
});

test("vector 8: overlapping self-copies (periods 1, 2, 3, 17) and 8 MiB from a short seed", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const seed = random(8, 17);
  const pieces: Buffer[] = [];
  for (const period of [2, 3, 17]) {
    const unit = seed.subarray(0, period);
    pieces.push(Buffer.concat(Array.from({ length: 5000 }, () => unit)), random(period, 50));
  }
  let s = await roundTrip(dir, writePair(dir, "overlap", new Uint8Array(0), Buffer.concat(pieces)));
  assert.ok(s.copiedFromTarget + s.runBytes > 3 * 5000 * 2, `${s.copiedFromTarget}`);
  assert.ok(s.deltaSize < 400, `${s.deltaSize}`);
  const unit = seed.subarray(0, 17);
  const big = Buffer.concat(Array.from({ length: Math.ceil((8 * MiB) / 17) }, () => unit)).subarray(0, 8 * MiB);
  s = await roundTrip(dir, writePair(dir, "seeded", new Uint8Array(0), big), {}, false);
  assert.ok(s.deltaSize < 100, `${s.deltaSize}`);
});

test("vector 11: a source larger than 2^31 bytes (sparse): segment positions beyond 2^31", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const size = 2 ** 31 + 8 * MiB;
  const far = random(11, MiB);
  const pair = { source: path.join(dir, "huge.old"), target: path.join(dir, "huge.new") };
  const fd = openSync(pair.source, "w");
  ftruncateSync(fd, size);
  writeSync(fd, far, 0, far.length, 2 ** 31 + 3 * MiB + 5);
  closeSync(fd);
  writeFileSync(pair.target, Buffer.concat([random(12, 1000), far, random(13, 1000)]));
  // Level 1 keeps the index small; ably cannot address 2^31 (see the spec), so it is left out.
  const s = await roundTrip(dir, pair, { level: 1 }, false);
  assert.equal(s.copiedFromSource, MiB);
  assert.ok(s.deltaSize < 2200, `${s.deltaSize}`);
});

test("bad options and missing files are MenderDeltaErrors that say what to do", async (t) => {
  const dir = tempDir(t);
  const pair = writePair(dir, "x", random(1, 100), random(2, 100));
  const out = path.join(dir, "d");
  for (const windowSize of [1000, 32 * MiB, 65 * KiB]) {
    await assert.rejects(encodeVcdiff(pair.source, pair.target, out, { windowSize }), (e: Error) =>
      e instanceof MenderDeltaError && /window size .* multiple of 4096/.test(e.message));
  }
  await assert.rejects(encodeVcdiff(pair.source, pair.target, out, { level: 0 }), MenderDeltaError);
  await assert.rejects(encodeVcdiff(path.join(dir, "missing"), pair.target, out), (e: Error) =>
    e instanceof MenderDeltaError && /cannot open the source .*ENOENT/.test(e.message));
  await assert.rejects(encodeVcdiff(pair.source, pair.target, path.join(dir, "no", "such", "dir")), (e: Error) =>
    e instanceof MenderDeltaError && /cannot create the delta file/.test(e.message));
  // A failure inside a worker thread comes back as a MenderDeltaError too (and stops the others).
  await assert.rejects(encodeVcdiff(pair.source, dir, out, { threads: 2 }), (e: Error) =>
    e instanceof MenderDeltaError && /EISDIR/.test(e.message));
});

test("a Writable output gets the same bytes as a file, and is ended", async (t) => {
  const dir = tempDir(t);
  const source = random(20, 300 * KiB);
  const pair = writePair(dir, "stream", source, Buffer.concat([source.subarray(1000), random(21, 5000), source.subarray(0, 1000)]));
  const file = path.join(dir, "file.vcdiff");
  await encodeVcdiff(pair.source, pair.target, file, { threads: 1, windowSize: W });
  const chunks: Buffer[] = [];
  const stream = new PassThrough({ highWaterMark: 16 });
  stream.on("data", (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve) => stream.on("end", resolve));
  const stats = await encodeVcdiff(pair.source, pair.target, stream, { threads: 2, windowSize: W });
  await ended;
  assert.ok(Buffer.concat(chunks).equals(readFileSync(file)));
  assert.equal(stats.deltaSize, statSync(file).size);
});
