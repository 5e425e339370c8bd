/** Sizes of what the programs read and write: regular files and block devices alike. */
import fs from "node:fs";
import { MenderDeltaError } from "../errors";
import { devName } from "./device-numbers";

/**
 * Size in bytes of a regular file or a block device. fstat reports 0 for block devices and Node has
 * no BLKGETSIZE64, so those are read from sysfs (in 512-byte sectors).
 */
export function deviceOrFileSize(path: string): number {
  const st = fs.statSync(path);
  if (!st.isBlockDevice()) return st.size;
  const sysfs = `/sys/dev/block/${devName(st.rdev)}/size`;
  try {
    return Number(fs.readFileSync(sysfs, "utf8").trim()) * 512;
  } catch (err) {
    throw new MenderDeltaError(
      `cannot find the size of block device ${path}: reading ${sysfs} failed (${(err as Error).message}); is sysfs mounted on /sys?`,
    );
  }
}
