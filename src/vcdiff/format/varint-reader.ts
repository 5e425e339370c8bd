/**
 * VCDIFF integers (RFC 3284 §2: big-endian base 128, high bit = more bytes follow), read from a
 * byte range with xdelta3's limits: sizes fit 32 bits, offsets 64 bits (we stop at 2^53, the
 * largest exact JS integer; no source image is that large). Decoded with multiplication, never
 * `<<`, which would wrap at 2^31.
 *
 * The instruction executor inlines its own copy of `size()` for speed; this cursor serves headers.
 */

/** A varint could not be read; the caller turns it into an error that names the spot. */
export class VarintProblem extends Error {
  constructor(
    readonly kind: "truncated" | "overflow",
    readonly at: number,
  ) {
    super(kind === "truncated" ? "integer cut off by the end of the input" : "integer too large");
  }
}

/** Largest value before the final shift for a 32-bit size (xdelta3: `val & 0xFE000000` is an overflow). */
const SIZE_SHIFT_LIMIT = 0x2000000;
/** Keeps offsets below 2^53 (exact in a double). */
const OFFSET_SHIFT_LIMIT = 2 ** 46;

export class ByteCursor {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    public end: number,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  byte(): number {
    if (this.pos >= this.end) throw new VarintProblem("truncated", this.pos);
    return this.buf[this.pos++]!;
  }

  /** A 32-bit size (section lengths, window lengths, instruction sizes). */
  size(): number {
    return this.integer(SIZE_SHIFT_LIMIT);
  }

  /** A 64-bit offset (the source segment position), limited to 2^53. */
  offset(): number {
    return this.integer(OFFSET_SHIFT_LIMIT);
  }

  private integer(shiftLimit: number): number {
    const start = this.pos;
    let value = 0;
    for (;;) {
      if (this.pos >= this.end) throw new VarintProblem("truncated", start);
      const b = this.buf[this.pos++]!;
      if (value >= shiftLimit) throw new VarintProblem("overflow", start);
      value = value * 128 + (b & 0x7f);
      if (b < 0x80) return value;
    }
  }
}

