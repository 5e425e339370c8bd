/**
 * The check that runs before a single byte of the delta is read: the active partition's first
 * `size` bytes must hash to the Artifact's rootfs-image.checksum depends. Read with O_DIRECT, so
 * the hash sees the disk, not the page cache a mounted ext4 journal rewrites.
 */
import { createHash } from "node:crypto";
import { crc32 } from "../compress/crc32";
import { MenderDeltaError } from "../errors";
import { openDirectSource } from "../io/direct-source";
import { logWarning } from "./log";

const HASH_BLOCK = 1 << 20;

/**
 * The first of the frames written to `path` (indexes `frames`, each `frameBytes` long but for one
 * that ends at `size`) that the storage does not hold as written: the byte offset of the first
 * whose CRC-32, read back with O_DIRECT, is not in `crcs`, and the two CRCs; undefined when all hold.
 */
export function firstLostWrite(
  path: string, size: number, frameBytes: number, frames: Uint32Array, crcs: Uint32Array,
): { offset: number; stored: number; written: number } | undefined {
  const source = openDirectSource(path, { blockSize: frameBytes, onFallback: logWarning });
  try {
    const block = source.allocateBlock();
    for (let k = 0; k < frames.length; k++) {
      const offset = frames[k]! * frameBytes;
      const n = source.readBlock(frames[k]!, block);
      const stored = crc32(block.subarray(0, Math.min(n, size - offset)));
      if (stored !== crcs[k]) return { offset, stored, written: crcs[k]! };
    }
    return undefined;
  } finally {
    source.close();
  }
}

/**
 * sha256 (hex) of the first `size` bytes of `path`, read with O_DIRECT. The next block is read on
 * the thread pool while this one is hashed: a pass costs about the longer of reading and hashing,
 * not their sum (on a device that hashes in software, seconds per GiB saved twice per install:
 * the source check and the read-back).
 */
export async function hashDevicePrefix(path: string, size: number): Promise<string> {
  const source = openDirectSource(path, { blockSize: HASH_BLOCK, onFallback: logWarning });
  let reading: Promise<number> | undefined;
  try {
    if (source.size < size) {
      throw new MenderDeltaError(
        `${path} holds ${source.size} bytes, less than the ${size}-byte source image the delta was made from; is this the right partition?`,
      );
    }
    const hash = createHash("sha256");
    const blocks = [source.allocateBlock(), source.allocateBlock()];
    const count = Math.ceil(size / HASH_BLOCK);
    if (count > 0) reading = source.readBlockAsync(0, blocks[0]!);
    for (let i = 0; i < count; i++) {
      const n = await reading!;
      // One read in flight at a time (readBlockAsync's rule), into the block not being hashed.
      reading = i + 1 < count ? source.readBlockAsync(i + 1, blocks[(i + 1) & 1]!) : undefined;
      hash.update(blocks[i & 1]!.subarray(0, Math.min(n, size - i * HASH_BLOCK)));
    }
    return hash.digest("hex");
  } finally {
    // Never close the file under a read in flight (its descriptor number could be reused).
    if (reading) await reading.catch(() => undefined);
    source.close();
  }
}

/** The whole-image comparison: does the active partition hash to one of the depends checksums? */
export interface SourceComparison {
  matches: boolean;
  /** sha256 (hex) of the partition's first `size` bytes. */
  actual: string;
}

export async function compareSource(path: string, size: number, expected: string[]): Promise<SourceComparison> {
  const actual = await hashDevicePrefix(path, size);
  return { matches: expected.includes(actual), actual };
}

/**
 * The refusal when the whole image differs and nothing else can vouch for the bytes the delta reads.
 * `noReadSet` adds why the read set could not help (a delta made without one).
 */
export function sourceMismatchError(path: string, size: number, actual: string, expected: string[], noReadSet = false): MenderDeltaError {
  return new MenderDeltaError(
    `the active partition ${path} is not the image this delta was made from: sha256 of its first ${size} bytes is ${actual}, ` +
      `the Artifact needs ${expected.join(" or ")}. Nothing was written. Delta updates need a read-only root filesystem that ` +
      `is bit-identical to the installed image; usual causes: the root was mounted read-write at some point (fstab "defaults", ` +
      `"rw" on the kernel command line, a state script), or fstrim ran on it. Install a full rootfs-image Artifact instead.` +
      (noReadSet
        ? ` This delta carries no read set (made with the generator's --root-mount ro, by xdelta3, or by a generator older than read sets), so the bytes it reads ` +
          `cannot be checked on their own; see docs/read-write-root.md`
        : ""),
  );
}
