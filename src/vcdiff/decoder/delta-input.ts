/**
 * The delta as it arrives: an async stream of chunks of any size (1 byte to megabytes). Headers are
 * parsed from a small look-ahead buffer (`peek`/`consume`), sections are copied straight into the
 * caller's buffers (`readInto`), so memory stays at the look-ahead plus one pending chunk.
 */

const EMPTY: Uint8Array = new Uint8Array(0);

export class DeltaInput {
  /** Absolute delta offset of the next byte not yet consumed. */
  offset = 0;
  private readonly iterator: AsyncIterator<Uint8Array>;
  private ended = false;
  /** Look-ahead bytes: stage[stageStart, stageEnd). */
  private stage = new Uint8Array(256);
  private stageStart = 0;
  private stageEnd = 0;
  /** The rest of the last chunk pulled, beyond the look-ahead. */
  private chunk: Uint8Array = EMPTY;
  private chunkPos = 0;

  constructor(delta: AsyncIterable<Uint8Array>) {
    this.iterator = delta[Symbol.asyncIterator]();
  }

  /** Pulls the next non-empty chunk into `chunk`; false at the end of the stream. */
  private async pull(): Promise<boolean> {
    while (!this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const value = next.value;
      if (!(value instanceof Uint8Array)) throw new TypeError("delta stream must yield Uint8Array chunks");
      if (value.length > 0) {
        this.chunk = value;
        this.chunkPos = 0;
        return true;
      }
    }
    return false;
  }

  /** Up to `n` (<= 256) buffered bytes from the current position; fewer only at the end of the delta. */
  async peek(n: number): Promise<Uint8Array> {
    if (this.stageEnd - this.stageStart < n) {
      this.stage.copyWithin(0, this.stageStart, this.stageEnd);
      this.stageEnd -= this.stageStart;
      this.stageStart = 0;
      while (this.stageEnd < n) {
        if (this.chunkPos >= this.chunk.length && !(await this.pull())) break;
        const take = Math.min(n - this.stageEnd, this.chunk.length - this.chunkPos);
        this.stage.set(this.chunk.subarray(this.chunkPos, this.chunkPos + take), this.stageEnd);
        this.stageEnd += take;
        this.chunkPos += take;
      }
    }
    return this.stage.subarray(this.stageStart, Math.min(this.stageEnd, this.stageStart + n));
  }

  /** Marks `n` peeked bytes as read. */
  consume(n: number): void {
    if (n > this.stageEnd - this.stageStart) throw new RangeError("consume past the peeked bytes");
    this.stageStart += n;
    this.offset += n;
  }

  /** Reads `n` bytes into dest[pos..]; returns how many arrived (< n only at the end of the delta). */
  async readInto(dest: Uint8Array, pos: number, n: number): Promise<number> {
    let done = 0;
    const staged = Math.min(n, this.stageEnd - this.stageStart);
    if (staged > 0) {
      dest.set(this.stage.subarray(this.stageStart, this.stageStart + staged), pos);
      this.stageStart += staged;
      done = staged;
    }
    while (done < n) {
      if (this.chunkPos >= this.chunk.length && !(await this.pull())) break;
      const take = Math.min(n - done, this.chunk.length - this.chunkPos);
      dest.set(this.chunk.subarray(this.chunkPos, this.chunkPos + take), pos + done);
      this.chunkPos += take;
      done += take;
    }
    if (this.chunkPos >= this.chunk.length) this.chunk = EMPTY; // let the consumed chunk be collected
    this.offset += done;
    return done;
  }

  /** Skips `n` bytes (an application header); returns how many were there. */
  async skip(n: number): Promise<number> {
    let done = 0;
    const staged = Math.min(n, this.stageEnd - this.stageStart);
    this.stageStart += staged;
    done = staged;
    while (done < n) {
      if (this.chunkPos >= this.chunk.length && !(await this.pull())) break;
      const take = Math.min(n - done, this.chunk.length - this.chunkPos);
      this.chunkPos += take;
      done += take;
    }
    this.offset += done;
    return done;
  }

  /** Stops the underlying stream early (after an error), so a file or pipe behind it is released. */
  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    try {
      await this.iterator.return?.();
    } catch {
      // The stream's own error does not matter any more: the caller reports the first failure.
    }
  }

  /** True when every byte of the delta has been consumed. */
  async atEnd(): Promise<boolean> {
    return (await this.peek(1)).length === 0;
  }
}
