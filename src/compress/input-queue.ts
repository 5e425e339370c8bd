/**
 * The bytes pushed into a decoder (or the parallel xz writer) and not yet consumed: a FIFO of the
 * caller's arrays (kept by reference, never concatenated) with a read position in the first one.
 */
export class InputQueue {
  private parts: Uint8Array[] = [];
  private head = 0; // index of the first unconsumed part
  private pos = 0; // read position in parts[head]
  /** Bytes pushed and not yet consumed. */
  length = 0;
  /** Bytes consumed since the decoder started: the input offset of the next byte. */
  consumed = 0;

  push(input: Uint8Array): void {
    if (input.length === 0) return;
    this.parts.push(input);
    this.length += input.length;
  }

  /** The byte `ahead` positions after the read position (must be < length). */
  peek(ahead: number): number {
    let i = this.head;
    let k = this.pos + ahead;
    for (;;) {
      const part = this.parts[i]!;
      if (k < part.length) return part[k]!;
      k -= part.length;
      i++;
    }
  }

  /** Consumes one byte (length must be > 0). */
  readByte(): number {
    const part = this.parts[this.head]!;
    const b = part[this.pos++]!;
    this.length--;
    this.consumed++;
    if (this.pos === part.length) this.dropHead();
    return b;
  }

  /** Consumes n bytes (n <= length) into dst[offset..]. */
  readInto(dst: Uint8Array, offset: number, n: number): void {
    this.length -= n;
    this.consumed += n;
    while (n > 0) {
      const part = this.parts[this.head]!;
      const take = Math.min(n, part.length - this.pos);
      dst.set(part.subarray(this.pos, this.pos + take), offset);
      offset += take;
      n -= take;
      this.pos += take;
      if (this.pos === part.length) this.dropHead();
    }
  }

  /** Discards n bytes (n <= length). */
  skip(n: number): void {
    this.length -= n;
    this.consumed += n;
    while (n > 0) {
      const part = this.parts[this.head]!;
      const take = Math.min(n, part.length - this.pos);
      n -= take;
      this.pos += take;
      if (this.pos === part.length) this.dropHead();
    }
  }

  private dropHead(): void {
    this.parts[this.head] = EMPTY; // release the caller's array
    this.head++;
    this.pos = 0;
    if (this.head === this.parts.length) {
      this.parts.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.parts.length) {
      this.parts = this.parts.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
