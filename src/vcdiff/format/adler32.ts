/**
 * zlib's Adler-32 (modulus 65521), the per-window checksum of xdelta3's VCD_ADLER32 extension:
 * computed over the reconstructed target window, initial value 1.
 *
 * The decoder checksums every byte it produces, so this is on the device's hot path: long inputs
 * go through WebAssembly SIMD (adler32-simd.ts) when the runtime has it. Otherwise the aligned
 * middle is read as 32-bit little-endian words (one load and one dependency step per 4 bytes, about
 * twice the speed of the byte loop). Sums stay below 2^31 between reductions, so V8 keeps them
 * small integers instead of doubles.
 */
import { createSimdAdler32 } from "./adler32-simd";

const MOD = 65521;
/** Bytes summed between reductions in the byte loop: b stays below 2^31 (zlib's 5552 is for 2^32). */
const NMAX = 3800;
/** Words between reductions: 65520 + 4k*65520 + 2040k^2 + 2550k < 2^31 for k = 500. */
const WORDS_PER_BLOCK = 500;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this length the call into wasm costs more than it saves. */
const SIMD_MIN_LENGTH = 256;
const simdAdler32 = createSimdAdler32();

function bytesLoop(data: Uint8Array, start: number, end: number, a: number, b: number): number {
  let i = start;
  while (i < end) {
    const stop = Math.min(end, i + NMAX);
    for (; i < stop; i++) {
      a += data[i]!;
      b += a;
    }
    a %= MOD;
    b %= MOD;
  }
  return b * 65536 + a;
}

export function adler32(data: Uint8Array, start = 0, end = data.length, initial = 1): number {
  if (simdAdler32 !== null && end - start >= SIMD_MIN_LENGTH) return simdAdler32.checksum(data, start, end, initial);
  return scalarAdler32(data, start, end, initial);
}

/**
 * A zeroed buffer of `size` bytes that adler32 sums where it is (in a wasm memory of its own when
 * the runtime has SIMD; otherwise a plain array). For the decoder's target window: it is summed
 * whole after every window.
 */
export function allocateChecksummed(size: number): Uint8Array<ArrayBuffer> {
  return simdAdler32?.allocate(size) ?? new Uint8Array(size);
}

/** The portable version (also the reference the SIMD one is tested against). */
export function scalarAdler32(data: Uint8Array, start = 0, end = data.length, initial = 1): number {
  let a = initial & 0xffff;
  let b = (initial >>> 16) & 0xffff;
  if (!LITTLE_ENDIAN || end - start < 64) return bytesLoop(data, start, end, a, b) >>> 0;
  // Unaligned head byte by byte, then whole words, then the tail.
  const head = Math.min(end, start + ((4 - ((data.byteOffset + start) & 3)) & 3));
  const ab = bytesLoop(data, start, head, a, b);
  a = ab % 65536;
  b = Math.floor(ab / 65536);
  const words = (end - head) >>> 2;
  const w = new Uint32Array(data.buffer, data.byteOffset + head, words);
  let k = 0;
  while (k < words) {
    const stop = Math.min(words, k + WORDS_PER_BLOCK);
    for (; k < stop; k++) {
      const x = w[k]!;
      const d0 = x & 255;
      const d1 = (x >>> 8) & 255;
      const d2 = (x >>> 16) & 255;
      const d3 = x >>> 24;
      b += 4 * a + 4 * d0 + 3 * d1 + 2 * d2 + d3;
      a += d0 + d1 + d2 + d3;
    }
    a %= MOD;
    b %= MOD;
  }
  return bytesLoop(data, head + words * 4, end, a, b) >>> 0;
}
