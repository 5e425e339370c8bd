/**
 * The LZMA range encoder, writing into a fixed buffer (one LZMA2 chunk: at most 64 KiB of
 * compressed bytes, so the caller checks `pending` and stops encoding long before the end).
 *
 * `low` is a 33-bit value (the carry lives in bit 32), kept as a double; `range` is a uint32.
 * Bytes equal to 0xFF are held back (`cache`, `cacheSize`) until the carry into them is known.
 */
const TOP = 1 << 24;
const TWO_32 = 4294967296;

export class RangeEncoder {
  readonly out: Uint8Array;
  outPos = 0;
  private low = 0;
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;

  constructor(capacity: number) {
    this.out = new Uint8Array(capacity);
  }

  /** Starts a new range-coded stream (LZMA2: every compressed chunk). */
  reset(): void {
    this.outPos = 0;
    this.low = 0;
    this.range = 0xffffffff;
    this.cache = 0;
    this.cacheSize = 1;
  }

  /** Bytes the stream will have once flushed: written + held back + the 5-byte flush (upper bound). */
  get pending(): number {
    return this.outPos + this.cacheSize + 5;
  }

  private shiftLow(): void {
    const low = this.low;
    if (low < 0xff000000 || low >= TWO_32) {
      const carry = low >= TWO_32 ? 1 : 0;
      let temp = this.cache;
      const out = this.out;
      do {
        out[this.outPos++] = (temp + carry) & 0xff;
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = (low >>> 24) & 0xff;
    }
    this.cacheSize++;
    this.low = (low % 0x1000000) * 256;
  }

  /** Codes `bit` with the adaptive probability probs[i] and updates it. */
  bit(probs: Uint16Array, i: number, bit: number): void {
    const prob = probs[i]!;
    const bound = (this.range >>> 11) * prob;
    if (bit === 0) {
      this.range = bound;
      probs[i] = prob + ((2048 - prob) >> 5);
    } else {
      this.low += bound;
      this.range -= bound;
      probs[i] = prob - (prob >> 5);
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.shiftLow();
    }
  }

  /** Codes the `count` low bits of `value`, most significant first, with a bit tree at probs[base]. */
  tree(probs: Uint16Array, base: number, count: number, value: number): void {
    let m = 1;
    for (let k = count - 1; k >= 0; k--) {
      const b = (value >>> k) & 1;
      this.bit(probs, base + m, b);
      m = (m << 1) | b;
    }
  }

  /** As `tree`, least significant bit first (distance footers and the align bits). */
  reverseTree(probs: Uint16Array, base: number, count: number, value: number): void {
    let m = 1;
    for (let k = 0; k < count; k++) {
      const b = (value >>> k) & 1;
      this.bit(probs, base + m, b);
      m = (m << 1) | b;
    }
  }

  /** Codes the `count` low bits of `value` with fixed probability one half. */
  direct(value: number, count: number): void {
    for (let k = count - 1; k >= 0; k--) {
      this.range >>>= 1;
      if ((value >>> k) & 1) this.low += this.range;
      while (this.range < TOP) {
        this.range = (this.range * 256) >>> 0;
        this.shiftLow();
      }
    }
  }

  /** Flushes the coder; `outPos` is then the stream's length. */
  finish(): void {
    for (let k = 0; k < 5; k++) this.shiftLow();
  }
}
