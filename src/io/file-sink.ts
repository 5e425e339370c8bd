/**
 * A TargetSink that writes a file (or an already-open file descriptor, e.g. a block device)
 * sequentially with fs.writeSync; `finish` fsyncs and closes, so a finished target is on disk.
 */
import fs from "node:fs";
import { MenderDeltaError } from "../errors";
import type { TargetSink } from "./interfaces";

export class FileTargetSink implements TargetSink {
  private fd: number;
  /** Bytes written so far. */
  written = 0;

  /** Opens (creates or truncates) `path`, or adopts `fd` when given. */
  constructor(
    readonly path: string,
    options: { fd?: number; flags?: string; mode?: number } = {},
  ) {
    if (options.fd !== undefined) {
      this.fd = options.fd;
      return;
    }
    try {
      this.fd = fs.openSync(path, options.flags ?? "w", options.mode ?? 0o644);
    } catch (err) {
      throw new MenderDeltaError(`cannot open target '${path}' for writing: ${(err as Error).message}`);
    }
  }

  write(data: Uint8Array): void {
    let done = 0;
    try {
      while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done);
    } catch (err) {
      throw new MenderDeltaError(
        `cannot write target '${this.path}' at byte ${this.written + done}: ${(err as Error).message}` +
          ((err as NodeJS.ErrnoException).code === "ENOSPC" ? " (the target is too small for the new image?)" : ""),
      );
    }
    this.written += done;
  }

  finish(): void {
    try {
      fs.fsyncSync(this.fd);
    } catch (err) {
      throw new MenderDeltaError(`cannot flush target '${this.path}' to disk: ${(err as Error).message}`);
    }
    this.close();
  }

  /** Closes without syncing (after a failure). Safe to call twice. */
  close(): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      fs.closeSync(fd);
    }
  }
}
