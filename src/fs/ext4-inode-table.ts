/**
 * Every in-use inode, group by group: the group's inode bitmap says which are in use, and only the
 * part of its inode table that may hold used inodes is read, a piece at a time, so memory stays at
 * one piece however large the filesystem is.
 */
import { MenderDeltaError } from "../errors";
import { BG_INODE_UNINIT, type Ext4Layout } from "./ext4-layout";
import type { FsBlockReader } from "./fs-block-reader";

/** Bytes of inode table read at once. */
const PIECE_BYTES = 256 * 1024;

/** Calls `fn(ino, raw)` for every inode the bitmaps mark in use; `raw` is valid during the call only. */
export function forEachInode(reader: FsBlockReader, layout: Ext4Layout, fn: (ino: number, raw: Uint8Array) => void): void {
  const { blockSize, inodeSize, inodesPerGroup, groups } = layout;
  const bitmap = new Uint8Array(blockSize);
  const perPiece = Math.max(1, Math.floor(PIECE_BYTES / blockSize)) * (blockSize / inodeSize);
  const piece = new Uint8Array(perPiece * inodeSize);
  for (let g = 0; g < layout.groupCount; g++) {
    let used = inodesPerGroup;
    if (layout.groupDescCsum) {
      if (groups.flags[g]! & BG_INODE_UNINIT) continue;
      used -= Math.min(used, groups.itableUnused[g]!);
    }
    if (used === 0) continue;
    reader.read(groups.inodeBitmap[g]!, 1, bitmap);
    for (let first = 0; first < used; first += perPiece) {
      const count = Math.min(perPiece, used - first);
      reader.readBytes((groups.inodeTable[g]! * blockSize) + first * inodeSize, count * inodeSize, piece);
      for (let i = first; i < first + count; i++) {
        if (!(bitmap[i >> 3]! & (1 << (i & 7)))) continue;
        const o = (i - first) * inodeSize;
        fn(g * inodesPerGroup + i + 1, piece.subarray(o, o + inodeSize));
      }
    }
  }
}

/** Where inode `ino` is in the image, in bytes. */
export function inodeByteOffset(layout: Ext4Layout, ino: number): number {
  if (ino < 1 || ino > layout.inodesCount) throw new MenderDeltaError(`ext4: inode ${ino} does not exist (the filesystem has ${layout.inodesCount})`);
  const g = Math.floor((ino - 1) / layout.inodesPerGroup);
  const i = (ino - 1) % layout.inodesPerGroup;
  return layout.groups.inodeTable[g]! * layout.blockSize + i * layout.inodeSize;
}

/** Reads inode `ino` into `into` (`inodeSize` bytes). */
export function readInode(reader: FsBlockReader, layout: Ext4Layout, ino: number, into: Uint8Array): Uint8Array {
  reader.readBytes(inodeByteOffset(layout, ino), layout.inodeSize, into);
  return into.subarray(0, layout.inodeSize);
}
