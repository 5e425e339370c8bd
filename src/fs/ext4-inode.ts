/**
 * One inode's blocks: the data blocks, the blocks that map them (extent tree nodes below the inode,
 * indirect blocks of ext2/3 block maps) and its extended attribute block. Every block number is
 * checked against the filesystem and every tree is walked to a bounded depth, so a corrupt inode
 * gives a MenderDeltaError, never a loop.
 */
import { MenderDeltaError } from "../errors";
import type { Ext4Layout } from "./ext4-layout";
import type { FsBlockReader } from "./fs-block-reader";

export const S_IFMT = 0xf000;
export const S_IFREG = 0x8000;
export const S_IFDIR = 0x4000;
export const S_IFLNK = 0xa000;
const EXT4_EXTENTS_FL = 0x80000;
const EXT4_INLINE_DATA_FL = 0x10000000;
/** The inode holds an extended attribute's value (ea_inode), not a file. */
const EXT4_EA_INODE_FL = 0x200000;
const EXTENT_MAGIC = 0xf30a;
/** The kernel's limit (EXT4_MAX_EXTENT_DEPTH). */
const MAX_EXTENT_DEPTH = 5;
const I_BLOCK = 0x28;
const I_BLOCK_BYTES = 60;

export interface InodeBlockVisitor {
  /**
   * Data blocks [start, start + count), holding the file's blocks [logical, logical + count);
   * `unwritten`: a preallocated extent, which reads as zeros. Runs are coalesced where they follow
   * each other both on disk and in the file.
   */
  data(start: number, count: number, logical: number, unwritten: boolean): void;
  /** A block that maps data: an extent tree node or an indirect block. */
  index(block: number): void;
  /** The extended attribute block. */
  xattr(block: number): void;
}

export const inodeMode = (raw: Uint8Array): number => raw[0]! | (raw[1]! << 8);
export const inodeLinks = (raw: Uint8Array): number => raw[0x1a]! | (raw[0x1b]! << 8);
const u32 = (raw: Uint8Array, o: number): number => (raw[o]! | (raw[o + 1]! << 8) | (raw[o + 2]! << 16) | (raw[o + 3]! << 24)) >>> 0;
const u16 = (raw: Uint8Array, o: number): number => raw[o]! | (raw[o + 1]! << 8);
/** The data is in the inode itself (i_block and the system.data attribute): ext4-inline-data.ts. */
export const hasInlineData = (raw: Uint8Array): boolean => (u32(raw, 0x20) & EXT4_INLINE_DATA_FL) !== 0;
export const isEaInode = (raw: Uint8Array): boolean => (u32(raw, 0x20) & EXT4_EA_INODE_FL) !== 0;

/** The inode's size in bytes. */
export function inodeSize(raw: Uint8Array): number {
  return u32(raw, 0x4) + u32(raw, 0x6c) * 2 ** 32;
}

/**
 * Whether the inode's i_block holds a block map or an extent tree. Device files keep device
 * numbers there, fast symlinks their target, inline-data inodes their data. Reserved inodes with
 * no mode (the bad blocks inode) still map blocks.
 */
export function hasBlockMap(raw: Uint8Array, ino: number, layout: Ext4Layout): boolean {
  if (hasInlineData(raw)) return false;
  const type = inodeMode(raw) & S_IFMT;
  if (type === S_IFREG || type === S_IFDIR) return true;
  if (type === S_IFLNK) {
    const size = inodeSize(raw);
    return !(size > 0 && size < I_BLOCK_BYTES);
  }
  return type === 0 && ino < layout.firstInode;
}

/** Visits the blocks inode `ino` (raw bytes `raw`) owns. */
export function visitInodeBlocks(reader: FsBlockReader, layout: Ext4Layout, ino: number, raw: Uint8Array, visit: InodeBlockVisitor): void {
  const fileAcl = u32(raw, 0x68) + u16(raw, 0x76) * 2 ** 32;
  if (fileAcl !== 0) {
    check(layout, ino, fileAcl, 1);
    visit.xattr(fileAcl);
  }
  if (!hasBlockMap(raw, ino, layout)) return;
  const iBlock = raw.subarray(I_BLOCK, I_BLOCK + I_BLOCK_BYTES);
  const runs = new RunCoalescer(visit);
  if (u32(raw, 0x20) & EXT4_EXTENTS_FL) {
    new ExtentWalker(reader, layout, ino, runs, visit).node(iBlock, -1);
  } else {
    new BlockMapWalker(reader, layout, ino, runs, visit).walk(iBlock);
  }
  runs.flush();
}

function check(layout: Ext4Layout, ino: number, block: number, count: number): void {
  if (block < layout.firstDataBlock || block + count > layout.blocksCount) {
    throw new MenderDeltaError(`ext4: inode ${ino} is corrupt: it points to block ${block}${count > 1 ? ` (+${count})` : ""}, outside the filesystem's ${layout.blocksCount} blocks`);
  }
}

/** Joins data blocks that follow each other on disk and in the file into one `data` call. */
class RunCoalescer {
  private start = 0;
  private count = 0;
  private logical = 0;
  private unwritten = false;
  constructor(private readonly visit: InodeBlockVisitor) {}
  add(start: number, count: number, logical: number, unwritten: boolean): void {
    if (this.count > 0 && this.start + this.count === start && this.logical + this.count === logical && this.unwritten === unwritten) {
      this.count += count;
      return;
    }
    this.flush();
    this.start = start;
    this.count = count;
    this.logical = logical;
    this.unwritten = unwritten;
  }
  flush(): void {
    if (this.count > 0) this.visit.data(this.start, this.count, this.logical, this.unwritten);
    this.count = 0;
  }
}

class ExtentWalker {
  /** One buffer per tree level below the inode. */
  private readonly buffers: Uint8Array[] = [];
  constructor(
    private readonly reader: FsBlockReader,
    private readonly layout: Ext4Layout,
    private readonly ino: number,
    private readonly runs: RunCoalescer,
    private readonly visit: InodeBlockVisitor,
  ) {}

  /** Walks the node in `bytes`; `wantDepth` is the depth its parent implies (-1 for the root). */
  node(bytes: Uint8Array, wantDepth: number): void {
    const magic = u16(bytes, 0);
    const entries = u16(bytes, 2);
    const depth = u16(bytes, 6);
    if (magic !== EXTENT_MAGIC || 12 + entries * 12 > bytes.length || depth > MAX_EXTENT_DEPTH || (wantDepth >= 0 && depth !== wantDepth)) {
      throw new MenderDeltaError(`ext4: inode ${this.ino} has a corrupt extent tree`);
    }
    for (let i = 0; i < entries; i++) {
      const o = 12 + i * 12;
      if (depth === 0) {
        let len = u16(bytes, o + 4);
        // An uninitialized (preallocated) extent: its blocks are still taken, and read as zeros.
        const unwritten = len > 32768;
        if (unwritten) len -= 32768;
        const start = u32(bytes, o + 8) + u16(bytes, o + 6) * 2 ** 32;
        if (len === 0) continue;
        check(this.layout, this.ino, start, len);
        this.runs.add(start, len, u32(bytes, o), unwritten);
      } else {
        const child = u32(bytes, o + 4) + u16(bytes, o + 8) * 2 ** 32;
        check(this.layout, this.ino, child, 1);
        this.visit.index(child);
        const buffer = (this.buffers[depth] ??= new Uint8Array(this.layout.blockSize));
        this.node(this.reader.read(child, 1, buffer), depth - 1);
      }
    }
  }
}

class BlockMapWalker {
  private readonly buffers: Uint8Array[] = [];
  constructor(
    private readonly reader: FsBlockReader,
    private readonly layout: Ext4Layout,
    private readonly ino: number,
    private readonly runs: RunCoalescer,
    private readonly visit: InodeBlockVisitor,
  ) {}

  walk(iBlock: Uint8Array): void {
    const perBlock = this.layout.blockSize / 4;
    for (let i = 0; i < 12; i++) this.pointer(u32(iBlock, i * 4), 0, i);
    let logical = 12;
    for (let level = 1; level <= 3; level++) {
      this.pointer(u32(iBlock, (11 + level) * 4), level, logical);
      logical += perBlock ** level;
    }
  }

  /**
   * A block pointer: a data block at level 0, else an indirect block `level` steps above the data;
   * `logical` is the first file block it maps.
   */
  private pointer(block: number, level: number, logical: number): void {
    if (block === 0) return; // a hole
    check(this.layout, this.ino, block, 1);
    if (level === 0) {
      this.runs.add(block, 1, logical, false);
      return;
    }
    this.visit.index(block);
    const buffer = (this.buffers[level] ??= new Uint8Array(this.layout.blockSize));
    const bytes = this.reader.read(block, 1, buffer);
    const span = (this.layout.blockSize / 4) ** (level - 1);
    for (let j = 0, o = 0; o < bytes.length; j++, o += 4) this.pointer(u32(bytes, o), level - 1, logical + j * span);
  }
}
