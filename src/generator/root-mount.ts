/**
 * `--root-mount rw`: deltas for devices whose root filesystem is mounted read-write.
 *
 * A mounted ext4 rewrites its own metadata (superblocks, group descriptors, bitmaps, inode tables,
 * journal) and the running system fills free blocks and edits directories, so the active partition
 * stops being bit-identical to the installed image. The delta then must not read those bytes of
 * FROM (they are avoided ranges for the encoder), and it carries a digest of exactly what it does
 * read (the read set, in the VCDIFF application header), which the device checks when the whole
 * partition no longer matches FROM's checksum. Other filesystems: no ranges are known to be
 * volatile, so the delta is made as for a read-only root, with a note saying so.
 */
import { MenderDeltaError } from "../errors";
import { readExt4Layout, UnsupportedExt4Error, volatileRanges, type Ext4Layout } from "../fs/ext4";
import { FileBlockSource } from "../io/file-source";
import { buildReadSet, encodeReadSetAppHeader, rangeBytes } from "../vcdiff/format/read-set";
import type { ByteRange } from "../io/byte-ranges";

export type RootMount = "ro" | "rw";

export interface SourceUsePlan {
  /** Source ranges the delta must not read. */
  avoid?: ByteRange[];
  /** Makes the application header (the read-set digest) from the ranges the delta reads. */
  appHeader?(reads: Float64Array): Uint8Array;
  /** What the plan did, for the summary. */
  report(): RootMountSummary;
  close(): void;
}

export interface RootMountSummary {
  rootMount: RootMount;
  /** "ext4" when FROM's metadata was found and avoided. */
  filesystem?: string;
  /** FROM bytes the delta was not allowed to read. */
  avoidedBytes: number;
  /** FROM bytes the delta reads (the read set's size), and the digest's size in the delta. */
  readBytes?: number;
  readRanges?: number;
  readSetBytes?: number;
}

/** What the encoder must avoid and add for `mount`, given FROM's image. */
export function planSourceUse(fromImage: string, mount: RootMount, note: (m: string) => void): SourceUsePlan {
  const summary: RootMountSummary = { rootMount: mount, avoidedBytes: 0 };
  if (mount === "ro") return { report: () => summary, close: () => undefined };
  const source = new FileBlockSource(fromImage);
  let layout: Ext4Layout | undefined;
  let avoid: ByteRange[];
  try {
    layout = readExt4Layout(source);
    avoid = layout ? volatileRanges(source, layout) : [];
  } catch (err) {
    source.close();
    if (!(err instanceof MenderDeltaError)) throw err;
    if (err instanceof UnsupportedExt4Error) {
      throw new MenderDeltaError(
        `--root-mount rw: FROM's ext4 has a feature this generator does not read (${err.message}), so it cannot tell which of its blocks a mounted root rewrites; ` +
          "if the devices mount their root read-only, make the delta with --root-mount ro; else update them with the full rootfs-image Artifact",
      );
    }
    throw new MenderDeltaError(
      `--root-mount rw: cannot read FROM's ext4 metadata (${err.message}); check the image with 'e2fsck -fn', or make the delta with --root-mount ro`,
    );
  }
  if (!layout) {
    note(
      "--root-mount rw: FROM is not an ext2/3/4 image, so no part of it is known to change while mounted; " +
        "the delta needs FROM's exact bytes (as for a read-only root)",
    );
    source.close();
    return { report: () => summary, close: () => undefined };
  }
  summary.filesystem = "ext4";
  for (const [s, e] of avoid) summary.avoidedBytes += e - s;
  return {
    avoid,
    appHeader(reads) {
      const set = buildReadSet(reads, source);
      const header = encodeReadSetAppHeader(set);
      summary.readRanges = reads.length / 2;
      summary.readBytes = rangeBytes(set);
      summary.readSetBytes = header.length;
      return header;
    },
    report: () => summary,
    close: () => source.close(),
  };
}
