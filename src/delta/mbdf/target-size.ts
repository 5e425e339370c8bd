/**
 * The size of the image an MBDF delta file makes, from its header (target_size): lets `apply`
 * refuse a target that cannot hold the image, and show progress, before it writes anything.
 */
import fs from "node:fs";
import { peekRegularFile } from "../../io/open-for-reading";
import { ByteCursor } from "../../vcdiff/format/varint-reader";
import { MBDF_MAGIC, MBDF_VERSION } from "./format";

/** target_size of the MBDF file at `file`, or undefined when it is not a readable MBDF version 1 file. */
export function mbdfTargetSize(file: string): number | undefined {
  return peekRegularFile(file, (fd) => {
    const head = new Uint8Array(32);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n < 7 || !MBDF_MAGIC.every((b, i) => head[i] === b) || head[4] !== MBDF_VERSION) return undefined;
    return new ByteCursor(head, 6, n).offset();
  });
}
