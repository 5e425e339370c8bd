/**
 * The filesystem's own blocks, fixed by its layout: superblocks and their backups, group descriptor
 * tables with the reserved GDT blocks, block and inode bitmaps, inode tables and the MMP block.
 */
import { type Ext4Layout, groupSuperAndDescriptors } from "./ext4-layout";

/** Calls `add(start, end)` for every run of layout metadata blocks (not sorted, may touch). */
export function forEachMetadataRun(layout: Ext4Layout, add: (start: number, end: number) => void): void {
  const { groups } = layout;
  for (let g = 0; g < layout.groupCount; g++) {
    for (const [start, end] of groupSuperAndDescriptors(layout, g)) add(start, Math.min(end, layout.blocksCount));
    add(groups.blockBitmap[g]!, groups.blockBitmap[g]! + 1);
    add(groups.inodeBitmap[g]!, groups.inodeBitmap[g]! + 1);
    add(groups.inodeTable[g]!, groups.inodeTable[g]! + layout.inodeTableBlocks);
  }
  if (layout.mmpBlock !== 0) add(layout.mmpBlock, layout.mmpBlock + 1);
}

/**
 * Inodes whose blocks all belong to the filesystem rather than to a file: the reserved inodes
 * (journal, resize inode, bad blocks, ...), the quota files and the orphan file.
 */
export function isSpecialInode(layout: Ext4Layout, ino: number): boolean {
  return ino < layout.firstInode || ino === layout.journalInode || layout.specialInodes.includes(ino);
}
