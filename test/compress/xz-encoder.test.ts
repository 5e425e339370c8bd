/**
 * The xz encoder: what it writes is read back byte-exact by the real xz CLI and by our decoder,
 * does not depend on how the input is split, stores incompressible chunks raw, sizes the
 * dictionary to the input, and compresses about as well as xz's own fast modes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { createXzCompressStream, XzEncoder, type XzEncoderOptions } from "../../src/compress/xz-encoder.js";
import { needTools } from "../helpers/peers.js";
import { decodeWhole, mixedData, randomBytes, rng, xz } from "./xz-fixtures.js";

function encode(data: Uint8Array, options: XzEncoderOptions = {}, piece = () => data.length): Buffer {
  const parts: Uint8Array[] = [];
  const enc = new XzEncoder(options, (b) => parts.push(b));
  for (let at = 0; at < data.length; ) {
    const n = Math.max(1, Math.min(piece(), data.length - at));
    enc.write(data.subarray(at, at + n));
    at += n;
  }
  enc.end();
  return Buffer.concat(parts);
}

/** The real xz checks the file (-t covers headers, index, CRC64) and decompresses it. */
function xzDecode(file: Uint8Array): Buffer {
  const r = spawnSync("xz", ["-dc"], { input: file, maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, `xz -d rejected our output: ${r.stderr}`);
  return r.stdout;
}

/** The dictionary size the stream declares, as `xz --list` reports it. */
function declaredDictionary(file: Uint8Array): number {
  const r = spawnSync("sh", ["-c", "f=$(mktemp); cat > $f; xz --robot --list -vv $f; rm -f $f"], { input: file, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const block = r.stdout.split("\n").find((l) => l.startsWith("block\t"));
  const m = /--lzma2=dict=(\d+)(KiB|MiB)?/.exec(r.stdout) ?? /dict=(\d+)(KiB|MiB)/.exec(block ?? "");
  assert.ok(m, `no dictionary in xz --list output: ${r.stdout}`);
  return Number(m[1]) * (m[2] === "MiB" ? 1 << 20 : m[2] === "KiB" ? 1024 : 1);
}

const CASES: Array<[string, () => Uint8Array]> = [
  ["empty", () => new Uint8Array(0)],
  ["one byte", () => Uint8Array.of(42)],
  ["mixed text, random runs, repeats (3 MiB)", () => mixedData(3 << 20, 7)],
  ["random (incompressible, stored raw), 300 KiB", () => randomBytes(300 << 10, 3)],
  ["zeros (2 MiB chunks of maximal matches), 5 MiB", () => new Uint8Array(5 << 20)],
  ["random and text alternating by 300 KiB (raw chunks, then state resets mid-plan), 2.4 MiB", () => alternating(2400 << 10, 300 << 10)],
];

function alternating(size: number, run: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0, k = 0; at < size; at += run, k++) {
    out.set((k % 2 === 0 ? randomBytes : mixedData)(Math.min(run, size - at), 100 + k).subarray(0, Math.min(run, size - at)), at);
  }
  return out;
}

for (const [name, make] of CASES) for (const mode of ["normal", "fast"] as const) {
  test(`xz encoder round trip (${mode} parser): ${name}`, (t) => {
    if (!needTools(t, "xz")) return;
    const data = make();
    const file = encode(data, { mode });
    assert.ok(xzDecode(file).equals(data), "xz -d output differs from the input");
    assert.ok(decodeWhole(file).equals(data), "our decoder's output differs from the input");
    // Stored raw, a chunk costs 3 bytes per 64 KiB: incompressible input barely grows.
    assert.ok(file.length <= data.length + 3 * Math.ceil(data.length / 65536) + 64, `${data.length} B became ${file.length} B`);
  });
}

for (const mode of ["normal", "fast"] as const) {
  test(`xz encoder (${mode} parser): the output does not depend on how the input is split`, () => {
    const data = mixedData(2500 << 10, 11);
    const whole = encode(data, { mode });
    const r = rng(5);
    const pieces = encode(data, { mode }, () => 1 + Math.floor(r() * 70000));
    const bytes = encode(data, { mode }, () => 1 + Math.floor(r() * 300));
    assert.ok(pieces.equals(whole), "random pieces up to 70 KB changed the output");
    assert.ok(bytes.equals(whole), "pieces of a few bytes changed the output");
  });
}

test("xz encoder: a dictionary smaller than the input (the window slides), read back by xz", (t) => {
  if (!needTools(t, "xz")) return;
  // Repeats of a 64 KiB block 1 MiB apart: out of reach for a 256 KiB dictionary, so those
  // distances must never be used, while the window slides past the 6 MiB it holds.
  const block = mixedData(64 << 10, 2);
  const data = new Uint8Array(9 << 20);
  for (let at = 0; at < data.length; at += 1 << 20) data.set(block, at);
  data.set(randomBytes(128 << 10, 9), 3 << 20);
  const file = encode(data, { dictSize: 256 << 10 });
  assert.equal(declaredDictionary(file), 256 << 10);
  assert.ok(xzDecode(file).equals(data));
  assert.ok(decodeWhole(file, { maxDictionarySize: 256 << 10 }).equals(data));
});

test("xz encoder: the dictionary is sized to the expected input, capped at 64 MiB", (t) => {
  if (!needTools(t, "xz")) return;
  const data = mixedData(100 << 10, 4);
  assert.equal(declaredDictionary(encode(data, { sizeHint: data.length })), 128 << 10);
  assert.equal(declaredDictionary(encode(data, { sizeHint: 5 << 20 })), 6 << 20);
  assert.equal(declaredDictionary(encode(data, { sizeHint: 1 << 30 })), 64 << 20);
  assert.equal(declaredDictionary(encode(data)), 64 << 20);
});

test("xz encoder: the optimal parser compresses like xz -6 (normal mode), the fast one like xz -3, both far below gzip -9", (t) => {
  if (!needTools(t, "xz", "gzip")) return;
  const data = mixedData(2 << 20, 13);
  const normal = encode(data, { sizeHint: data.length }).length;
  const fast = encode(data, { sizeHint: data.length, mode: "fast" }).length;
  const xz6 = xz(["-6"], data).length;
  const xz3 = xz(["-3"], data).length;
  const gz = spawnSync("gzip", ["-9c"], { input: data, maxBuffer: 1 << 30 }).stdout.length;
  t.diagnostic(`normal ${normal} B (${(normal / xz6).toFixed(3)}x xz -6 ${xz6} B), fast ${fast} B (${(fast / xz3).toFixed(3)}x xz -3 ${xz3} B), gzip -9 ${gz} B`);
  assert.ok(normal <= xz6 * 1.03, `normal: ${normal} B is more than 3% above xz -6's ${xz6} B`);
  assert.ok(fast <= xz3 * 1.05, `fast: ${fast} B is more than 5% above xz -3's ${xz3} B`);
  assert.ok(normal < fast, "the optimal parser is not smaller than the fast one");
  assert.ok(fast < gz * 0.5, `fast: ${fast} B is not half of gzip -9's ${gz} B`);
});

test("createXzCompressStream: a Transform whose output xz reads back", async (t) => {
  if (!needTools(t, "xz")) return;
  const data = mixedData(700 << 10, 21);
  const stream = createXzCompressStream({ sizeHint: data.length });
  const out: Buffer[] = [];
  stream.on("data", (b: Buffer) => out.push(b));
  const done = new Promise((resolve, reject) => stream.on("end", resolve).on("error", reject));
  for (let at = 0; at < data.length; at += 50000) stream.write(data.subarray(at, at + 50000));
  stream.end();
  await done;
  assert.ok(xzDecode(Buffer.concat(out)).equals(data));
});

test("xz encoder: 300 generated inputs (0-70 KB, both parsers, dictionaries 4-64 KiB) decode back exactly", () => {
  const r = rng(99);
  for (let n = 0; n < 300; n++) {
    const size = Math.floor(r() ** 2 * 70000);
    const kind = n % 3;
    const data = kind === 0 ? mixedData(size, 1000 + n) : kind === 1 ? randomBytes(size, 2000 + n) : alternating(size, 1 + Math.floor(r() * 5000));
    const mode = n % 2 === 0 ? "normal" : "fast";
    const dictSize = 4096 << Math.floor(r() * 5);
    const file = encode(data, { mode, dictSize, niceLen: 8 + Math.floor(r() * 266) }, () => 1 + Math.floor(r() * 9000));
    const back = decodeWhole(file);
    if (!back.equals(data)) assert.fail(`input ${n} (${size} B, ${mode}, dictionary ${dictSize}) did not decode back`);
  }
});
