/**
 * Opens the storage an image is about to be written to, only if nothing the running system uses
 * lives there. Names are not compared: both sides are followed down to the bytes they occupy
 * (src/io/block-storage.ts), so a whole disk that holds the running partition, another node for the
 * same device, an overlapping partition, a loop device stacked on it, a hard link or bind mount of
 * an image file are all seen for what they are. Protected: what the caller names (the active
 * partition, the running root, `apply --source`), every mounted filesystem and every swap area.
 * A block device is opened with O_EXCL, the kernel's own claim (EBUSY while mounted, used as swap
 * or held by device-mapper/md), and the caller writes through that same descriptor, so the device
 * checked is the device written and nothing can claim it in between.
 */
import fs from "node:fs";
import { MenderDeltaError } from "../errors";
import { extentsOfDevice, extentsOfStat, holdersOf, type Extent } from "../io/block-storage";
import { devName } from "../io/device-numbers";
import { deviceOrFileSize } from "../io/file-size";

/** Something that must not be written: a file or device path, or a filesystem's st_dev. */
export interface ProtectedStorage {
  path?: string;
  dev?: number;
  /** How messages name it: "the active partition /dev/mmcblk0p2". */
  what: string;
}

export interface GuardedTarget {
  /** Open read-write (exclusively, for a block device); the caller closes it. */
  fd: number;
  /** Bytes the target holds. */
  size: number;
}

const MOUNTINFO = "/proc/self/mountinfo";
const SWAPS = "/proc/swaps";

interface Protected {
  what: string;
  extents: Extent[];
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

/** mountinfo escapes blanks in paths as \040 and friends. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function readLines(file: string): string[] {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/** Every mounted filesystem's device (and, for btrfs and friends with anonymous st_dev, its source device) and every swap area. */
function systemStorage(): Protected[] {
  const out: Protected[] = [];
  for (const line of readLines(MOUNTINFO)) {
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    const mountpoint = unescapeMountPath(f[4] ?? "?");
    const source = sep > 0 ? unescapeMountPath(f[sep + 2] ?? "") : "";
    const extents = extentsOfDevice(f[2] ?? "");
    const st = source.startsWith("/dev/") ? statOrUndefined(source) : undefined;
    if (st?.isBlockDevice()) extents.push(...extentsOfStat(st, source));
    if (extents.length > 0) out.push({ what: `${source || f[2]} mounted on ${mountpoint}`, extents });
  }
  for (const line of readLines(SWAPS).slice(1)) {
    const file = unescapeMountPath(line.split(/\s+/)[0] ?? "");
    const st = statOrUndefined(file);
    if (st) out.push({ what: `the swap area ${file}`, extents: extentsOfStat(st, file) });
  }
  return out;
}

function byteRange(e: Extent): string {
  return Number.isFinite(e.end) ? `${e.start}-${e.end - 1}` : `${e.start}-`;
}

/** How target extent `t` relates to protected extent `p` (same key, overlapping). */
function relation(t: Extent, p: Extent): string {
  if (t.start === p.start && t.end === p.end) return "is the same storage as";
  if (t.start <= p.start && t.end >= p.end) return "contains";
  if (t.start >= p.start && t.end <= p.end) return "lies inside";
  return "overlaps";
}

function firstOverlap(target: Extent[], others: Protected[]): { t: Extent; p: Extent; what: string } | undefined {
  for (const o of others) {
    for (const p of o.extents) {
      for (const t of target) {
        if (t.key === p.key && t.start < p.end && p.start < t.end) return { t, p, what: o.what };
      }
    }
  }
  return undefined;
}

/**
 * Opens `target` for writing, or throws a one-line MenderDeltaError (nothing written) when it is,
 * contains, lies inside or overlaps anything in `protect`, anything mounted or any swap area, or
 * when the kernel reports it in use. `name` is how messages call the target (default: the path);
 * `advice` ends each refusal: what the user should change.
 */
export function openGuardedTarget(target: string, o: { name?: string; protect: ProtectedStorage[]; advice: string }): GuardedTarget {
  const name = o.name ?? target;
  const refuse = (why: string): MenderDeltaError => new MenderDeltaError(`refusing to write ${name}: ${why}; nothing was written. ${o.advice}`);
  const before = statOrUndefined(target);
  const block = before?.isBlockDevice() ?? false;
  let fd: number;
  try {
    fd = fs.openSync(target, fs.constants.O_RDWR | (block ? fs.constants.O_EXCL : 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EBUSY") {
      throw refuse("the kernel reports it in use (an exclusive open failed with EBUSY: it, or a partition of it, is mounted, used as swap or held by another program or device)");
    }
    throw new MenderDeltaError(`cannot open ${target} for writing: ${(err as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isBlockDevice() !== block) throw refuse("it changed from or to a block device while being opened");
    const extents = extentsOfStat(st, target);
    if (st.isBlockDevice()) {
      const holders = holdersOf(st.rdev);
      if (holders.length > 0) {
        throw refuse(`${holders.join(", ")} ${holders.length === 1 ? "is" : "are"} stacked on it (/sys/dev/block/${devName(st.rdev)}: device-mapper, md or similar)`);
      }
    }
    const named: Protected[] = o.protect.map((p) => {
      if (p.dev !== undefined) return { what: p.what, extents: extentsOfDevice(p.dev) };
      const pst = p.path === undefined ? undefined : statOrUndefined(p.path);
      return { what: p.what, extents: pst ? extentsOfStat(pst, p.path!) : [] };
    });
    const hit = firstOverlap(extents, named) ?? firstOverlap(extents, systemStorage());
    if (hit) {
      throw refuse(`it ${relation(hit.t, hit.p)} ${hit.what} (on ${hit.t.name}: bytes ${byteRange(hit.t)} to be written, ${byteRange(hit.p)} in use)`);
    }
    return { fd, size: st.isBlockDevice() ? deviceOrFileSize(target) : st.size };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}
