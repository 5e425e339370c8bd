/**
 * Who owns some byte ranges of an ext2/3/4 image: which files, whether the filesystem itself
 * (metadata, journal), whether nobody (free space). Meant for the device, on a large filesystem:
 * no block-to-inode map is built; every inode's blocks are tested against the few ranges asked
 * about, and only those ranges are tracked (one bit per block).
 */
import type { BlockSource } from "../io/interfaces";
import { type ByteRange, mergeByteRanges } from "../io/byte-ranges";
import { forEachInode } from "./ext4-inode-table";
import { hasBlockMap, inodeMode, visitInodeBlocks } from "./ext4-inode";
import type { Ext4Layout } from "./ext4-layout";
import { forEachMetadataRun, isSpecialInode } from "./ext4-metadata";
import { pathsOf } from "./ext4-paths";
import { FsBlockReader } from "./fs-block-reader";

export interface Ext4Owners {
  /** Paths of the files owning blocks in the ranges, sorted, at most `limit` ("<inode N>" for one without a name). */
  paths: string[];
  /** Further files not listed because of `limit`. */
  more: number;
  /** Some blocks belong to the filesystem itself (superblocks, descriptors, bitmaps, inode tables, journal, ...). */
  metadata: boolean;
  /** Some blocks belong to nobody: free space, or past the end of the filesystem. */
  unowned: boolean;
}

/** The blocks asked about, each with one bit: does something own it. */
class Wanted {
  readonly starts: Float64Array;
  readonly ends: Float64Array;
  /** Index of each run's first block in `owned`. */
  private readonly firstBit: Float64Array;
  private readonly owned: Uint8Array;
  readonly total: number;

  constructor(runs: Array<[number, number]>) {
    this.starts = Float64Array.from(runs, (r) => r[0]);
    this.ends = Float64Array.from(runs, (r) => r[1]);
    this.firstBit = new Float64Array(runs.length);
    let total = 0;
    runs.forEach(([s, e], i) => {
      this.firstBit[i] = total;
      total += e - s;
    });
    this.total = total;
    this.owned = new Uint8Array(Math.ceil(total / 8));
  }

  /** Marks blocks [start, end) owned where asked about; true if any of them is. */
  mark(start: number, end: number): boolean {
    // First run ending after `start`.
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= start) lo = mid + 1;
      else hi = mid;
    }
    let hit = false;
    for (let i = lo; i < this.starts.length && this.starts[i]! < end; i++) {
      const from = Math.max(start, this.starts[i]!);
      const to = Math.min(end, this.ends[i]!);
      for (let b = from; b < to; b++) {
        const bit = this.firstBit[i]! + b - this.starts[i]!;
        this.owned[bit >> 3]! |= 1 << (bit & 7);
      }
      hit ||= to > from;
    }
    return hit;
  }

  allOwned(): boolean {
    for (let bit = 0; bit < this.total; bit++) if (!(this.owned[bit >> 3]! & (1 << (bit & 7)))) return false;
    return true;
  }
}

/** Who owns the blocks touched by `ranges` (byte offsets in the image). */
export function filesOwning(src: BlockSource, layout: Ext4Layout, ranges: readonly ByteRange[], limit: number): Ext4Owners {
  const bs = layout.blockSize;
  let unowned = false;
  const runs: Array<[number, number]> = [];
  for (const [s, e] of mergeByteRanges(ranges)) {
    const start = Math.floor(s / bs);
    const end = Math.ceil(e / bs);
    if (end > layout.blocksCount) unowned = true;
    if (Math.min(end, layout.blocksCount) > start) runs.push([start, Math.min(end, layout.blocksCount)]);
  }
  // Block runs can touch after rounding to whole blocks: merge them again.
  const merged: Array<[number, number]> = [];
  for (const r of runs) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push(r);
  }
  const wanted = new Wanted(merged);
  if (wanted.total === 0) return { paths: [], more: 0, metadata: false, unowned };

  let metadata = false;
  forEachMetadataRun(layout, (start, end) => {
    if (wanted.mark(start, end)) metadata = true;
  });
  // Block 0 of a 1 KiB-block filesystem (the boot sector) is outside every group.
  if (layout.firstDataBlock > 0 && wanted.mark(0, layout.firstDataBlock)) metadata = true;

  const reader = new FsBlockReader(src, bs);
  const owners = new Set<number>();
  forEachInode(reader, layout, (ino, raw) => {
    if (inodeMode(raw) === 0 && !hasBlockMap(raw, ino, layout)) return;
    let hit = false;
    const test = (start: number, end: number) => {
      if (wanted.mark(start, end)) hit = true;
    };
    visitInodeBlocks(reader, layout, ino, raw, { data: (s, n) => test(s, s + n), index: (b) => test(b, b + 1), xattr: (b) => test(b, b + 1) });
    if (!hit) return;
    if (isSpecialInode(layout, ino)) metadata = true;
    else owners.add(ino);
  });
  if (!wanted.allOwned()) unowned = true;

  const names = pathsOf(reader, layout, owners);
  const paths = [...owners].map((ino) => names.get(ino) ?? `<inode ${ino}>`).sort();
  const shown = paths.slice(0, Math.max(0, limit));
  return { paths: shown, more: paths.length - shown.length, metadata, unowned };
}
