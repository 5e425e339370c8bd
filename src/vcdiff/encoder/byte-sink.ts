/** A growable byte buffer for building one window's sections; reused across windows. */
export class ByteSink {
  buf: Uint8Array;
  length = 0;

  constructor(capacity = 64 * 1024) {
    this.buf = new Uint8Array(capacity);
  }

  reset(): void {
    this.length = 0;
  }

  /** Makes room for `n` more bytes; returns the write position. */
  reserve(n: number): number {
    const need = this.length + n;
    if (need > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < need) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    return this.length;
  }

  byte(b: number): void {
    const p = this.reserve(1);
    this.buf[p] = b;
    this.length = p + 1;
  }

  bytes(src: Uint8Array, start: number, end: number): void {
    const p = this.reserve(end - start);
    this.buf.set(src.subarray(start, end), p);
    this.length = p + (end - start);
  }
}
