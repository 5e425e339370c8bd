/**
 * A TargetSink that writes a file, device, FIFO or pipe (or an already-open file descriptor, e.g.
 * standard output) sequentially with fs.writeSync; `finish` fsyncs and closes, so a finished target
 * is on disk.
 */
import fs from "node:fs";
import { MenderDeltaError } from "../errors";
import type { TargetSink } from "./interfaces";

export interface FileTargetSinkOptions {
  /** Writes to this descriptor; the caller keeps it (the sink never closes it). */
  fd?: number;
  flags?: string | number;
  mode?: number;
  /** How messages name what is written (default `target '<path>'`): the file a user can act on. */
  name?: string;
  /** fsync in finish() (default true); false for pipes, FIFOs and character devices, which have no storage to sync. */
  sync?: boolean;
}

/** Short pauses while a non-blocking pipe is full (a synchronous writer has no event loop to wait on). */
const pause = new Int32Array(new SharedArrayBuffer(4));

export class FileTargetSink implements TargetSink {
  private fd: number;
  private readonly ownsFd: boolean;
  private readonly name: string;
  private readonly sync: boolean;
  /** Bytes written so far. */
  written = 0;

  /** Opens (creates or truncates) `path`, or adopts `fd` when given. */
  constructor(
    readonly path: string,
    options: FileTargetSinkOptions = {},
  ) {
    this.name = options.name ?? `target '${path}'`;
    this.sync = options.sync ?? true;
    this.ownsFd = options.fd === undefined;
    if (options.fd !== undefined) {
      this.fd = options.fd;
      return;
    }
    try {
      this.fd = fs.openSync(path, options.flags ?? "w", options.mode ?? 0o644);
    } catch (err) {
      throw new MenderDeltaError(`cannot open ${this.name} for writing: ${(err as Error).message}`);
    }
  }

  write(data: Uint8Array): void {
    let done = 0;
    try {
      while (done < data.length) {
        try {
          done += fs.writeSync(this.fd, data, done, data.length - done);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
          Atomics.wait(pause, 0, 0, 5);
        }
      }
    } catch (err) {
      throw new MenderDeltaError(
        `cannot write ${this.name} at byte ${this.written + done}: ${(err as Error).message}` +
          ((err as NodeJS.ErrnoException).code === "ENOSPC" ? " (the target, or the filesystem holding it, is too small for the new image?)" : ""),
      );
    }
    this.written += done;
  }

  finish(): void {
    if (this.sync) {
      try {
        fs.fsyncSync(this.fd);
      } catch (err) {
        throw new MenderDeltaError(`cannot flush ${this.name} to disk: ${(err as Error).message}`);
      }
    }
    this.close();
  }

  /** Closes without syncing (after a failure). Safe to call twice. */
  close(): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      if (this.ownsFd) fs.closeSync(fd);
    }
  }
}
