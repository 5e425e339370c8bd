/**
 * Names what the changed bytes of a read set belong to, for the one line that refuses the delta:
 * a person fixing a read-write root needs to know which files were modified in place.
 */
import { filesOwning, readExt4Layout } from "../fs/ext4";
import type { BlockSource } from "../io/interfaces";
import type { ByteRange } from "../io/byte-ranges";

/** Byte ranges named one by one in a message; the rest are counted. */
const LISTED_RANGES = 8;
/** Files named one by one; the rest are counted. */
const LISTED_FILES = 8;

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
  // The lookup reads the filesystem's own structures, which may themselves be among the changed
  // bytes (or change under a mounted root): whatever it throws falls back to the byte list, never
  // replaces the refusal.
  try {
    const layout = readExt4Layout(src);
    if (layout) {
      const owners = filesOwning(src, layout, ranges, LISTED_FILES);
      const parts = [...owners.paths];
      if (owners.more > 0) parts.push(`${owners.more} more file${owners.more === 1 ? "" : "s"}`);
      if (owners.metadata) parts.push("filesystem metadata");
      if (owners.unowned) parts.push("free space");
      if (parts.length > 0) return `${parts.join(", ")} (${byteList(ranges)})`;
    }
  } catch {
    // fall through to the bytes
  }
  return byteList(ranges);
}
