/**
 * EXEC records: an approximate diff whose differences are taken against a predicted base, in which
 * the old file's references carry their new values (filediff/exec/). The record's fields, the new
 * segment table, the three streams and the old file's own scan are all checked before the first
 * output byte is made; the device holds the old buffer, the output, the streams and the old file's
 * references and stretches in typed arrays (at most 34 and 28 bytes each, 2^19 of each at most;
 * the references' arrays are let go when the record ends, so they do not add to later records' peaks).
 */
import { ApproximateDiffError } from "../../filediff/approximate-diff";
import { AddressMapError } from "../../filediff/exec/address-map";
import { MAX_ADDRESS, MAX_SEGMENTS, type LoadSegments } from "../../filediff/exec/elf-layout";
import { ExecDiffError, execPrediction, segmentProblem } from "../../filediff/exec/exec-diff";
import type { RecordContext, RecordResult } from "./context";
import { readStreamLengths, readStreams } from "./execute-approx";
import { RecordProblem } from "./problems";
import { readExtents, readOldBuffer } from "./source-ranges";

/** Reads and checks the new file's segment table: a count (1 to MAX_SEGMENTS), then offset, vaddr, filesz, memsz each. */
async function readSegments(ctx: RecordContext, length: number): Promise<LoadSegments> {
  const count = await ctx.input.varint("the segment count");
  if (count < 1 || count > MAX_SEGMENTS) throw new RecordProblem(`the segment count is ${count}, it must be 1 to ${MAX_SEGMENTS}`);
  const segments: LoadSegments = {
    count, offset: new Float64Array(count), vaddr: new Float64Array(count), filesz: new Float64Array(count), memsz: new Float64Array(count),
  };
  for (let i = 0; i < count; i++) {
    for (const field of ["offset", "vaddr", "filesz", "memsz"] as const) {
      const value = await ctx.input.varint(`segment ${i}'s ${field}`);
      if (value >= MAX_ADDRESS) throw new RecordProblem(`segment ${i}'s ${field} is ${value}, at least 2^48`);
      segments[field][i] = value;
    }
  }
  const problem = segmentProblem(segments, length);
  if (problem) throw new RecordProblem(`the new file's segment table: ${problem}`);
  return segments;
}

export async function executeExec(ctx: RecordContext, length: number): Promise<RecordResult> {
  const { extents, total } = await readExtents(ctx);
  const transform = await ctx.input.byte("the transform");
  const referenceCount = await ctx.input.varint("the reference count");
  const segments = await readSegments(ctx, length);
  const lengths = await readStreamLengths(ctx, length);
  const old = readOldBuffer(ctx, extents, total);
  const out = ctx.buffers.take("output", length);
  const diff = await readStreams(ctx, lengths, out);
  try {
    const prediction = execPrediction(old, transform, segments, referenceCount, diff, length, ctx.buffers.references);
    ctx.out.whole(prediction.apply(diff, out));
  } catch (err) {
    if (err instanceof ExecDiffError) throw new RecordProblem(err.message, err.blame);
    if (err instanceof ApproximateDiffError || err instanceof AddressMapError) throw new RecordProblem(err.message);
    throw err;
  } finally {
    ctx.buffers.references.release();
  }
  return { sourceRead: true };
}
