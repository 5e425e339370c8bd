/**
 * The ext2/3/4 superblock and group descriptor table: where every group's bitmaps and inode table
 * are, and the features that decide where the backup superblocks and descriptor tables are. What
 * this reader cannot read safely (bigalloc, a journal device, unknown incompatible features,
 * numbers that do not add up) is refused with a MenderDeltaError instead of guessed at.
 */
import { MenderDeltaError } from "../errors";
import type { BlockSource } from "../io/interfaces";
import { FsBlockReader } from "./fs-block-reader";

const SUPERBLOCK_OFFSET = 1024;
const EXT4_MAGIC = 0xef53;

// Feature bits (the names of the kernel's ext4.h).
const COMPAT_RESIZE_INODE = 0x10;
const COMPAT_SPARSE_SUPER2 = 0x200;
const INCOMPAT_COMPRESSION = 0x1;
const INCOMPAT_FILETYPE = 0x2;
const INCOMPAT_JOURNAL_DEV = 0x8;
const INCOMPAT_META_BG = 0x10;
const INCOMPAT_EXTENTS = 0x40;
const INCOMPAT_64BIT = 0x80;
const INCOMPAT_MMP = 0x100;
const INCOMPAT_FLEX_BG = 0x200;
const INCOMPAT_INLINE_DATA = 0x8000;
const INCOMPAT_DIRDATA = 0x1000;
/** recover, ea_inode, csum_seed, largedir, encrypt, casefold: nothing here depends on them. */
const INCOMPAT_HARMLESS = 0x4 | 0x400 | 0x2000 | 0x4000 | 0x10000 | 0x20000;
const INCOMPAT_KNOWN =
  INCOMPAT_FILETYPE | INCOMPAT_META_BG | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_MMP | INCOMPAT_FLEX_BG | INCOMPAT_INLINE_DATA | INCOMPAT_HARMLESS;
const RO_COMPAT_SPARSE_SUPER = 0x1;
const RO_COMPAT_GDT_CSUM = 0x10;
const RO_COMPAT_BIGALLOC = 0x200;
const RO_COMPAT_METADATA_CSUM = 0x400;

export const BG_INODE_UNINIT = 0x1;
export const BG_BLOCK_UNINIT = 0x2;

/** The per-group descriptor fields, one entry per group. */
export interface Ext4Groups {
  readonly blockBitmap: Float64Array;
  readonly inodeBitmap: Float64Array;
  readonly inodeTable: Float64Array;
  /** bg_flags (BG_INODE_UNINIT, BG_BLOCK_UNINIT, ...): only meaningful when `groupDescCsum`. */
  readonly flags: Uint16Array;
  /** Inodes at the end of the group's table never used (bg_itable_unused): only meaningful when `groupDescCsum`. */
  readonly itableUnused: Uint32Array;
}

export interface Ext4Layout {
  readonly blockSize: number;
  readonly blocksCount: number;
  readonly firstDataBlock: number;
  readonly blocksPerGroup: number;
  readonly inodesPerGroup: number;
  readonly inodesCount: number;
  readonly inodeSize: number;
  /** First inode number not reserved for the filesystem itself (11 on most filesystems). */
  readonly firstInode: number;
  readonly groupCount: number;
  /** Blocks of one group's inode table. */
  readonly inodeTableBlocks: number;
  readonly descSize: number;
  /** Blocks of the group descriptor table (without reserved GDT blocks). */
  readonly gdtBlocks: number;
  readonly reservedGdtBlocks: number;
  readonly sparseSuper: boolean;
  /** Backup superblocks only in groups `backupGroups` (besides group 0). */
  readonly sparseSuper2: boolean;
  readonly backupGroups: readonly [number, number];
  readonly metaBg: boolean;
  readonly firstMetaBg: number;
  readonly flexBg: boolean;
  readonly is64bit: boolean;
  readonly extents: boolean;
  readonly inlineData: boolean;
  /** Directory entries carry a file type byte (their name length is one byte). */
  readonly fileType: boolean;
  /** gdt_csum or metadata_csum: the UNINIT group flags and bg_itable_unused are in force. */
  readonly groupDescCsum: boolean;
  /** The journal's inode (0: no journal, or an external one). */
  readonly journalInode: number;
  /** Inodes the filesystem keeps for itself beyond the reserved ones: quota files, the orphan file. */
  readonly specialInodes: readonly number[];
  /** The multi-mount protection block, which a mounted filesystem rewrites periodically (0: none). */
  readonly mmpBlock: number;
  readonly groups: Ext4Groups;
}

function notReadable(message: string): never {
  throw new MenderDeltaError(`ext4: ${message}`);
}

/**
 * A valid file system with a feature this reader does not read (bigalloc, an incompatible feature
 * it does not know), as opposed to a damaged one: `e2fsck` finds nothing wrong with it, so an
 * error message must not send its user there.
 */
export class UnsupportedExt4Error extends MenderDeltaError {}

function unsupported(message: string): never {
  throw new UnsupportedExt4Error(`ext4: ${message}`);
}

/** The layout of an ext2/3/4 image, or undefined when `src` holds no ext2/3/4 superblock. */
export function readExt4Layout(src: BlockSource): Ext4Layout | undefined {
  if (src.size < SUPERBLOCK_OFFSET + 1024) return undefined;
  const sb = new Uint8Array(1024);
  const reader0 = new FsBlockReader(src, 1024);
  reader0.readBytes(SUPERBLOCK_OFFSET, 1024, sb);
  const v = new DataView(sb.buffer);
  if (v.getUint16(0x38, true) !== EXT4_MAGIC) return undefined;
  const u32 = (o: number) => v.getUint32(o, true);
  const u16 = (o: number) => v.getUint16(o, true);

  const logBlockSize = u32(0x18);
  if (logBlockSize > 6) notReadable(`unsupported block size 2^${10 + logBlockSize} (the superblock says s_log_block_size ${logBlockSize})`);
  const blockSize = 1024 << logBlockSize;
  const compat = u32(0x5c);
  const incompat = u32(0x60);
  const roCompat = u32(0x64);
  if (incompat & INCOMPAT_JOURNAL_DEV) notReadable("the image is an external journal device, not a filesystem");
  if (incompat & (INCOMPAT_COMPRESSION | INCOMPAT_DIRDATA)) unsupported(`unsupported incompatible features 0x${(incompat & (INCOMPAT_COMPRESSION | INCOMPAT_DIRDATA)).toString(16)}`);
  if (incompat & ~INCOMPAT_KNOWN) unsupported(`unknown incompatible features 0x${((incompat & ~INCOMPAT_KNOWN) >>> 0).toString(16)}`);
  if (roCompat & RO_COMPAT_BIGALLOC) unsupported("bigalloc filesystems (clusters of blocks) are not supported");
  const is64bit = (incompat & INCOMPAT_64BIT) !== 0;

  const blocksCount = u32(0x4) + (is64bit ? u32(0x150) * 2 ** 32 : 0);
  const firstDataBlock = u32(0x14);
  const blocksPerGroup = u32(0x20);
  const inodesPerGroup = u32(0x28);
  const inodesCount = u32(0x0);
  const revLevel = u32(0x4c);
  const inodeSize = revLevel === 0 ? 128 : u16(0x58);
  const firstInode = revLevel === 0 ? 11 : u32(0x54);
  if (firstDataBlock !== (blockSize === 1024 ? 1 : 0)) notReadable(`first data block ${firstDataBlock} does not fit block size ${blockSize}`);
  if (blocksPerGroup < 8 || blocksPerGroup > 8 * blockSize || blocksPerGroup % 8 !== 0) notReadable(`bad blocks per group ${blocksPerGroup}`);
  if (inodesPerGroup < 1 || inodesPerGroup > 8 * blockSize) notReadable(`bad inodes per group ${inodesPerGroup}`);
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) notReadable(`bad inode size ${inodeSize}`);
  if (blocksCount <= firstDataBlock) notReadable(`bad block count ${blocksCount}`);
  if (blocksCount * blockSize > src.size) {
    notReadable(`the image is truncated: the filesystem has ${blocksCount * blockSize} bytes, the image ${src.size}`);
  }
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (groupCount * inodesPerGroup !== inodesCount) {
    notReadable(`the superblock does not add up: ${groupCount} groups of ${inodesPerGroup} inodes, but ${inodesCount} inodes`);
  }
  if (firstInode < 11 || firstInode > inodesCount) notReadable(`bad first inode ${firstInode}`);

  let descSize = 32;
  if (is64bit) {
    descSize = u16(0xfe);
    if (descSize < 64 || descSize > 1024 || (descSize & (descSize - 1)) !== 0) notReadable(`bad group descriptor size ${descSize}`);
  }
  const descPerBlock = blockSize / descSize;
  const gdtBlocks = Math.ceil(groupCount / descPerBlock);
  const metaBg = (incompat & INCOMPAT_META_BG) !== 0;
  const firstMetaBg = metaBg ? u32(0x104) : 0;
  const reservedGdtBlocks = compat & COMPAT_RESIZE_INODE ? u16(0xce) : 0;
  if (metaBg && firstMetaBg > gdtBlocks) notReadable(`bad first meta block group ${firstMetaBg}`);
  if (!metaBg && 1 + gdtBlocks + reservedGdtBlocks > blocksPerGroup) notReadable(`the group descriptor table (${gdtBlocks} + ${reservedGdtBlocks} blocks) does not fit in a group`);
  const sparseSuper2 = (compat & COMPAT_SPARSE_SUPER2) !== 0;
  const inodeTableBlocks = Math.ceil((inodesPerGroup * inodeSize) / blockSize);

  const journalInode = u32(0xe0);
  if (journalInode > inodesCount) notReadable(`bad journal inode ${journalInode}`);
  // Quota inodes (user, group, project) and the orphan file: written by a mounted filesystem.
  const specialInodes = [u32(0x240), u32(0x244), u32(0x26c), u32(0x280)].filter((ino) => ino !== 0 && ino <= inodesCount);
  const mmpBlock = incompat & INCOMPAT_MMP ? u32(0x168) + u32(0x16c) * 2 ** 32 : 0;
  if (mmpBlock >= blocksCount) notReadable(`bad MMP block ${mmpBlock}`);

  const layout: Omit<Ext4Layout, "groups"> = {
    blockSize,
    blocksCount,
    firstDataBlock,
    blocksPerGroup,
    inodesPerGroup,
    inodesCount,
    inodeSize,
    firstInode,
    groupCount,
    inodeTableBlocks,
    descSize,
    gdtBlocks,
    reservedGdtBlocks,
    sparseSuper: (roCompat & RO_COMPAT_SPARSE_SUPER) !== 0,
    sparseSuper2,
    backupGroups: sparseSuper2 ? [u32(0x24c), u32(0x250)] : [0, 0],
    metaBg,
    firstMetaBg,
    flexBg: (incompat & INCOMPAT_FLEX_BG) !== 0,
    is64bit,
    extents: (incompat & INCOMPAT_EXTENTS) !== 0,
    inlineData: (incompat & INCOMPAT_INLINE_DATA) !== 0,
    fileType: (incompat & INCOMPAT_FILETYPE) !== 0,
    groupDescCsum: (roCompat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM)) !== 0,
    journalInode,
    specialInodes,
    mmpBlock,
  };
  return { ...layout, groups: readGroupDescriptors(new FsBlockReader(src, blockSize), layout) };
}

/** Reads and checks every group descriptor. */
function readGroupDescriptors(reader: FsBlockReader, layout: Omit<Ext4Layout, "groups">): Ext4Groups {
  const n = layout.groupCount;
  const groups: Ext4Groups = {
    blockBitmap: new Float64Array(n),
    inodeBitmap: new Float64Array(n),
    inodeTable: new Float64Array(n),
    flags: new Uint16Array(n),
    itableUnused: new Uint32Array(n),
  };
  const perBlock = layout.blockSize / layout.descSize;
  const block = new Uint8Array(layout.blockSize);
  const v = new DataView(block.buffer);
  const wide = layout.is64bit;
  const { blocksCount, firstDataBlock } = layout;
  for (let first = 0; first < n; first += perBlock) {
    reader.read(descriptorBlock(layout, first / perBlock), 1, block);
    for (let g = first; g < Math.min(n, first + perBlock); g++) {
      const o = (g - first) * layout.descSize;
      const hi = (at: number) => (wide ? v.getUint32(o + at, true) * 2 ** 32 : 0);
      const blockBitmap = v.getUint32(o, true) + hi(0x20);
      const inodeBitmap = v.getUint32(o + 0x4, true) + hi(0x24);
      const inodeTable = v.getUint32(o + 0x8, true) + hi(0x28);
      const inRange = (b: number, len: number) => b >= firstDataBlock && b + len <= blocksCount;
      if (!inRange(blockBitmap, 1) || !inRange(inodeBitmap, 1) || !inRange(inodeTable, layout.inodeTableBlocks)) {
        notReadable(`group descriptor ${g} is corrupt: block bitmap ${blockBitmap}, inode bitmap ${inodeBitmap}, inode table ${inodeTable} (filesystem has ${blocksCount} blocks)`);
      }
      groups.blockBitmap[g] = blockBitmap;
      groups.inodeBitmap[g] = inodeBitmap;
      groups.inodeTable[g] = inodeTable;
      groups.flags[g] = v.getUint16(o + 0x12, true);
      groups.itableUnused[g] = v.getUint16(o + 0x1c, true) + (wide ? v.getUint16(o + 0x32, true) * 0x10000 : 0);
    }
  }
  return groups;
}

/** Whether group `g` holds a superblock (the primary, or a backup). */
export function groupHasSuper(layout: Omit<Ext4Layout, "groups">, g: number): boolean {
  if (g === 0) return true;
  if (layout.sparseSuper2) return g === layout.backupGroups[0] || g === layout.backupGroups[1];
  if (g <= 1 || !layout.sparseSuper) return true;
  if (g % 2 === 0) return false;
  return isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);
}

function isPowerOf(n: number, base: number): boolean {
  let p = base;
  while (p < n) p *= base;
  return p === n;
}

export function groupFirstBlock(layout: Omit<Ext4Layout, "groups">, g: number): number {
  return layout.firstDataBlock + g * layout.blocksPerGroup;
}

/** Blocks of group `g`: the last group may be short. */
export function groupBlockCount(layout: Omit<Ext4Layout, "groups">, g: number): number {
  return Math.min(layout.blocksPerGroup, layout.blocksCount - groupFirstBlock(layout, g));
}

/** Where the primary copy of descriptor block `i` is (meta_bg moves the later ones into their meta group). */
function descriptorBlock(layout: Omit<Ext4Layout, "groups">, i: number): number {
  if (!layout.metaBg || i < layout.firstMetaBg) return layout.firstDataBlock + 1 + i;
  const g = i * (layout.blockSize / layout.descSize);
  return groupFirstBlock(layout, g) + (groupHasSuper(layout, g) ? 1 : 0);
}

/**
 * The superblock and descriptor blocks (with reserved GDT blocks) group `g` holds, as [start, end)
 * block runs, following e2fsprogs' ext2fs_super_and_bgd_loc2.
 */
export function groupSuperAndDescriptors(layout: Omit<Ext4Layout, "groups">, g: number): Array<[number, number]> {
  const start = groupFirstBlock(layout, g);
  const hasSuper = groupHasSuper(layout, g);
  const runs: Array<[number, number]> = [];
  if (hasSuper) runs.push([start, start + 1]);
  const perMeta = layout.blockSize / layout.descSize;
  const metaGroup = Math.floor(g / perMeta);
  if (!layout.metaBg || metaGroup < layout.firstMetaBg) {
    const oldBlocks = layout.metaBg ? layout.firstMetaBg : layout.gdtBlocks + layout.reservedGdtBlocks;
    if (hasSuper && oldBlocks > 0) runs.push([start + 1, start + 1 + oldBlocks]);
  } else {
    const r = g % perMeta;
    if (r === 0 || r === 1 || r === perMeta - 1) {
      const b = start + (hasSuper ? 1 : 0);
      runs.push([b, b + 1]);
    }
  }
  return runs;
}
