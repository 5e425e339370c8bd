/**
 * The bytes of an ext2/3/4 image that a read-write mount may rewrite without any program asking to
 * change a file: the filesystem's own metadata, the journal, free space (new files and appended
 * data land there), directories (entries come and go), the blocks that map a file's data (they
 * change when a file grows), extended attribute blocks (shared and reference counted), and the
 * slack after the end of each file in its last block (appending to a log writes there first;
 * truncating zeroes it). What is left is the data of existing files, which changes only when a
 * program rewrites that data.
 */
import type { BlockSource } from "../io/interfaces";
import { mergeByteRanges, type ByteRange } from "../io/byte-ranges";
import { BlockRuns } from "./block-runs";
import { forEachInode } from "./ext4-inode-table";
import { hasBlockMap, inodeLinks, inodeMode, inodeSize, S_IFDIR, S_IFMT, S_IFREG, visitInodeBlocks } from "./ext4-inode";
import { BG_BLOCK_UNINIT, type Ext4Layout, groupBlockCount, groupFirstBlock } from "./ext4-layout";
import { forEachMetadataRun, isSpecialInode } from "./ext4-metadata";
import { FsBlockReader } from "./fs-block-reader";

/** Byte ranges of `src` (sorted, merged, end exclusive) that a mounted `layout` may rewrite by itself. */
export function volatileRanges(src: BlockSource, layout: Ext4Layout): ByteRange[] {
  const reader = new FsBlockReader(src, layout.blockSize);
  const runs = new BlockRuns();
  const add = (start: number, end: number) => runs.add(start, end);
  forEachMetadataRun(layout, add);
  addFreeBlocks(reader, layout, add);

  const all = { data: (s: number, n: number) => add(s, s + n), index: (b: number) => add(b, b + 1), xattr: (b: number) => add(b, b + 1) };
  // Data blocks of a regular file, in logical order: how many, and the last one (for its slack).
  let dataBlocks = 0;
  let lastData = -1;
  const mapping = {
    data: (s: number, n: number) => {
      dataBlocks += n;
      lastData = s + n - 1;
    },
    index: all.index,
    xattr: all.xattr,
  };
  const tails: ByteRange[] = [];
  const bs = layout.blockSize;
  forEachInode(reader, layout, (ino, raw) => {
    const mode = inodeMode(raw);
    if (mode === 0 && !hasBlockMap(raw, ino, layout)) return;
    // An unlinked inode still in use is an orphan: the next mount frees its blocks.
    const whole = (mode & S_IFMT) === S_IFDIR || isSpecialInode(layout, ino) || inodeLinks(raw) === 0;
    dataBlocks = 0;
    lastData = -1;
    visitInodeBlocks(reader, layout, ino, raw, whole ? all : mapping);
    if (whole || (mode & S_IFMT) !== S_IFREG) return;
    const size = inodeSize(raw);
    // Only when the mapped blocks are exactly the file's (not sparse, nothing preallocated past
    // the end) is the last one visited the one holding the end of the file.
    if (size % bs !== 0 && lastData >= 0 && dataBlocks === Math.ceil(size / bs)) {
      tails.push([lastData * bs + (size % bs), (lastData + 1) * bs]);
    }
  });
  return mergeByteRanges([...runs.byteRanges(bs), ...tails]);
}

/**
 * Blocks the block bitmaps mark free. A BLOCK_UNINIT group has no bitmap on disk: all of it is
 * free but its metadata, which is added anyway, so the whole group is taken.
 */
function addFreeBlocks(reader: FsBlockReader, layout: Ext4Layout, add: (start: number, end: number) => void): void {
  const bitmap = new Uint8Array(layout.blockSize);
  for (let g = 0; g < layout.groupCount; g++) {
    const first = groupFirstBlock(layout, g);
    const count = groupBlockCount(layout, g);
    if (layout.groupDescCsum && layout.groups.flags[g]! & BG_BLOCK_UNINIT) {
      add(first, first + count);
      continue;
    }
    reader.read(layout.groups.blockBitmap[g]!, 1, bitmap);
    let runStart = -1;
    for (let i = 0; i < count; i++) {
      const byte = bitmap[i >> 3]!;
      if ((i & 7) === 0 && (byte === 0 || byte === 0xff) && i + 8 <= count) {
        // Whole bytes at a time: bitmaps are mostly long runs.
        if (byte === 0) {
          if (runStart < 0) runStart = i;
        } else if (runStart >= 0) {
          add(first + runStart, first + i);
          runStart = -1;
        }
        i += 7;
        continue;
      }
      const used = byte & (1 << (i & 7));
      if (!used && runStart < 0) runStart = i;
      else if (used && runStart >= 0) {
        add(first + runStart, first + i);
        runStart = -1;
      }
    }
    if (runStart >= 0) add(first + runStart, first + count);
  }
}
