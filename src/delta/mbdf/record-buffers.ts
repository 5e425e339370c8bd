/**
 * Grow-only buffers the records of one decode share, one per role: a record's old buffer, streams,
 * contents and output live here instead of in fresh allocations. An image holds hundreds of
 * records of up to 16 MiB; fresh buffers for each would pile up as garbage faster than it is
 * collected, and the device's memory would follow the number of records instead of the largest.
 * A buffer is valid until the next record asks for the same role (the record output writes a
 * record's bytes before the next record starts).
 */
import { DeflateScratch } from "../../deflate/deflate-window";
import { ReferenceScratch } from "../../filediff/exec/references";
import { RebuiltStreams } from "./rebuilt-streams";

export const BUFFER_ROLES = ["old", "control", "literals", "content", "output"] as const;
export type BufferRole = (typeof BUFFER_ROLES)[number];

export class RecordBuffers {
  private readonly buffers = new Map<BufferRole, Uint8Array>();
  /** REDEFLATE's compressor state. */
  readonly deflate = new DeflateScratch();
  /** REDEFLATE's deflate streams made so far, for a content met again (rebuilt-streams.ts). */
  readonly rebuilt = new RebuiltStreams();
  /** EXEC's references of the old file. */
  readonly references = new ReferenceScratch();

  /** `length` bytes of the role's buffer (contents undefined), grown when too small. */
  take(role: BufferRole, length: number): Uint8Array {
    let buffer = this.buffers.get(role);
    if (!buffer || buffer.length < length) {
      buffer = new Uint8Array(length);
      this.buffers.set(role, buffer);
    }
    return buffer.subarray(0, length);
  }
}
