/**
 * The content-defined anchor hash (zstd LDM style): a 32-bit gear hash `h = (h << 1) + GEAR[byte]`.
 * Bit i of h depends only on the last i + 1 bytes, so anchors are chosen on the *top* bits, which
 * depend on the last 32 bytes: the same 32 bytes give the same anchor wherever they sit, in the
 * source or in the target.
 */

/** Bytes a hash value depends on. */
export const GEAR_SPAN = 32;

/** 256 fixed pseudo-random 32-bit values (splitmix32 from a constant seed: builds must agree). */
export const GEAR = new Int32Array(256);
(function fillGear(): void {
  let s = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    GEAR[i] = z ^ (z >>> 16);
  }
})();

/** The hash after at least GEAR_SPAN zero bytes, whatever came before (zero blocks are skipped). */
export const GEAR_AFTER_ZEROS = (() => {
  let h = 0;
  for (let i = 0; i < GEAR_SPAN; i++) h = ((h << 1) + GEAR[0]!) | 0;
  return h;
})();

/** Bucket of an anchor hash in a table of 2^bits buckets (mixes all bits, the low ones are weak). */
export function anchorBucket(h: number, bits: number): number {
  return Math.imul(h, 0x9e3779b1) >>> (32 - bits);
}
