/**
 * Pull-based reads of exact byte counts from an async stream of chunks (a file read stream, a
 * decompressor). Slices are handed out without copying where possible; only a read that straddles
 * chunks copies.
 */
export class ByteQueue {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunk: Uint8Array = new Uint8Array(0);
  private offset = 0;
  private done = false;
  /** Bytes handed out so far (for error messages). */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.offset >= this.chunk.length) {
      if (this.done) return false;
      const r = await this.iterator.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      this.chunk = r.value;
      this.offset = 0;
    }
    return true;
  }

  /** Up to `max` bytes (at least one), or null at the end of the stream. The slice is only valid until the next call. */
  async readUpTo(max: number): Promise<Uint8Array | null> {
    if (!(await this.fill())) return null;
    const n = Math.min(max, this.chunk.length - this.offset);
    const out = this.chunk.subarray(this.offset, this.offset + n);
    this.offset += n;
    this.position += n;
    return out;
  }

  /** Exactly `n` bytes, or fewer only when the stream ended first. */
  async readExact(n: number): Promise<Uint8Array> {
    const first = await this.readUpTo(n);
    if (first === null) return new Uint8Array(0);
    if (first.length === n) return first;
    const out = new Uint8Array(n);
    out.set(first, 0);
    let got = first.length;
    while (got < n) {
      const more = await this.readUpTo(n - got);
      if (more === null) return out.subarray(0, got);
      out.set(more, got);
      got += more.length;
    }
    return out;
  }

  /** Discards `n` bytes; returns how many were actually there. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const part = await this.readUpTo(left);
      if (part === null) break;
      left -= part.length;
    }
    return n - left;
  }

  /** Stops the underlying stream (releases a file handle, a decompressor). */
  async close(): Promise<void> {
    this.done = true;
    await this.iterator.return?.();
  }
}
