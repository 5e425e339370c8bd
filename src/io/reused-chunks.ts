/**
 * A file (a FIFO from the Mender client, or a regular file) read as a stream of chunks that live
 * in two buffers used in turn, instead of a fresh buffer per read as fs streams allocate. A delta
 * decoder holds one chunk at a time (vcdiff/decoder/delta-input.ts copies what it keeps), so with
 * fresh buffers every payload byte became garbage, collected only once tens of MiB had piled up:
 * the device's peak memory then grew with the payload. A fresh buffer is also memory the kernel
 * maps anew, page by page, on every read: hashing a 512 MiB image took 0.87-0.94 s of CPU that
 * way and 0.52-0.61 s through two reused buffers; decoding a delta, a tenth or more of its CPU.
 * The chunk a consumer got stays intact until the one after next is read.
 */
import fsp, { type FileHandle } from "node:fs/promises";

export const REUSED_CHUNK = 1 << 20;

/**
 * Two buffers handed out in turn, for a stream whose consumer holds one chunk at a time: a chunk
 * stays intact until the one after next is taken, and the stream makes no garbage.
 */
export class AlternatingBuffers {
  private readonly buffers: [Uint8Array, Uint8Array];
  private turn = 0;

  constructor(readonly size: number) {
    this.buffers = [new Uint8Array(size), new Uint8Array(size)];
  }

  /** The next buffer, cut to `length` (at most `size`) bytes. */
  next(length = this.size): Uint8Array {
    const buffer = this.buffers[this.turn]!;
    this.turn ^= 1;
    return buffer.subarray(0, length);
  }
}

/**
 * The chunks of `file` (a path, or a handle this takes over and closes): a FIFO or pipe is read
 * through the one open it was given, so a writer never sees its reader go away and come back.
 */
export async function* readInReusedChunks(file: string | FileHandle, chunkSize = REUSED_CHUNK): AsyncGenerator<Uint8Array> {
  const handle = typeof file === "string" ? await fsp.open(file, "r") : file;
  const buffers = new AlternatingBuffers(chunkSize);
  let atEnd = false;
  try {
    for (;;) {
      const buffer = buffers.next();
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) {
        atEnd = true;
        return;
      }
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    if (atEnd) await handle.close();
    // Stopped early (the delta was refused): the FIFO stays open a while. Closed at once, the
    // client's next write fails and Mender 5.x stops the module (SIGTERM) before it has said why.
    else setTimeout(() => void handle.close().catch(() => undefined), LINGER_MS).unref();
  }
}

/** How long a FIFO read only in part stays open: long enough for the module to report and exit. */
const LINGER_MS = 10_000;
