/**
 * zlib's Adler-32 (modulus 65521), the per-window checksum of xdelta3's VCD_ADLER32 extension:
 * computed over the reconstructed target window, initial value 1.
 */
const MOD = 65521;
/**
 * Bytes summed between reductions. zlib's NMAX (5552) keeps the sums below 2^32; this smaller
 * bound keeps them below 2^31, so V8 keeps them small integers instead of doubles.
 */
const NMAX = 3800;

export function adler32(data: Uint8Array, start = 0, end = data.length, initial = 1): number {
  let a = initial & 0xffff;
  let b = (initial >>> 16) & 0xffff;
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
  return (b * 65536 + a) >>> 0;
}
