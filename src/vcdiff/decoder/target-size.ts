/**
 * The size of the image a delta file makes, from its window headers alone (one small read per
 * window, the sections are skipped): lets `apply` refuse a target that cannot hold the image before
 * it writes anything. A delta whose headers do not parse gives undefined; the decoder then reports
 * the damage where it meets it.
 */
import fs from "node:fs";
import { MAX_FILE_HEADER, MAX_WINDOW_HEADER, parseFileHeader, parseWindowHeader } from "./header";
import { ByteCursor } from "../format/varint-reader";
import { peekRegularFile } from "../../io/open-for-reading";

/** Sum of the target window lengths of the VCDIFF file at `file`, or undefined when it cannot be read so. */
export function deltaTargetSize(file: string): number | undefined {
  return peekRegularFile(file, (fd) => {
    const fileSize = fs.fstatSync(fd).size;
    const buf = new Uint8Array(Math.max(MAX_FILE_HEADER, MAX_WINDOW_HEADER));
    const read = (at: number): ByteCursor => new ByteCursor(buf, 0, fs.readSync(fd, buf, 0, buf.length, at));
    const c = read(0);
    const header = parseFileHeader(c);
    let pos = c.pos + header.appHeaderLength;
    let total = 0;
    // No window limit here: the decoder enforces it with its own message.
    const limits = { hasSecondary: header.secondaryId !== 0, maxWindowSize: Number.MAX_SAFE_INTEGER };
    while (pos < fileSize) {
      const w = read(pos);
      const window = parseWindowHeader(w, limits);
      total += window.targetLength;
      pos += w.pos + window.dataLength + window.instLength + window.addrLength;
    }
    return pos === fileSize ? total : undefined;
  });
}
