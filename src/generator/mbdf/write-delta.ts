/**
 * Writes the file-aware delta (docs/file-delta-format.md) from FROM's and TO's images: the kept file
 * records (file-records.ts) at their places in TO, and between them, in target order and in pieces
 * of at most MAX_PIECE, ZERO for an all-zero piece, COPY for a piece equal to FROM's bytes at the
 * same offset, else a VCDIFF record: the VCDIFF encoder's delta of the piece with the whole FROM
 * image as its source (or, for a piece of a new executable, a LITERAL record with its branch filter
 * when that is smaller). FROM is indexed once for the planner's estimates and all the pieces
 * (TargetRangeEncoder), and the pieces are encoded in parallel.
 *
 * When there is nothing file-aware to gain (FROM or TO is not ext4, or no file record is clearly
 * smaller than VCDIFF on its bytes, and TO has no new executable), the delta is today's VCDIFF
 * delta instead, which every device program decodes.
 *
 * For a read-write root (`avoid` and `appHeader` given, generator/root-mount.ts) no record reads an
 * avoided source byte, and the header carries the read set of every source byte the records read.
 */
import fs from "node:fs";
import { MbdfWriter } from "../../delta/mbdf/writer";
import { normalizeRanges, overlapsRanges, type ByteRange } from "../../io/byte-ranges";
import { deviceOrFileSize } from "../../io/file-size";
import { readFullyAt } from "../../io/read-fully";
import { encodeVcdiff, TargetRangeEncoder, type EncodeStats, type TargetRange } from "../../vcdiff/encoder/encode";
import { RangeBuilder } from "../../vcdiff/encoder/source-ranges";
import type { BcjArch } from "../../compress/bcj";
import { xzSize } from "../../compress/xz-size";
import { ext4PairProblem, planFileRecords, type FileRecord, type FileRecordPlan, type NewExecutable } from "./file-records";

export const RECORD_KINDS = ["zero", "copy", "literal", "vcdiff", "approx", "redeflate", "exec"] as const;
export type RecordKindName = (typeof RECORD_KINDS)[number];

export interface MbdfPlanSummary {
  /** false: FROM or TO is not ext4. */
  ext4: boolean;
  /** Changed files, and new compressed files, looked at as candidates for a file record. */
  candidates: number;
  /** Per record kind: how many, the TO bytes they produce, their bytes in the payload. */
  records: Record<RecordKindName, { count: number; targetBytes: number; deltaBytes: number }>;
}

/** What was written: the file-aware delta, or (nothing to gain from it) today's VCDIFF delta. */
export type FileAwareResult =
  | { format: "mbdf"; summary: MbdfPlanSummary }
  | { format: "vcdiff"; stats: EncodeStats; reason: string };

export interface MbdfWriteOptions {
  targetSha256: string;
  windowSize: number;
  level?: number;
  threads?: number;
  checksum: boolean;
  /** Source ranges no record may read (a read-write root's own metadata). */
  avoid?: readonly ByteRange[];
  /** The read set's bytes for the header, from the source ranges the records read. */
  appHeader?(reads: Float64Array): Uint8Array;
  /** Called with the TO bytes the records written so far produce. */
  onProgress?(targetDone: number): void;
  /** EXEC records where they pay (default true; false: devices whose module predates them). */
  executableDiffs?: boolean;
  /** A line for the debug log (why a file's record is what it is). */
  debug?(message: string): void;
}

/**
 * The largest piece of TO one VCDIFF or filtered LITERAL record covers. The device holds one such
 * piece (its window) at a time, next to the largest file record's buffers: smaller pieces keep the
 * two within the Download's memory budget (pair B: 102 MiB peak with 4 MiB pieces, 97 with 2 MiB,
 * about 0.5 MiB less again with 1 MiB). They cost no bytes: more pieces are all zeros or FROM's
 * bytes (pair B 1 KB smaller with 1 MiB pieces than with 2, A 3.5 KB smaller, U within 512 B).
 */
const MAX_PIECE = 1 << 20;

function isZero(bytes: Uint8Array): boolean {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  for (let k = 0; k < words.length; k++) if (words[k] !== 0) return false;
  for (let k = words.length * 4; k < bytes.length; k++) if (bytes[k] !== 0) return false;
  return true;
}

/**
 * One record of the delta, in target order. A VCDIFF piece with a `filter` is (part of) a new
 * executable: it becomes a LITERAL record with that branch filter when that codes smaller (its
 * `literalSize`, estimated by the planner, literal-size.ts, against its VCDIFF record's).
 */
type Piece =
  | { kind: "zero" | "copy"; start: number; length: number }
  | { kind: "vcdiff"; start: number; length: number; filter?: BcjArch; filterStart?: number; literalSize?: number }
  | { kind: "file"; start: number; length: number; record: FileRecord };

function recordExtents(r: FileRecord): { sourceOffset: number; length: number }[] {
  return r.kind === "redeflate" ? r.record.extents : r.extents;
}

/**
 * Writes the delta from `fromImage` to `toImage` into `deltaPath`: the file-aware format when it has
 * file records to offer, else today's VCDIFF delta (the result says which, and why).
 */
export async function writeFileAwareDelta(fromImage: string, toImage: string, deltaPath: string, options: MbdfWriteOptions): Promise<FileAwareResult> {
  const vcdiffDelta = async (reason: string): Promise<FileAwareResult> => {
    const stats = await encodeVcdiff(fromImage, toImage, deltaPath, {
      windowSize: options.windowSize, level: options.level, threads: options.threads, checksum: options.checksum,
      avoid: options.avoid, appHeader: options.appHeader, onProgress: options.onProgress,
    });
    return { format: "vcdiff", stats, reason };
  };
  const unreadable = ext4PairProblem(fromImage, toImage);
  if (unreadable) return vcdiffDelta(`${unreadable}, so the delta cannot follow its files`);

  const avoid = normalizeRanges(options.avoid ?? []);
  const pieceSize = Math.min(options.windowSize, MAX_PIECE);
  // FROM indexed once: for the planner's estimates, then for the VCDIFF records. The index is
  // built (mostly reading FROM, on the encoder's threads) while the planner lists and reads the
  // changed files and starts planning them: only the estimates wait for it.
  const opening = TargetRangeEncoder.open(fromImage, toImage, {
    // No Adler-32 in the nested deltas: each record's CRC-32 already covers its bytes, and the
    // device would otherwise checksum every VCDIFF byte twice.
    windowSize: pieceSize, level: options.level, threads: options.threads, checksum: false,
    avoid, collectReads: options.appHeader !== undefined,
  });
  // Awaited below; until then a failure must not count as an unhandled rejection (which ends the process).
  opening.catch(() => undefined);
  let records: FileRecord[];
  let plan: FileRecordPlan;
  try {
    plan = await planFileRecords(fromImage, toImage, async (runs) => estimateRuns(await opening, runs, pieceSize), {
      executableDiffs: options.executableDiffs ?? true, threads: options.threads, debug: options.debug, pieceSize,
    });
    const encoder = await opening;
    // A read-write root rewrites its avoided bytes by itself: no record may rely on them.
    records = plan.records.filter((r) => !recordExtents(r).some((e) => overlapsRanges(avoid, e.sourceOffset, e.sourceOffset + e.length)));
    if (records.length > 0 || plan.newExecutables.length > 0) {
      const summary = await writeRecords(fromImage, toImage, deltaPath, records, plan.newExecutables, avoid, encoder, pieceSize, options);
      return { format: "mbdf", summary: { ext4: true, candidates: plan.candidates, records: summary } };
    }
  } finally {
    // Closed however the plan ended, once the index is built (or failed: nothing to close).
    await opening.then((encoder) => encoder.close(), () => undefined);
  }
  // A file system whose superblock reads but whose files do not (a corrupt extent tree, a feature
  // of an inode this reader refuses) is left to VCDIFF as a foreign image is.
  if (plan.unreadable) return vcdiffDelta(`${plan.unreadable}, so the delta cannot follow its files`);
  return vcdiffDelta("no changed file of TO is clearly smaller as a file record than in VCDIFF");
}

/** The estimated bytes of each run as VCDIFF records (pieces of one window) against all of FROM. */
async function estimateRuns(encoder: TargetRangeEncoder, runs: readonly { offset: number; length: number }[], windowSize: number): Promise<number[]> {
  const ranges: TargetRange[] = [];
  const owner: number[] = [];
  runs.forEach((run, k) => {
    for (let at = 0; at < run.length; at += windowSize) {
      ranges.push({ start: run.offset + at, length: Math.min(windowSize, run.length - at) });
      owner.push(k);
    }
  });
  const deltas: Uint8Array[][] = runs.map(() => []);
  await encoder.encode(ranges, (i, delta) => {
    deltas[owner[i]!]!.push(delta);
  });
  return deltas.map((parts) => xzSize(parts));
}

/**
 * Splits TO into pieces: the file records, the new executables (in window-sized parts), and what lies
 * between them classified window by window.
 */
function planPieces(
  fromFd: number, toFd: number, sourceSize: number, targetSize: number, records: FileRecord[], executables: NewExecutable[],
  windowSize: number, avoid: Float64Array,
): Piece[] {
  const pieces: Piece[] = [];
  const bytes = new Uint8Array(windowSize);
  const old = new Uint8Array(windowSize);
  const plain = (start: number, end: number): void => {
    for (let at = start; at < end; at += windowSize) {
      const length = Math.min(windowSize, end - at);
      const neu = bytes.subarray(0, length);
      readFullyAt(toFd, neu, at);
      let kind: "zero" | "copy" | "vcdiff" = "vcdiff";
      if (isZero(neu)) kind = "zero";
      else if (at + length <= sourceSize && !overlapsRanges(avoid, at, at + length)) {
        const was = old.subarray(0, length);
        readFullyAt(fromFd, was, at);
        if (Buffer.compare(was, neu) === 0) kind = "copy";
      }
      pieces.push({ kind, start: at, length });
    }
  };
  // New executables inside [start, end) get pieces of their own.
  let e = 0;
  const gap = (start: number, end: number): void => {
    let at = start;
    for (; e < executables.length && executables[e]!.targetOffset < end; e++) {
      const x = executables[e]!;
      if (x.targetOffset < at || x.targetOffset + x.length > end) continue;
      plain(at, x.targetOffset);
      for (let k = 0; k < x.length; k += windowSize) {
        pieces.push({ kind: "vcdiff", start: x.targetOffset + k, length: Math.min(windowSize, x.length - k), filter: x.filter, filterStart: k, literalSize: x.literalSizes[k / windowSize]! });
      }
      at = x.targetOffset + x.length;
    }
    plain(at, end);
  };
  let at = 0;
  for (const r of records) {
    gap(at, r.targetOffset);
    pieces.push({ kind: "file", start: r.targetOffset, length: r.length, record: r });
    at = r.targetOffset + r.length;
  }
  gap(at, targetSize);
  return pieces;
}

async function writeRecords(
  fromImage: string, toImage: string, deltaPath: string, records: FileRecord[], executables: NewExecutable[], avoid: Float64Array,
  encoder: TargetRangeEncoder, pieceSize: number, options: MbdfWriteOptions,
): Promise<MbdfPlanSummary["records"]> {
  const sourceSize = deviceOrFileSize(fromImage);
  const targetSize = deviceOrFileSize(toImage);
  const counts = Object.fromEntries(RECORD_KINDS.map((k) => [k, { count: 0, targetBytes: 0, deltaBytes: 0 }])) as MbdfPlanSummary["records"];
  const header = { targetSize, sourceSize, targetSha256: options.targetSha256 };
  const reads = options.appHeader ? new RangeBuilder() : undefined;

  const outFd = fs.openSync(deltaPath, "w+");
  const fromFd = fs.openSync(fromImage, "r");
  const toFd = fs.openSync(toImage, "r");
  try {
    const pieces = planPieces(fromFd, toFd, sourceSize, targetSize, records, executables, pieceSize, avoid);
    let written = 0;
    const writer = new MbdfWriter(header, (chunk) => {
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(outFd, chunk, off, chunk.length - off);
      written += chunk.length;
    });
    const headerLength = written;
    const produced = (start: number, length: number): Uint8Array => {
      const bytes = new Uint8Array(length);
      readFullyAt(toFd, bytes, start);
      return bytes;
    };
    const count = (kind: RecordKindName, length: number, before: number): void => {
      const c = counts[kind];
      c.count++;
      c.targetBytes += length;
      c.deltaBytes += written - before;
      options.onProgress?.(writer.produced);
    };
    // Writes the pieces before piece `upTo` that are not VCDIFF (those come from the encoder, in order).
    let next = 0;
    const writeUpTo = (upTo: number): void => {
      for (; next < upTo; next++) {
        const p = pieces[next]!;
        const before = written;
        if (p.kind === "zero") {
          writer.zero(p.length);
          count("zero", p.length, before);
        } else if (p.kind === "copy") {
          writer.copy(p.start, produced(p.start, p.length));
          reads?.add(p.start, p.start + p.length);
          count("copy", p.length, before);
        } else if (p.kind === "file") {
          const r = p.record;
          for (const e of recordExtents(r)) reads?.add(e.sourceOffset, e.sourceOffset + e.length);
          if (r.kind === "approx") writer.approx(r.extents, r.diff, produced(p.start, p.length));
          else if (r.kind === "exec") writer.exec(r.extents, r.exec, produced(p.start, p.length), r.holes);
          else writer.redeflate(r.record, produced(p.start, p.length));
          count(r.kind, p.length, before);
        } else {
          throw new Error(`piece ${next} (VCDIFF) reached out of order`);
        }
      }
    };

    const vcdiffPieces: number[] = [];
    pieces.forEach((p, i) => { if (p.kind === "vcdiff") vcdiffPieces.push(i); });
    await encoder.encode(vcdiffPieces.map((i) => pieces[i]!), (k, delta, windowReads) => {
      const i = vcdiffPieces[k]!;
      writeUpTo(i);
      const p = pieces[i]! as Extract<Piece, { kind: "vcdiff" }>;
      const before = written;
      const bytes = produced(p.start, p.length);
      if (p.filter && p.literalSize! < xzSize([delta])) {
        writer.literal(bytes, p.filter, p.filterStart);
        count("literal", p.length, before);
      } else {
        writer.vcdiff(delta, bytes);
        if (windowReads) reads!.addAll(windowReads);
        count("vcdiff", p.length, before);
      }
      next = i + 1;
    });
    writeUpTo(pieces.length);
    writer.end();
    if (reads) swapHeader(outFd, written, headerLength, MbdfWriter.headerBytes({ ...header, readSet: options.appHeader!(reads.finish()) }));
  } finally {
    fs.closeSync(outFd);
    fs.closeSync(fromFd);
    fs.closeSync(toFd);
  }
  return counts;
}

/**
 * Replaces the first `oldLength` bytes of the `size`-byte file with `header` (longer: it carries the
 * read set), moving the records after it, from the end backwards so nothing is read after it is
 * overwritten.
 */
function swapHeader(fd: number, size: number, oldLength: number, header: Uint8Array): void {
  const shift = header.length - oldLength;
  if (shift < 0) throw new Error("the header with the read set is shorter than without it");
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (let end = size; end > oldLength;) {
    const start = Math.max(oldLength, end - chunk.length);
    const piece = chunk.subarray(0, end - start);
    readFullyAt(fd, piece, start);
    let off = 0;
    while (off < piece.length) off += fs.writeSync(fd, piece, off, piece.length - off, start + shift + off);
    end = start;
  }
  let off = 0;
  while (off < header.length) off += fs.writeSync(fd, header, off, header.length - off, off);
}
