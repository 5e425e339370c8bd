/**
 * The positional read loop: a read(2) may return fewer bytes than asked (block devices, FUSE,
 * signals), so every "read these bytes at this offset" repeats until they are there or the file ends.
 */
import fs from "node:fs";

/** Byte offset each failed read started at, kept beside the untouched error (see failedReadAt). */
const failedAt = new WeakMap<object, number>();

/**
 * Reads into `into` from byte `position` of `fd` until `enough` bytes (default: all of `into`) have
 * arrived or the file ends; returns how many arrived. Each read asks for the rest of `into`, which
 * lets O_DIRECT callers keep their lengths aligned while needing fewer bytes. A failing read throws
 * its own error unchanged; failedReadAt(err) tells the offset it was reading.
 */
export function readFullyAt(fd: number, into: Uint8Array, position: number, enough = into.length): number {
  let done = 0;
  while (done < enough) {
    let n: number;
    try {
      n = fs.readSync(fd, into, done, into.length - done, position + done);
    } catch (err) {
      if (typeof err === "object" && err !== null) failedAt.set(err, position + done);
      throw err;
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** readFullyAt with read(2) on libuv's thread pool: the calling thread goes on while the bytes arrive. */
export async function readFullyAtAsync(fd: number, into: Uint8Array, position: number, enough = into.length): Promise<number> {
  let done = 0;
  while (done < enough) {
    const at = done;
    const n = await new Promise<number>((resolve, reject) =>
      fs.read(fd, into, at, into.length - at, position + at, (err, bytes) => {
        if (err) {
          failedAt.set(err, position + at);
          reject(err);
        } else resolve(bytes);
      }),
    );
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** The file offset a read that readFullyAt or readFullyAtAsync rethrew was at, or undefined for any other error. */
export function failedReadAt(err: unknown): number | undefined {
  return typeof err === "object" && err !== null ? failedAt.get(err) : undefined;
}
