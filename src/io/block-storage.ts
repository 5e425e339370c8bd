/**
 * Where a block device or file really keeps its bytes, as sysfs tells it: a partition is a byte range
 * of its disk, a loop device a byte range of its backing file or device, a device-mapper or md device
 * its slaves. Following that down gives "extents" on storage with nothing below it (a disk, or a
 * regular file by device+inode), so two names can be compared for overlap whatever they are called.
 * Reading sysfs never throws: what cannot be read ends the walk at the device itself.
 */
import fs from "node:fs";
import path from "node:path";
import { devName } from "./device-numbers";

const SECTOR = 512;
/** Stacks deeper than this are cut (and cannot loop forever on a strange sysfs). */
const MAX_DEPTH = 16;
const SYS_DEV_BLOCK = "/sys/dev/block";

export interface Extent {
  /** The storage the bytes are on: "blk M:m" of a device with nothing below it, or "file dev:ino". */
  key: string;
  /** That storage's name, for messages (/dev/loop0, /srv/disk.img). */
  name: string;
  start: number;
  /** Exclusive; Infinity when the size is unknown. */
  end: number;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

function readNumber(file: string): number | undefined {
  const text = readText(file);
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

function sysfsDir(majorMinor: string): string | undefined {
  try {
    return fs.realpathSync(path.join(SYS_DEV_BLOCK, majorMinor));
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The extents of the bytes [start, end) of the block device `majorMinor`. */
function deviceExtents(majorMinor: string, start: number, end: number, depth: number): Extent[] {
  const dir = sysfsDir(majorMinor);
  const leaf = (name: string): Extent[] => [{ key: `blk ${majorMinor}`, name, start, end }];
  if (!dir || depth >= MAX_DEPTH) return leaf(`device ${majorMinor}`);
  const name = `/dev/${path.basename(dir)}`;
  const size = readNumber(path.join(dir, "size"));
  if (size !== undefined) end = Math.min(end, size * SECTOR);
  if (fs.existsSync(path.join(dir, "partition"))) {
    const first = readNumber(path.join(dir, "start"));
    const disk = readText(path.join(path.dirname(dir), "dev"));
    if (first === undefined || !disk) return leaf(name);
    return deviceExtents(disk, first * SECTOR + start, first * SECTOR + end, depth + 1);
  }
  const backing = readText(path.join(dir, "loop", "backing_file"));
  if (backing) {
    const offset = readNumber(path.join(dir, "loop", "offset")) ?? 0;
    let st: fs.Stats;
    try {
      st = fs.statSync(backing);
    } catch {
      return leaf(name); // deleted or unreachable backing file: the loop device is all we can name
    }
    if (st.isBlockDevice()) return deviceExtents(devName(st.rdev), offset + start, offset + end, depth + 1);
    return [{ key: fileKey(st), name: backing, start: offset + start, end: offset + end }];
  }
  const slaves = listDir(path.join(dir, "slaves"));
  if (slaves.length > 0) {
    // Which bytes of each slave a device-mapper/md device maps is not in sysfs: count all of them.
    return slaves.flatMap((s) => {
      const mm = readText(path.join(dir, "slaves", s, "dev"));
      return mm ? deviceExtents(mm, 0, Infinity, depth + 1) : [];
    });
  }
  return leaf(name);
}

function fileKey(st: fs.Stats): string {
  return `file ${st.dev}:${st.ino}`;
}

/** The extents of a file or block device as `stat` describes it; [] for anything else. */
export function extentsOfStat(st: fs.Stats, name: string): Extent[] {
  if (st.isBlockDevice()) return deviceExtents(devName(st.rdev), 0, Infinity, 0);
  if (st.isFile()) return [{ key: fileKey(st), name, start: 0, end: st.size }];
  return [];
}

/**
 * The extents of the block device `majorMinor` ("8:2", as in mountinfo) or `dev` (a st_dev); [] for
 * major 0, a filesystem without a block device (overlay, tmpfs, btrfs's anonymous numbers).
 */
export function extentsOfDevice(dev: number | string): Extent[] {
  const majorMinor = typeof dev === "number" ? devName(dev) : dev;
  if (!/^\d+:\d+$/.test(majorMinor) || majorMinor.startsWith("0:")) return [];
  return deviceExtents(majorMinor, 0, Infinity, 0);
}

/**
 * Devices stacked on `dev` or, for a whole disk, on one of its partitions (sysfs holders/:
 * device-mapper, md, bcache...), as /dev names.
 */
export function holdersOf(dev: number): string[] {
  const dir = sysfsDir(devName(dev));
  if (!dir) return [];
  const parts = listDir(dir).filter((e) => fs.existsSync(path.join(dir, e, "partition")));
  return [dir, ...parts.map((p) => path.join(dir, p))].flatMap((d) => listDir(path.join(d, "holders")).map((h) => `/dev/${h}`));
}
