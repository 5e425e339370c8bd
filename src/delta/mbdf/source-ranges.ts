/**
 * Source ranges a record declares: checked against source_size before anything is produced, and
 * read through the decoder's source reader (page runs).
 */
import { ReadBudgetExceeded, SourceTooShort } from "../../vcdiff/decoder/source-reader";
import type { RecordContext } from "./context";
import { MAX_EXTENTS, MAX_RECORD_BUFFER, READ_BUDGET } from "./format";
import { RecordProblem } from "./problems";

export interface Extent {
  sourceOffset: number;
  length: number;
}

export function checkSourceRange(ctx: RecordContext, offset: number, length: number, what: string): void {
  if (offset + length > ctx.sourceSize) {
    throw new RecordProblem(`${what} [${offset}, +${length}) reaches past the end of the ${ctx.sourceSize}-byte source`);
  }
}

/**
 * The delta makes the decoder read far more source than it writes (e.g. many one-byte APPROX
 * records over 16 MiB old buffers): refused, as VCDIFF's decoder refuses scattered copies.
 */
export function readBudgetProblem(bytesRead: number): RecordProblem {
  return new RecordProblem(
    `the delta has read ${bytesRead} bytes of the source by this record, more than ${READ_BUDGET.perTargetByte} bytes per target byte ` +
      `plus ${READ_BUDGET.initial}; deltas made by mender-binary-delta-generator stay far below this`,
  );
}

/** Reads source[offset, +length) into dest[pos..]. */
export function readSource(ctx: RecordContext, dest: Uint8Array, pos: number, offset: number, length: number): void {
  try {
    ctx.sourceReader.copy(dest, pos, offset, length);
  } catch (err) {
    if (err instanceof SourceTooShort) {
      throw new RecordProblem(`the source ends at byte ${err.sourceSize}, before byte ${err.position} the record reads`, "source");
    }
    if (err instanceof ReadBudgetExceeded) throw readBudgetProblem(err.bytesRead);
    throw err;
  }
}

/**
 * Reads and checks an `extents` field: 1..4096 ranges inside the source (0..4096 where `minCount`
 * is 0: a REDEFLATE record of a new file), together at most 16 MiB.
 */
export async function readExtents(ctx: RecordContext, minCount = 1): Promise<{ extents: Extent[]; total: number }> {
  const count = await ctx.input.varint("the extent count");
  if (count < minCount || count > MAX_EXTENTS) throw new RecordProblem(`the extent count is ${count}, it must be ${minCount} to ${MAX_EXTENTS}`);
  const extents: Extent[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const sourceOffset = await ctx.input.varint(`extent ${i}'s source offset`);
    const length = await ctx.input.varint(`extent ${i}'s length`);
    if (length < 1) throw new RecordProblem(`extent ${i} is empty`);
    checkSourceRange(ctx, sourceOffset, length, `extent ${i}`);
    total += length;
    if (total > MAX_RECORD_BUFFER) {
      throw new RecordProblem(`the extents hold more than the ${MAX_RECORD_BUFFER} bytes an old buffer may have`);
    }
    extents.push({ sourceOffset, length });
  }
  return { extents, total };
}

/**
 * The old buffer: the extents' source bytes, concatenated; with `capacity` (more than `total`) they
 * fill its first `total` bytes (a file with holes, spread over the rest next: filediff/holes.ts).
 */
export function readOldBuffer(ctx: RecordContext, extents: Extent[], total: number, capacity = total): Uint8Array {
  const old = ctx.buffers.take("old", capacity);
  let pos = 0;
  for (const e of extents) {
    readSource(ctx, old, pos, e.sourceOffset, e.length);
    pos += e.length;
  }
  return old;
}
