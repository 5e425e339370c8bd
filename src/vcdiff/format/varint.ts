/**
 * VCDIFF integers (RFC 3284 §2): big-endian base 128, every byte but the last has bit 7 set. Always
 * the minimal encoding (xdelta3 recomputes header lengths from minimal sizes). Arithmetic uses
 * division, not `>>>`, so values above 2^32 (source positions) stay exact.
 */

/** Bytes of the minimal encoding of `value` (xdelta3 recomputes header lengths with these). */
export function varintLength(value: number): number {
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Writes `value` at buf[pos..] (room must exist); returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  const n = varintLength(value);
  for (let i = n - 1; i >= 0; i--) {
    buf[pos + i] = (value % 128) | (i === n - 1 ? 0 : 0x80);
    value = Math.floor(value / 128);
  }
  return pos + n;
}
