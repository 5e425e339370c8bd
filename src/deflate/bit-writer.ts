/** Deflate's bit order: values are packed least significant bit first into a growing byte buffer. */
export class BitWriter {
  buf: Uint8Array;
  pos = 0;
  private bitBuf = 0;
  private bitLen = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(64, capacity));
  }

  /** Empties the writer for a new stream, keeping its buffer (grown to `capacity` if smaller). */
  reset(capacity: number): void {
    if (this.buf.length < capacity) this.buf = new Uint8Array(capacity);
    this.pos = 0;
    this.bitBuf = 0;
    this.bitLen = 0;
  }

  /** Bits not yet written (fewer than 8), for a caller that packs bits itself (then setBits). */
  get bits(): number {
    return this.bitBuf;
  }

  /** How many bits `bits` holds. */
  get bitCount(): number {
    return this.bitLen;
  }

  /** Takes back the bits a caller packed itself (fewer than 8 left). */
  setBits(bits: number, count: number): void {
    this.bitBuf = bits;
    this.bitLen = count;
  }

  /** Room for `bytes` more bytes at `pos` (the buffer may be replaced). */
  reserve(bytes: number): void {
    if (this.pos + bytes > this.buf.length) this.grow(bytes);
  }

  /** Appends the low `length` (<= 16) bits of `value`. */
  send(value: number, length: number): void {
    let bb = this.bitBuf | (value << this.bitLen);
    let bc = this.bitLen + length;
    if (bc >= 8) {
      if (this.pos + 4 > this.buf.length) this.grow(4);
      const buf = this.buf;
      do {
        buf[this.pos++] = bb;
        bb >>>= 8;
        bc -= 8;
      } while (bc >= 8);
    }
    this.bitBuf = bb;
    this.bitLen = bc;
  }

  /** Pads to a byte boundary with zero bits. */
  alignToByte(): void {
    if (this.bitLen > 0) {
      if (this.pos + 1 > this.buf.length) this.grow(1);
      this.buf[this.pos++] = this.bitBuf;
    }
    this.bitBuf = 0;
    this.bitLen = 0;
  }

  /** Appends bytes; the writer must be byte-aligned. */
  bytes(src: Uint8Array, start: number, end: number): void {
    if (this.pos + (end - start) > this.buf.length) this.grow(end - start);
    this.buf.set(src.subarray(start, end), this.pos);
    this.pos += end - start;
  }

  private grow(need: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + need));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
}
