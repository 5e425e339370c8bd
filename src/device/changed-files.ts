/**
 * Names what the changed bytes of a read set belong to, for the one line that refuses the delta:
 * a person fixing a read-write root needs to know which files were modified in place.
 */
import type { BlockSource } from "../io/interfaces";
import type { ByteRange } from "../vcdiff/read-set";

/** Byte ranges named one by one in a message; the rest are counted. */
const LISTED_RANGES = 8;

/** "partition bytes 131072-196607, 3145728-3158072 (and 2 more ranges)": inclusive ends, as a person reads them. */
function byteList(ranges: ByteRange[]): string {
  const shown = ranges.slice(0, LISTED_RANGES).map(([start, end]) => `${start}-${end - 1}`);
  const more = ranges.length - shown.length;
  return `partition bytes ${shown.join(", ")}${more > 0 ? ` (and ${more} more ranges)` : ""}`;
}

/**
 * What `ranges` (changed bytes of `src`, ascending) belong to, as a phrase that follows
 * "they belong to".
 */
export function describeChangedBlocks(src: BlockSource, ranges: ByteRange[]): string {
  void src;
  // EXT4 LOOKUP: the one spot where the file names plug in. With src/fs/ext4.ts:
  //   const layout = readExt4Layout(src);
  //   if (layout) {
  //     const owners = filesOwning(src, layout, ranges, LISTED_RANGES);
  //     return a phrase of owners.paths (+ "filesystem metadata" when owners.metadata,
  //     "free space" when owners.unowned, "and N more files" when owners.more), else fall through;
  //   }
  // The lookup reads the filesystem's own structures, which may themselves be among the changed
  // bytes: whatever it throws must fall back to the byte list, never replace the refusal.
  return byteList(ranges);
}
