/**
 * The record one changed file of TO gets, worked out from the file's two versions alone (so that
 * the planner can run it on any thread, plan-file-worker.ts): for a gzip / zlib file that the device
 * can compress again byte for byte, a REDEFLATE record whose content is an APPROX diff of the
 * uncompressed contents; otherwise an APPROX record against the old file, or, for an ELF file of an
 * architecture EXEC knows, an EXEC record when that is smaller. The caller then compares the
 * estimate with VCDIFF's (file-records.ts).
 */
import { inflateSync } from "fflate";
import { findRebuild, findZlibRebuild, gunzipSingleMember } from "../../deflate/find-rebuild";
import { gzipHeaderBytes } from "../../deflate/gzip-member";
import { Compressor, MAX_RECORD_BUFFER, OldFormat } from "../../delta/mbdf/format";
import type { Extent, RedeflateRecord } from "../../delta/mbdf/writer";
import { approximateDiff, type ApproximateDiff, diffAlong } from "../../filediff/approximate-diff";
import { isLittleEndianElf } from "../../filediff/elf-filter";
import { execDiff, type ExecDiff, normalizedAlignment, type NormalizedAlignment } from "../../filediff/exec/exec-diff";
import { wholeFileControl } from "../../filediff/whole-file-control";
import { compactInPlace, expandInPlace, type FileHoles, holesProblem, type Hole, wholeLength } from "../../filediff/holes";
import { xzSize } from "../../compress/xz-size";

/**
 * An ELF file's APPROX record estimated below this is kept as it is: the file was rebuilt without
 * moving code (its build id and a few stamps differ), and the executable-aware diff, which takes
 * as long as two approximate diffs, would save a few bytes at most (pair U: 68 of its 79 changed
 * ELF files).
 */
export const MIN_EXEC_CANDIDATE = 512;

export type FileRecord =
  | { kind: "approx"; targetOffset: number; length: number; extents: Extent[]; diff: ApproximateDiff }
  | { kind: "exec"; targetOffset: number; length: number; extents: Extent[]; exec: ExecDiff; holes?: FileHoles }
  | { kind: "redeflate"; targetOffset: number; length: number; record: RedeflateRecord };

function diffSize(d: ApproximateDiff): number {
  return xzSize([d.control, d.differences, d.literals]);
}

/** Estimated bytes of an EXEC record: its diff, its segment table and holes next to the extents. */
function execSize(e: ExecDiff, extents: Extent[], holes: FileHoles | undefined): number {
  const holeCount = holes ? holes.old.length + holes.new.length : 0;
  return diffSize(e.diff) + 8 * extents.length + 16 * e.newSegments.count + 8 * holeCount + 8;
}

/** What the planner may use beyond APPROX and REDEFLATE. */
export interface FilePlanOptions {
  /** EXEC records for ELF files of an architecture EXEC knows (false: --no-executable-diffs). */
  executableDiffs: boolean;
}

/** The whole file (zeros in `holes`) that `data` is the data of, as the device rebuilds it. */
function wholeFile(data: Uint8Array, holes: readonly Hole[]): Uint8Array {
  const whole = new Uint8Array(wholeLength(holes, data.length));
  whole.set(data);
  expandInPlace(whole, holes);
  return whole;
}

/**
 * The EXEC diff of `change`'s whole files, or undefined (`no` hears why). A file with holes is
 * rebuilt whole on both sides as the device does, and `diff` (of its data) aligns the whole files
 * too (whole-file-control.ts); its data taken back out of the new whole file must be TO's run,
 * byte for byte (execDiff checks the whole file by applying the record).
 */
function execOf(change: Changed, diff: ApproximateDiff, normalized: NormalizedAlignment | undefined, no: (why: string) => void): ExecDiff | undefined {
  const { old, neu, holes } = change;
  if (!holes) return execDiff(old, neu, diff, diffSize, no, normalized);
  for (const [which, list, data] of [["old", holes.old, old], ["new", holes.new, neu]] as const) {
    const problem = holesProblem(list, data.length, MAX_RECORD_BUFFER);
    if (problem) {
      no(`the ${which} file's holes: ${problem}`);
      return undefined;
    }
  }
  const wholeOld = wholeFile(old, holes.old);
  const wholeNew = wholeFile(neu, holes.new);
  const alignment = diffAlong(wholeFileControl(diff.control, old.length, neu.length, holes), wholeOld, wholeNew);
  const exec = execDiff(wholeOld, wholeNew, alignment, diffSize, no);
  if (exec && Buffer.compare(compactInPlace(wholeNew.slice(), holes.new), neu) !== 0) {
    no("the new file's data taken out of the whole file is not TO's run (a bug: the APPROX diff is kept)");
    return undefined;
  }
  return exec;
}

/**
 * The smaller of the APPROX record of `neu` and, for an ELF file of an architecture EXEC knows,
 * its EXEC record (the same diff with predicted differences; for a file with holes, the diff of
 * the whole files), with its estimated size. An ELF file EXEC can diff (without holes) is aligned
 * once, on both versions with their references zeroed, and both records follow that alignment:
 * the suffix array and search of a second, plain diff would cost as much again (pair U: the
 * planner 3.5 -> 2.3 s over its changed files, 304 estimated bytes more of 196,612).
 */
function approxOrExec(
  change: Changed, options: FilePlanOptions, debug: string[],
): { record: FileRecord; size: number; control: Uint8Array } {
  const { run, extents, old, neu, holes } = change;
  const elf = options.executableDiffs && isLittleEndianElf(neu);
  const normalized = elf && !holes ? normalizedAlignment(old, neu) : undefined;
  const diff = normalized ? diffAlong(normalized.control, old, neu) : approximateDiff(old, neu);
  const approx = { record: { kind: "approx", targetOffset: run.offset, length: run.length, extents, diff } as const, size: diffSize(diff) + 8 * extents.length, control: diff.control };
  const tryExec = elf && approx.size >= MIN_EXEC_CANDIDATE;
  // One the prediction does not suit: execDiff says why and gives undefined (the debug log has it).
  const exec = tryExec ? execOf(change, diff, normalized, (why) => debug.push(`${change.path}: no executable-aware diff: ${why}`)) : undefined;
  if (!exec) return approx;
  const size = execSize(exec, extents, holes);
  const what = holes ? `the executable-aware diff of the whole files (${holes.old.length} and ${holes.new.length} holes)` : "the executable-aware diff";
  if (size >= approx.size) {
    debug.push(`${change.path}: ${what} (~${size} B) is not smaller than the approximate one (~${approx.size} B)`);
    return approx;
  }
  if (holes) debug.push(`${change.path}: ${what} (~${size} B) is smaller than the approximate one of the data (~${approx.size} B)`);
  // Its control stream may be the second alignment's, not the APPROX diff's: that is the one the format limits.
  return { record: { kind: "exec", targetOffset: run.offset, length: run.length, extents, exec, ...(holes ? { holes } : {}) }, size, control: exec.diff.control };
}

/** A REDEFLATE record's fields but its content and old buffer. */
type RedeflateBase = Omit<RedeflateRecord, "extents" | "oldContentLength" | "content">;

/** `base` with an APPROX content against the old content, or (no usable old content) a LITERAL one. */
function withContent(base: RedeflateBase, oldContent: Uint8Array | undefined, extents: Extent[]): RedeflateRecord {
  if (!oldContent || oldContent.length > MAX_RECORD_BUFFER) return { ...base, extents: [], oldContentLength: 0, content: { kind: "literal" } };
  return { ...base, extents, oldContentLength: oldContent.length, content: { kind: "approx", diff: approximateDiff(oldContent, base.newContent) } };
}

function inflateZlib(bytes: Uint8Array): Uint8Array | undefined {
  try {
    return inflateSync(bytes.subarray(2, bytes.length - 4));
  } catch {
    return undefined;
  }
}

/**
 * A REDEFLATE record when `neu` is a gzip or zlib file the device rebuilds exactly: its content
 * diffed against `old`'s (the old version, read through `extents`) when that inflates, else (a new
 * file, or an old one that does not inflate) its content stored as a LITERAL body.
 */
export function redeflateOf(old: Uint8Array | undefined, neu: Uint8Array, extents: Extent[]): RedeflateRecord | undefined {
  const gz = neu[0] === 0x1f && neu[1] === 0x8b ? findRebuild(neu) : null;
  if (gz) {
    const newMember = gunzipSingleMember(neu);
    if (!newMember || newMember.data.length < 1 || newMember.data.length > MAX_RECORD_BUFFER) return undefined;
    const base: RedeflateBase = {
      oldFormat: OldFormat.gzip, compressor: gz.compressor === "gzip" ? Compressor.gnuGzip : Compressor.zlib, level: gz.level,
      header: gzipHeaderBytes(gz.header), newContent: newMember.data,
    };
    return withContent(base, old ? gunzipSingleMember(old)?.data : undefined, extents);
  }
  const z = neu[0] === 0x78 ? findZlibRebuild(neu) : null;
  if (z) {
    const newData = inflateZlib(neu);
    if (!newData || newData.length < 1 || newData.length > MAX_RECORD_BUFFER) return undefined;
    const base: RedeflateBase = {
      oldFormat: OldFormat.zlib, compressor: z.compressor === "gzip" ? Compressor.gnuGzip : Compressor.zlib, level: z.level,
      header: Uint8Array.from(z.header), newContent: newData,
    };
    return withContent(base, old && old[0] === 0x78 ? inflateZlib(old) : undefined, extents);
  }
  return undefined;
}

/** Estimated bytes of a REDEFLATE record (its content as compress/xz-size.ts measures, the fields around it). */
function redeflateSize(r: RedeflateRecord): number {
  const content = r.content.kind === "approx" ? diffSize(r.content.diff) : xzSize([r.newContent]);
  return content + r.header.length + 16 + 8 * r.extents.length;
}


/** A changed file that may become a file record: its run in TO, its old version's extents and both contents. */
export interface Changed {
  /** Its first name in TO, for the debug log. */
  path: string;
  run: { offset: number; length: number };
  extents: Extent[];
  old: Uint8Array;
  neu: Uint8Array;
  /**
   * Where the holes are in each version, present when either has some: `old` and `neu` are then
   * its data without them (what the extents read and what TO's run holds), not the file: an
   * APPROX record of the data fits, or an EXEC record with these holes, which rebuilds the whole files.
   */
  holes?: FileHoles;
}

/** A changed file's record and estimated size, or none; and its lines for the debug log. */
export interface PlannedFile {
  /** Undefined when a stream of the diff would pass the format's 16 MiB (pathological pairs: left to VCDIFF). */
  planned?: { record: FileRecord; size: number };
  debug: string[];
}

/** The record `change` gets (before the comparison with VCDIFF). */
export function planChangedFile(change: Changed, options: FilePlanOptions): PlannedFile {
  const debug: string[] = [];
  const { run, extents, old, neu } = change;
  // A file with holes is its data alone: no gzip member, no ELF layout to rebuild or predict from.
  const redeflate = change.holes ? undefined : redeflateOf(old, neu, extents);
  if (redeflate) {
    const control = redeflate.content.kind === "approx" ? redeflate.content.diff.control.length : 0;
    if (control > MAX_RECORD_BUFFER) return { debug };
    return { planned: { record: { kind: "redeflate", targetOffset: run.offset, length: run.length, record: redeflate }, size: redeflateSize(redeflate) }, debug };
  }
  const choice = approxOrExec(change, options, debug);
  if (choice.control.length > MAX_RECORD_BUFFER) return { debug };
  return { planned: { record: choice.record, size: choice.size }, debug };
}
