/**
 * The file records of an MBDF delta between two ext4 images: each changed file of TO stored in one
 * contiguous run of the image, with a paired old file, gets the record plan-file.ts works out for it
 * (APPROX, EXEC or REDEFLATE; on the planner threads, plan-files.ts), kept only when it is clearly
 * smaller than VCDIFF on the same bytes (KEEP_RATIO, measured as compress/xz-size.ts says). New compressed
 * files and new executables are found here too.
 */
import fs from "node:fs";
import { MenderDeltaError } from "../../errors";
import { MAX_EXTENTS, MAX_RECORD_BUFFER } from "../../delta/mbdf/format";
import type { Extent } from "../../delta/mbdf/writer";
import { Ext4FileReader, HOLE, listExt4Files, pairFiles, readExt4Layout, type Ext4FileList, type Ext4Layout } from "../../fs/ext4";
import { FileBlockSource } from "../../io/file-source";
import type { BlockSource } from "../../io/interfaces";
import { readFullyAt } from "../../io/read-fully";
import { xzSize } from "../../compress/xz-size";
import type { BcjArch } from "../../compress/bcj";
import { elfBranchFilter } from "../../filediff/elf-filter";
import type { Hole } from "../../filediff/holes";
import { type Changed, type FilePlanOptions, type FileRecord } from "./plan-file";
import { planChangedFiles } from "./plan-files";

export { type FileRecord, MIN_EXEC_CANDIDATE } from "./plan-file";

/**
 * Files smaller than this are left to VCDIFF (a record's fixed cost would eat the gain), except
 * gzip and zlib files: one changed byte of their content changes all of their compressed bytes.
 */
export const MIN_FILE = 4096;
export const MIN_COMPRESSED_FILE = 64;
/** A kept record's estimated size is at most this share of VCDIFF's on the same bytes... */
export const KEEP_RATIO = 0.8;
/** ...and saves at least this many bytes: the VCDIFF record it splits in two costs about that. */
export const MIN_SAVING = 64;
/** Whether `bytes` start as a gzip member or a zlib stream (deflate, 32 KiB window, valid check bits). */
function looksCompressed(bytes: Uint8Array): boolean {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return true;
  return bytes[0] === 0x78 && ((bytes[0] << 8) | bytes[1]!) % 31 === 0;
}

export interface FileRecordPlan {
  /** Kept records, in target order, never overlapping. */
  records: FileRecord[];
  /**
   * Set when the files of FROM or TO cannot be listed (not ext4, or an ext4 its reader refuses):
   * which image, and why. There are no file records then: the delta is VCDIFF records only.
   */
  unreadable?: string;
  /** New files looked at (contiguous, paired, within the size limits) and how many were kept. */
  candidates: number;
  /**
   * TO's new executables (no old version) stored in one run of the image, with the branch filter of
   * their machine: a LITERAL record with that filter may code them smaller than VCDIFF (write-delta.ts).
   */
  newExecutables: NewExecutable[];
}

export interface NewExecutable {
  targetOffset: number;
  length: number;
  filter: BcjArch;
  /** Per piece of PlanOptions.pieceSize bytes: its estimated size as a filtered LITERAL record. */
  literalSizes: number[];
}

/**
 * File i's data as source extents (adjacent pieces merged), their total length, and its holes (in
 * file order, adjacent ones merged): blocks of zeros that mke2fs -d, which builds Yocto's images,
 * leaves unallocated, such as an arm64 program's page-alignment padding. Undefined for inline data,
 * no data, or too many extents.
 */
function fileData(files: Ext4FileList, i: number): { extents: Extent[]; length: number; holes: Hole[] } | undefined {
  const { pieces, pieceStart } = files;
  if (files.flags[i]! !== 0) return undefined;
  const extents: Extent[] = [];
  const holes: Hole[] = [];
  let length = 0;
  for (let p = pieceStart[i]!; p < pieceStart[i + 1]!; p++) {
    const at = pieces[3 * p + 1]!;
    const n = pieces[3 * p + 2]!;
    if (at === HOLE) {
      const offset = pieces[3 * p]!;
      const last = holes[holes.length - 1];
      if (last && last.offset + last.length === offset) last.length += n;
      else holes.push({ offset, length: n });
      continue;
    }
    length += n;
    const last = extents[extents.length - 1];
    if (last && last.sourceOffset + last.length === at) last.length += n;
    else extents.push({ sourceOffset: at, length: n });
  }
  return extents.length > 0 && extents.length <= MAX_EXTENTS ? { extents, length, holes } : undefined;
}

function readExtents(fd: number, extents: Extent[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of extents) {
    readFullyAt(fd, out.subarray(at, at + e.length), e.sourceOffset);
    at += e.length;
  }
  return out;
}

export interface PlanOptions extends FilePlanOptions {
  /** Planner threads (undefined: the CPUs, at most 8; plan-files.ts caps them further). */
  threads?: number;
  /** The pieces new executables are written in (the writer's VCDIFF window): their LITERAL estimates are per piece. */
  pieceSize: number;
  /** A line for the generator's debug log. */
  debug?(message: string): void;
}

/** Estimated bytes (as compress/xz-size.ts measures) of each of TO's runs as VCDIFF records against all of FROM. */
export type VcdiffEstimator = (runs: readonly { offset: number; length: number }[]) => Promise<number[]>;

/**
 * `read` of FROM's and of TO's file system, or why one of them cannot be read: it is not ext2/3/4,
 * or it is one this reader refuses (bigalloc, an unknown incompatible feature, a corrupt extent
 * tree...). Such a pair is still a valid one: its delta is VCDIFF records only, so it is said, not
 * thrown.
 */
function readPair<T>(fromSrc: BlockSource, toSrc: BlockSource, read: (src: BlockSource, layout: Ext4Layout) => T): [T, T] | string {
  const read1 = (side: string, src: BlockSource): T | string => {
    try {
      const layout = readExt4Layout(src);
      return layout ? read(src, layout) : `${side} is not an ext4 image`;
    } catch (err) {
      if (!(err instanceof MenderDeltaError)) throw err;
      return `${side}'s ext4 file system cannot be read here (${err.message})`;
    }
  };
  const from = read1("FROM", fromSrc);
  if (typeof from === "string") return from;
  const to = read1("TO", toSrc);
  return typeof to === "string" ? to : [from, to];
}

/**
 * Why the delta cannot follow the files of FROM and TO (one is not an ext2/3/4 file system this
 * reader can read), or undefined when it can: the superblocks and group descriptors only.
 */
export function ext4PairProblem(fromImage: string, toImage: string): string | undefined {
  const sources = [new FileBlockSource(fromImage), new FileBlockSource(toImage)] as const;
  try {
    const layouts = readPair(sources[0], sources[1], () => true);
    return typeof layouts === "string" ? layouts : undefined;
  } finally {
    for (const src of sources) src.close();
  }
}

/**
 * Plans the file records of the delta from `fromImage` to `toImage`. The VCDIFF estimates of the
 * changed files run (in the encoder's worker threads) while their records are worked out here.
 */
export async function planFileRecords(
  fromImage: string, toImage: string, estimate: VcdiffEstimator, options: PlanOptions = { executableDiffs: true, pieceSize: 1 << 20 },
): Promise<FileRecordPlan> {
  const fromSrc = new FileBlockSource(fromImage);
  const toSrc = new FileBlockSource(toImage);
  const fromFd = fs.openSync(fromImage, "r");
  const toFd = fs.openSync(toImage, "r");
  try {
    const lists = readPair(fromSrc, toSrc, listExt4Files);
    if (typeof lists === "string") return { records: [], unreadable: lists, candidates: 0, newExecutables: [] };
    const [oldFiles, newFiles] = lists;
    const oldReader = new Ext4FileReader(fromSrc, oldFiles);
    const newReader = new Ext4FileReader(toSrc, newFiles);
    const pairs = pairFiles(oldFiles, newFiles, (side, i) => (side === "old" ? oldReader : newReader).contentDigest(i));

    const records: FileRecord[] = [];
    const newExecutables: NewExecutable[] = [];
    /** New compressed files (runs of TO), checked for an exact rebuild on the planner threads. */
    const compressedRuns: { offset: number; length: number }[] = [];
    const changed: Changed[] = [];
    /** Keeps `record` when it is clearly smaller than VCDIFF's `vcdiff` estimated bytes. */
    const keep = (record: FileRecord, size: number, vcdiff: number): void => {
      if (size <= KEEP_RATIO * vcdiff && vcdiff - size >= MIN_SAVING) records.push(record);
    };
    for (let i = 0; i < newFiles.count; i++) {
      const j = pairs.old[i]!;
      // A new file is written by one record: its data must be one run of TO's image.
      const newData = fileData(newFiles, i);
      if (!newData || newData.extents.length !== 1 || newData.length < MIN_COMPRESSED_FILE || newData.length > MAX_RECORD_BUFFER) continue;
      const run = { offset: newData.extents[0]!.sourceOffset, length: newData.length };
      if (j < 0) {
        if (newData.holes.length > 0) continue;
        // A new file: VCDIFF stores its bytes (compressed files and code find nothing in FROM).
        const neu = new Uint8Array(run.length);
        readFullyAt(toFd, neu, run.offset);
        const filter = run.length >= MIN_FILE ? elfBranchFilter(neu) : null;
        if (filter) newExecutables.push({ targetOffset: run.offset, length: run.length, filter, literalSizes: [] });
        if (looksCompressed(neu)) compressedRuns.push(run);
        continue;
      }
      // An identical file, moved or not: VCDIFF's index of all of FROM finds it and copies it for a few bytes.
      if (pairs.unchanged[i]) continue;
      const oldData = fileData(oldFiles, j);
      if (!oldData || oldData.length > MAX_RECORD_BUFFER) continue;
      const { extents } = oldData;
      const neu = new Uint8Array(run.length);
      readFullyAt(toFd, neu, run.offset);
      if (run.length < MIN_FILE && !looksCompressed(neu)) continue;
      // A file with holes is diffed as its data alone (holes are zeros on both sides: they cost
      // nothing), or by EXEC as the whole files its hole lists rebuild; REDEFLATE is not tried.
      const sparse = newData.holes.length > 0 || oldData.holes.length > 0;
      changed.push({
        path: newFiles.paths[i]![0] ?? `(unnamed file ${i})`, run, extents, old: readExtents(fromFd, extents, oldData.length), neu,
        ...(sparse ? { holes: { old: oldData.holes, new: newData.holes } } : {}),
      });
    }

    const estimates = estimate(changed.map((c) => c.run));
    // Awaited below; until then a failure must not count as an unhandled rejection (which ends the process).
    estimates.catch(() => undefined);
    // Per changed file, its record and estimated size (none when a stream would pass the format's
    // 16 MiB: only for pathological pairs, left to VCDIFF), worked out on the planner threads.
    // The new executables' LITERAL estimates run on the same threads, their bytes read again when a
    // thread takes them (rather than all of them held from the listing on).
    const readTo = (offset: number, length: number) => (): Uint8Array => {
      const bytes = new Uint8Array(length);
      readFullyAt(toFd, bytes, offset);
      return bytes;
    };
    const literals = newExecutables.map((x) => ({ filter: x.filter, read: readTo(x.targetOffset, x.length) }));
    const rebuilds = compressedRuns.map((run) => ({ read: readTo(run.offset, run.length) }));
    const { planned, literalSizes, rebuilt } = await planChangedFiles(changed, options, options.threads, { literals, pieceSize: options.pieceSize, rebuilds });
    newExecutables.forEach((x, k) => (x.literalSizes = literalSizes[k]!));
    const vcdiff = await estimates;
    planned.forEach(({ planned: p, debug }, k) => {
      for (const line of debug) options.debug?.(line);
      if (!p) {
        options.debug?.(`${changed[k]!.path}: left to VCDIFF (a stream of its diff would pass the format's limits)`);
        return;
      }
      const before = records.length;
      keep(p.record, p.size, vcdiff[k]!);
      const what = `${p.record.kind.toUpperCase()} ~${p.size} B, VCDIFF ~${vcdiff[k]} B`;
      options.debug?.(`${changed[k]!.path}: ${records.length > before ? "" : "left to VCDIFF, "}${what}`);
    });

    // New compressed files are judged together: their contents compress well against each other
    // (man pages, changelogs), which no one file's estimate sees. As VCDIFF, their bytes are stored.
    const newCompressed: Extract<FileRecord, { kind: "redeflate" }>[] = [];
    const newCompressedBytes: Uint8Array[] = [];
    rebuilt.forEach((record, k) => {
      if (!record) return;
      const run = compressedRuns[k]!;
      newCompressed.push({ kind: "redeflate", targetOffset: run.offset, length: run.length, record });
      newCompressedBytes.push(readTo(run.offset, run.length)());
    });
    if (newCompressed.length > 0) {
      const size = xzSize(newCompressed.map((r) => r.record.newContent)) + newCompressed.reduce((sum, r) => sum + r.record.header.length + 16, 0);
      const asVcdiff = xzSize(newCompressedBytes);
      if (size <= KEEP_RATIO * asVcdiff && asVcdiff - size >= MIN_SAVING) records.push(...newCompressed);
    }
    records.sort((a, b) => a.targetOffset - b.targetOffset);
    newExecutables.sort((a, b) => a.targetOffset - b.targetOffset);
    return { records, candidates: changed.length + newCompressed.length, newExecutables };
  } finally {
    fs.closeSync(fromFd);
    fs.closeSync(toFd);
    fromSrc.close();
    toSrc.close();
  }
}
