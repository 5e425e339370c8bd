/**
 * ZERO, COPY and LITERAL records: produced in CHUNK-sized pieces (a 64 MiB run of zeros or copied
 * bytes costs one 1 MiB buffer), except a filtered literal, which the branch filter decodes whole.
 */
import { bcjFilter, type BcjArch } from "../../compress/bcj";
import type { RecordContext, RecordResult } from "./context";
import type { BufferRole } from "./record-buffers";
import { CHUNK, FILTERS, MAX_RECORD_BUFFER } from "./format";
import { RecordProblem } from "./problems";
import { checkSourceRange, readSource } from "./source-ranges";

const ZEROS = new Uint8Array(CHUNK);

export async function executeZero(ctx: RecordContext, length: number): Promise<RecordResult> {
  ctx.out.zeros(length, ZEROS);
  return { sourceRead: false };
}

export async function executeCopy(ctx: RecordContext, length: number): Promise<RecordResult> {
  const offset = await ctx.input.varint("source_offset");
  checkSourceRange(ctx, offset, length, "the copied source range");
  for (let done = 0; done < length; ) {
    const n = Math.min(CHUNK, length - done);
    readSource(ctx, ctx.chunk, 0, offset + done, n);
    ctx.out.push(ctx.chunk.subarray(0, n));
    done += n;
  }
  return { sourceRead: true };
}

/** A LITERAL body's filter fields, checked. */
export async function readFilter(ctx: RecordContext, length: number): Promise<{ arch: BcjArch | null; start: number }> {
  const id = await ctx.input.byte("the filter");
  const arch = FILTERS[id];
  if (arch === undefined) throw new RecordProblem(`unknown filter ${id} (known: 0 to ${FILTERS.length - 1})`, "unsupported");
  const start = await ctx.input.varint("filter_start");
  if (start > 0xffffffff) throw new RecordProblem(`filter_start ${start} is above 2^32 - 1`);
  if (arch !== null && length > MAX_RECORD_BUFFER) {
    throw new RecordProblem(`a filtered literal of ${length} bytes, more than the ${MAX_RECORD_BUFFER} a filtered literal may hold`);
  }
  return { arch, start };
}

/** The `length` literal bytes after their filter fields, decoded, in one buffer (<= 16 MiB). */
export async function readLiteralWhole(
  ctx: RecordContext, length: number, filter: { arch: BcjArch | null; start: number }, role: BufferRole,
): Promise<Uint8Array> {
  const bytes = ctx.buffers.take(role, length);
  await ctx.input.readExact(bytes, 0, length, "the literal bytes");
  if (filter.arch !== null) bcjFilter(filter.arch, bytes, false, filter.start);
  return bytes;
}

export async function executeLiteral(ctx: RecordContext, length: number): Promise<RecordResult> {
  const filter = await readFilter(ctx, length);
  if (filter.arch !== null) {
    ctx.out.whole(await readLiteralWhole(ctx, length, filter, "output"));
    return { sourceRead: false };
  }
  for (let done = 0; done < length; ) {
    const n = Math.min(CHUNK, length - done);
    await ctx.input.readExact(ctx.chunk, 0, n, "the literal bytes");
    ctx.out.push(ctx.chunk.subarray(0, n));
    done += n;
  }
  return { sourceRead: false };
}
