/**
 * EXEC records: an approximate diff whose differences are taken against a predicted base, in which
 * the old file's references carry their new values (filediff/exec/). The record's fields, the new
 * segment table, the three streams and the old file's own scan are all checked before the first
 * output byte is made; the device holds the old buffer, the output, the streams and the old file's
 * references and stretches in typed arrays, at most 3 times the record's window in all
 * (filediff/exec/working-set.ts: a record that would need more is refused before it is made); the
 * references' arrays are let go when the record ends, so they do not add to later records' peaks.
 * A record "with holes" (transform bit 0x80) carries both files' holes: the old data is spread over
 * the whole old file in place, the whole new file is made, and its data (holes left out) written.
 */
import { ApproximateDiffError } from "../../filediff/approximate-diff";
import { AddressMapError } from "../../filediff/exec/address-map";
import { MAX_ADDRESS, MAX_SEGMENTS, type LoadSegments } from "../../filediff/exec/elf-layout";
import { ExecDiffError, execPrediction, segmentProblem, WITH_HOLES } from "../../filediff/exec/exec-diff";
import { architectureOfTransform } from "../../filediff/exec/architectures";
import { execBudget, type MemoryBudget, WorkingSetError } from "../../filediff/exec/working-set";
import { compactInPlace, expandInPlace, type FileHoles, type Hole, holesProblem, MAX_HOLES, wholeLength } from "../../filediff/holes";
import { MAX_RECORD_BUFFER } from "./format";
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

/**
 * Reads and checks one file's hole list (count, then offset and length each) for `dataLength`
 * bytes of data: sorted, apart, inside the whole file, which is at most 16 MiB.
 */
async function readHoles(ctx: RecordContext, dataLength: number, which: "old" | "new"): Promise<Hole[]> {
  const count = await ctx.input.varint(`the ${which} file's hole count`);
  if (count > MAX_HOLES) throw new RecordProblem(`the ${which} file has ${count} holes, at most ${MAX_HOLES}`);
  const holes: Hole[] = [];
  for (let i = 0; i < count; i++) {
    const offset = await ctx.input.varint(`the ${which} file's hole ${i} offset`);
    const length = await ctx.input.varint(`the ${which} file's hole ${i} length`);
    holes.push({ offset, length });
  }
  const problem = holesProblem(holes, dataLength, MAX_RECORD_BUFFER);
  if (problem) throw new RecordProblem(`the ${which} file's holes: ${problem}`);
  return holes;
}

/** `make()`'s budget, its WorkingSetError as the record's problem. */
function claimed(make: () => MemoryBudget): MemoryBudget {
  try {
    return make();
  } catch (err) {
    if (err instanceof WorkingSetError) throw new RecordProblem(err.message);
    throw err;
  }
}

export async function executeExec(ctx: RecordContext, length: number): Promise<RecordResult> {
  const { extents, total } = await readExtents(ctx);
  const transformByte = await ctx.input.byte("the transform");
  // Refused before the fields that follow are read: a newer transform may lay them out otherwise.
  if (!architectureOfTransform(transformByte & ~WITH_HOLES)) {
    throw new RecordProblem(`unknown transform ${transformByte & ~WITH_HOLES}${transformByte & WITH_HOLES ? " (with holes)" : ""}`);
  }
  // With holes, the old buffer and the output are the whole files; the record writes the new data.
  const holes: FileHoles | undefined = transformByte & WITH_HOLES
    ? { old: await readHoles(ctx, total, "old"), new: await readHoles(ctx, length, "new") }
    : undefined;
  const oldLength = holes ? wholeLength(holes.old, total) : total;
  const newLength = holes ? wholeLength(holes.new, length) : length;
  const referenceCount = await ctx.input.varint("the reference count");
  const segments = await readSegments(ctx, newLength);
  const lengths = await readStreamLengths(ctx, newLength);
  // What the record's declared sizes alone would need is refused before a buffer is taken.
  const budget = claimed(() => execBudget(oldLength, newLength, lengths.control, lengths.literals));
  const old = readOldBuffer(ctx, extents, total, oldLength);
  if (holes) expandInPlace(old, holes.old);
  const out = ctx.buffers.take("output", newLength);
  const diff = await readStreams(ctx, lengths, out);
  try {
    const prediction = execPrediction(old, transformByte & ~WITH_HOLES, segments, referenceCount, diff, newLength, budget, ctx.buffers.references);
    const made = prediction.apply(diff, out);
    ctx.out.whole(holes ? compactInPlace(made, holes.new) : made);
  } catch (err) {
    if (err instanceof ExecDiffError) throw new RecordProblem(err.message, err.blame);
    if (err instanceof ApproximateDiffError || err instanceof AddressMapError || err instanceof WorkingSetError) throw new RecordProblem(err.message);
    throw err;
  } finally {
    ctx.buffers.references.release();
  }
  return { sourceRead: true };
}
