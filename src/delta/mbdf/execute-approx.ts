/**
 * APPROX records (and the APPROX content of a REDEFLATE record): an approximate-match diff
 * (filediff/approximate-diff.ts) applied to an old buffer. The three streams' lengths are checked
 * against the record's length before the old buffer is read or a stream byte is taken.
 */
import { applyApproximateDiff, ApproximateDiffError, type ApproximateDiff } from "../../filediff/approximate-diff";
import type { RecordContext, RecordResult } from "./context";
import { MAX_RECORD_BUFFER } from "./format";
import { RecordProblem } from "./problems";
import { readExtents, readOldBuffer } from "./source-ranges";

export interface StreamLengths {
  control: number;
  differences: number;
  literals: number;
}

/** Reads and checks the three stream lengths of a body producing `length` bytes. */
export async function readStreamLengths(ctx: RecordContext, length: number): Promise<StreamLengths> {
  if (length > MAX_RECORD_BUFFER) throw new RecordProblem(`an approximate diff producing ${length} bytes, more than ${MAX_RECORD_BUFFER}`);
  const control = await ctx.input.varint("control_length");
  const differences = await ctx.input.varint("differences_length");
  const literals = await ctx.input.varint("literals_length");
  // Every output byte is a difference byte or a literal byte, and every stream byte is used.
  if (differences + literals !== length) {
    throw new RecordProblem(`the differences (${differences}) and literals (${literals}) streams do not add up to the record's ${length} bytes`);
  }
  if (control > MAX_RECORD_BUFFER) throw new RecordProblem(`a ${control}-byte control stream, more than ${MAX_RECORD_BUFFER}`);
  return { control, differences, literals };
}

/**
 * Reads the three streams. The differences go to the end of `out` (the output buffer, exactly the
 * output's length): the diff is then applied in place, since an output byte never lies past the
 * difference byte it is made from (output = differences + literals so far, literals at most
 * literals_length), so a record holds no separate differences buffer.
 */
export async function readStreams(ctx: RecordContext, lengths: StreamLengths, out: Uint8Array): Promise<ApproximateDiff> {
  const control = ctx.buffers.take("control", lengths.control);
  const differences = out.subarray(lengths.literals);
  const literals = ctx.buffers.take("literals", lengths.literals);
  await ctx.input.readExact(control, 0, control.length, "the control stream");
  await ctx.input.readExact(differences, 0, differences.length, "the differences stream");
  await ctx.input.readExact(literals, 0, literals.length, "the literals stream");
  return { control, differences, literals };
}

/** The diff applied to `old`, into `out` (exactly the output's length). */
export function applyDiff(old: Uint8Array, diff: ApproximateDiff, out: Uint8Array): Uint8Array {
  try {
    return applyApproximateDiff(old, diff, out.length, out);
  } catch (err) {
    if (err instanceof ApproximateDiffError) throw new RecordProblem(err.message);
    throw err;
  }
}

export async function executeApprox(ctx: RecordContext, length: number): Promise<RecordResult> {
  const { extents, total } = await readExtents(ctx);
  const lengths = await readStreamLengths(ctx, length);
  const old = readOldBuffer(ctx, extents, total);
  const out = ctx.buffers.take("output", length);
  const diff = await readStreams(ctx, lengths, out);
  ctx.out.whole(applyDiff(old, diff, out));
  return { sourceRead: true };
}
