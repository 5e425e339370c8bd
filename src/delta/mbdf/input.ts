/**
 * The MBDF delta as it arrives (vcdiff/decoder/delta-input.ts does the buffering): bytes, varints
 * and exact-length reads, each failing with a RecordProblem that says what was cut off.
 */
import { AlternatingBuffers } from "../../io/reused-chunks";
import { DeltaInput } from "../../vcdiff/decoder/delta-input";
import { ByteCursor, VarintProblem } from "../../vcdiff/format/varint-reader";

import { RecordProblem } from "./problems";

/** A varint of more bytes than any value up to 2^53 - 1 needs is refused. */
const MAX_VARINT_BYTES = 10;

export class MbdfInput {
  readonly delta: DeltaInput;
  private substreamBuffers: AlternatingBuffers | undefined;
  constructor(stream: AsyncIterable<Uint8Array>) {
    this.delta = new DeltaInput(stream);
  }

  get offset(): number {
    return this.delta.offset;
  }

  async byte(what: string): Promise<number> {
    const view = await this.delta.peek(1);
    if (view.length === 0) throw new RecordProblem(`the delta ends before ${what} (truncated)`);
    const b = view[0]!;
    this.delta.consume(1);
    return b;
  }

  /** A varint (VCDIFF's code) of at most 2^53 - 1. */
  async varint(what: string): Promise<number> {
    const view = await this.delta.peek(MAX_VARINT_BYTES);
    const cursor = new ByteCursor(view, 0, view.length);
    let value: number;
    try {
      value = cursor.offset();
    } catch (err) {
      if (!(err instanceof VarintProblem)) throw err;
      if (err.kind === "truncated" && view.length < MAX_VARINT_BYTES) throw new RecordProblem(`the delta ends inside ${what} (truncated)`);
      throw new RecordProblem(`${what} is an integer larger than 2^53 - 1`);
    }
    this.delta.consume(cursor.pos);
    return value;
  }

  /** A little-endian 32-bit value (CRC-32). */
  async u32le(what: string): Promise<number> {
    const view = await this.delta.peek(4);
    if (view.length < 4) throw new RecordProblem(`the delta ends inside ${what} (truncated)`);
    const value = (view[0]! | (view[1]! << 8) | (view[2]! << 16) | (view[3]! << 24)) >>> 0;
    this.delta.consume(4);
    return value;
  }

  /** Fills dest[pos, pos + n) or fails naming `what`. */
  async readExact(dest: Uint8Array, pos: number, n: number, what: string): Promise<void> {
    const got = await this.delta.readInto(dest, pos, n);
    if (got < n) throw new RecordProblem(`the delta ends ${n - got} bytes before the end of ${what} (truncated)`);
  }

  /**
   * The next `n` bytes as an async stream of chunks (a sub-delta for a nested decoder), in two
   * buffers used in turn (AlternatingBuffers): the nested decoder's input holds one chunk at a time
   * and copies what it keeps (vcdiff/decoder/delta-input.ts), and the sub-deltas of an image's
   * hundreds of VCDIFF records leave no garbage behind.
   */
  async *substream(n: number, chunkSize: number): AsyncGenerator<Uint8Array> {
    const buffers = (this.substreamBuffers ??= new AlternatingBuffers(chunkSize));
    let left = n;
    while (left > 0) {
      const chunk = buffers.next(Math.min(buffers.size, left));
      await this.readExact(chunk, 0, chunk.length, "the nested VCDIFF delta");
      left -= chunk.length;
      yield chunk;
    }
  }

  async atEnd(): Promise<boolean> {
    return this.delta.atEnd();
  }

  async close(): Promise<void> {
    await this.delta.close();
  }
}
