/**
 * Adler-32 (SIMD when the runtime has it, and the scalar word-at-a-time version) against the
 * definition: every alignment, worst-case bytes (0xff), chunk boundaries, continuation.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { adler32, allocateChecksummed, scalarAdler32 } from "../../src/vcdiff/format/adler32";
import { createSimdAdler32, SIMD_CHUNK } from "../../src/vcdiff/format/adler32-simd";
import { Rng } from "./helpers";

function naive(d: Uint8Array, start: number, end: number): number {
  let a = 1;
  let b = 0;
  for (let i = start; i < end; i++) {
    a = (a + d[i]!) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

test("adler32 matches the definition at every alignment and length, incl. all-0xff input", () => {
  const rng = new Rng(77);
  for (const data of [rng.bytes(200_000), new Uint8Array(200_000).fill(0xff)]) {
    for (let t = 0; t < 200; t++) {
      const start = rng.below(64);
      const end = start + (t < 100 ? rng.below(130) : rng.below(data.length - 64));
      assert.equal(adler32(data, start, end), naive(data, start, end), `range ${start}..${end}`);
      assert.equal(adler32(data.subarray(start, end)), naive(data, start, end));
      assert.equal(scalarAdler32(data, start, end), naive(data, start, end));
    }
  }
});

test("SIMD Adler-32: available on this runtime, exact at block, NMAX and chunk boundaries, continues a sum", () => {
  const created = createSimdAdler32();
  assert.ok(created, "Node 20+ on x86_64 has wasm SIMD");
  const simd = created.checksum;
  const rng = new Rng(78);
  for (const data of [rng.bytes(3 * SIMD_CHUNK + 100), new Uint8Array(3 * SIMD_CHUNK + 100).fill(0xff)]) {
    for (const n of [0, 1, 15, 16, 17, 31, 32, 33, 63, 5535, 5536, 5537, 5551, 5552, 5553, SIMD_CHUNK - 1, SIMD_CHUNK, SIMD_CHUNK + 1, data.length]) {
      assert.equal(simd(data, 0, n, 1), naive(data, 0, n), `length ${n}`);
    }
    const half = 100_001;
    assert.equal(simd(data, half, data.length, simd(data, 0, half, 1)), naive(data, 0, data.length));
  }
});

test("a checksummed buffer is summed in place: exact at every offset and length, and apart from other buffers", () => {
  const simd = createSimdAdler32();
  assert.ok(simd);
  const rng = new Rng(79);
  const size = 3 * SIMD_CHUNK + 1000;
  const first = simd.allocate(size);
  const second = simd.allocate(size);
  assert.ok(first && second);
  assert.equal(first.length, size);
  assert.ok(first.every((b) => b === 0), "zeroed");
  assert.notEqual(first.buffer, second.buffer, "each buffer has a memory of its own");
  const content = rng.bytes(size);
  first.set(content);
  second.set(content.slice(0, 5000).reverse()); // another buffer written: the first one keeps its bytes
  for (let t = 0; t < 100; t++) {
    const start = rng.below(size);
    const end = start + rng.below(size - start + 1);
    assert.equal(simd.checksum(first, start, end, 1), naive(content, start, end), `range ${start}..${end}`);
    // A view starting inside the memory (byteOffset) is summed at its own offset.
    const view = first.subarray(start, end);
    assert.equal(simd.checksum(view, 0, view.length, 1), naive(content, start, end));
  }
  const whole = naive(content, 0, size);
  assert.equal(simd.checksum(first, 0, size, 1), whole);
  first.fill(0xff);
  const ff = new Uint8Array(size).fill(0xff);
  assert.equal(simd.checksum(first, 0, size, 1), naive(ff, 0, size), "worst-case bytes, in place");
  // The same memory through adler32's entry, and its fallback shape.
  const buffer = allocateChecksummed(70_000);
  buffer.set(ff.subarray(0, 70_000));
  assert.equal(adler32(buffer), naive(ff, 0, 70_000));
  assert.equal(allocateChecksummed(0).length, 0);
});

test("a runtime that cannot reserve another wasm memory gets null from allocate (callers use a plain array), and sums as before", () => {
  const wasm = (globalThis as unknown as { WebAssembly: { Memory: unknown } }).WebAssembly;
  const RealMemory = wasm.Memory as new (d: { initial: number }) => unknown;
  let calls = 0;
  // The staging memory is created with the instance; later ones fail as on an exhausted address space.
  wasm.Memory = function (descriptor: { initial: number }) {
    if (calls++ > 0) throw new RangeError("WebAssembly.Memory(): could not allocate memory");
    return new RealMemory(descriptor);
  };
  try {
    const simd = createSimdAdler32();
    assert.ok(simd);
    assert.equal(simd.allocate(100_000), null);
    const data = new Rng(80).bytes(100_000);
    assert.equal(simd.checksum(data, 0, data.length, 1), naive(data, 0, data.length));
  } finally {
    wasm.Memory = RealMemory;
  }
});
