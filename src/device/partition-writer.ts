/**
 * The TargetSink that writes the new image onto the inactive partition: in 1 MiB frames, each
 * compared with what the partition already holds and written only if different (less flash
 * wear, as the client's own block writer does), fsynced periodically and at the end. It hashes
 * nothing of the image: the image is checked against the Artifact's SHA-256 once, as the storage
 * holds it (read back with O_DIRECT, device/apply-delta.ts). It keeps a CRC-32 of each frame it
 * wrote (8 bytes per MiB of partition), which tells, only when that check fails, whether the
 * storage lost a write or the delta made another image; frames the partition already held were
 * compared byte for byte. No pass over the image beyond the compare and the write: on a device
 * without SHA or CRC instructions, seconds per GiB.
 *
 * The comparison reads the partition with O_DIRECT (where the kernel allows it), as the source
 * check and the read-back do: "already holds" then means the storage holds those bytes, not a page
 * cache that may keep pages whose write-back failed; reading the whole inactive partition does not
 * push the device's useful cache out; and a hole of a sparse image file reads as zeros without
 * the kernel first filling a page-cache page for it (0.3-1.3 s of a 512 MiB Download here).
 */
import fs from "node:fs";
import { crc32 } from "../compress/crc32";
import { MenderDeltaError } from "../errors";
import { openDirectSource, type DirectSource } from "../io/direct-source";
import { deviceOrFileSize } from "../io/file-size";
import type { TargetSink } from "../io/interfaces";

export const FRAME_BYTES = 1 << 20;
/** How much of a frame's old content is read first, to see whether the rest is worth reading... */
const PROBE_BYTES = 4096;
/** ...and then at a time. */
const COMPARE_BYTES = 64 << 10;
/** Bound the dirty page cache on small devices. */
const SYNC_EVERY_BYTES = 64 << 20;

export interface WriteStats {
  bytes: number;
  framesWritten: number;
  framesSkipped: number;
  /** Index (offset / FRAME_BYTES) of each frame written, in order; frames not listed already held their bytes. */
  writtenFrames: Uint32Array;
  /** CRC-32 of each written frame's bytes, as given to `write`. */
  writtenCrcs: Uint32Array;
}

export class PartitionWriter implements TargetSink {
  private fd: number;
  /** False when the caller opened the target (the storage guard's exclusive descriptor) and closes it. */
  private readonly ownsFd: boolean;
  private readonly capacity: number;
  private readonly frame = Buffer.allocUnsafe(FRAME_BYTES);
  /** What the partition holds, read without the page cache (see above). */
  private readonly existing: DirectSource;
  /** A block of `existing` (page-aligned for O_DIRECT), with a Buffer view of it for comparing. */
  private readonly existingBytes: Uint8Array;
  private readonly existingView: Buffer;
  private fill = 0;
  private offset = 0;
  private sinceSync = 0;
  /** Per written frame: its index and the CRC-32 of what was written (see WriteStats). */
  private readonly writtenFrames: Uint32Array;
  private readonly writtenCrcs: Uint32Array;
  private framesWritten = 0;
  private framesSkipped = 0;
  private finished = false;

  /** Writes `path`, through `fd` when given (the caller keeps it open until after finish or abort). */
  constructor(
    private readonly path: string,
    fd?: number,
  ) {
    this.ownsFd = fd === undefined;
    try {
      this.fd = fd ?? fs.openSync(path, fs.constants.O_RDWR);
    } catch (err) {
      throw new MenderDeltaError(`cannot open the inactive partition ${path} for writing: ${(err as Error).message}`);
    }
    this.capacity = deviceOrFileSize(path);
    const frames = Math.ceil(this.capacity / FRAME_BYTES);
    this.writtenFrames = new Uint32Array(frames);
    this.writtenCrcs = new Uint32Array(frames);
    try {
      // Without a fallback warning: a target the kernel reads only through the page cache (tmpfs)
      // is compared that way, as before.
      this.existing = openDirectSource(path, { blockSize: COMPARE_BYTES });
      this.existingBytes = this.existing.allocateBlock();
      this.existingView = Buffer.from(this.existingBytes.buffer, this.existingBytes.byteOffset, COMPARE_BYTES);
    } catch (err) {
      if (this.ownsFd) fs.closeSync(this.fd);
      throw err;
    }
  }

  write(data: Uint8Array): void {
    let pos = 0;
    while (pos < data.length) {
      const n = Math.min(FRAME_BYTES - this.fill, data.length - pos);
      this.frame.set(data.subarray(pos, pos + n), this.fill);
      this.fill += n;
      pos += n;
      if (this.fill === FRAME_BYTES) this.flushFrame();
    }
  }

  private flushFrame(): void {
    const length = this.fill;
    if (length === 0) return;
    if (this.offset + length > this.capacity) {
      throw new MenderDeltaError(
        `the new image does not fit on ${this.path}: it is ${this.capacity} bytes and the image is larger than that; ` +
          `make the partitions as large as the image`,
      );
    }
    const data = this.frame.subarray(0, length);
    if (this.holdsAlready(data)) {
      this.framesSkipped++;
    } else {
      let done = 0;
      try {
        while (done < length) done += fs.writeSync(this.fd, data, done, length - done, this.offset + done);
      } catch (err) {
        throw new MenderDeltaError(`writing ${this.path} at byte ${this.offset + done} failed: ${(err as Error).message}; the storage may be failing`);
      }
      this.writtenFrames[this.framesWritten] = this.offset / FRAME_BYTES;
      this.writtenCrcs[this.framesWritten] = crc32(data);
      this.framesWritten++;
      this.sinceSync += length;
    }
    this.offset += length;
    this.fill = 0;
    if (this.sinceSync >= SYNC_EVERY_BYTES) {
      fs.fsyncSync(this.fd);
      this.sinceSync = 0;
    }
  }

  /**
   * Whether the partition already holds `data` at the write offset, read and compared a piece at a
   * time: a frame that is to change almost always differs in its first page, and then the rest of
   * it is not read (on flash, reading the whole inactive partition costs about a third of writing
   * it); and the device holds one 64 KiB piece of the old content, not a whole frame.
   */
  private holdsAlready(data: Buffer): boolean {
    for (let at = 0, piece = PROBE_BYTES; at < data.length; at += piece, piece = COMPARE_BYTES) {
      const n = Math.min(piece, data.length - at);
      if (this.existing.readAt(this.offset + at, this.existingBytes, n) !== n) return false;
      if (!this.existingView.subarray(0, n).equals(data.subarray(at, at + n))) return false;
    }
    return true;
  }

  finish(): void {
    this.flushFrame();
    try {
      fs.fsyncSync(this.fd);
    } catch (err) {
      throw new MenderDeltaError(`fsync of ${this.path} failed: ${(err as Error).message}; the storage may be failing`);
    }
    if (this.ownsFd) fs.closeSync(this.fd);
    this.fd = -1;
    this.existing.close();
    this.finished = true;
  }

  /** Closes without finishing (after an error). */
  abort(): void {
    if (this.fd >= 0 && this.ownsFd) fs.closeSync(this.fd);
    this.fd = -1;
    this.existing.close();
  }

  /** Bytes that reached the partition (written, or found to hold the right bytes already); not the frame still being filled. */
  get bytesWritten(): number {
    return this.offset;
  }

  stats(): WriteStats {
    if (!this.finished) throw new Error("PartitionWriter.stats() before finish()");
    return {
      bytes: this.offset, framesWritten: this.framesWritten, framesSkipped: this.framesSkipped,
      writtenFrames: this.writtenFrames.subarray(0, this.framesWritten), writtenCrcs: this.writtenCrcs.subarray(0, this.framesWritten),
    };
  }
}
