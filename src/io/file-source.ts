/**
 * A BlockSource over a plain file with ordinary buffered positional reads: for tests, the `apply`
 * command and build hosts. (The device reads its active partition with O_DIRECT instead:
 * direct-source.ts.)
 */
import fs from "node:fs";
import { MenderDeltaError } from "../errors";
import type { BlockSource } from "./interfaces";
import { deviceOrFileSize } from "./file-size";
import { failedReadAt, readFullyAt } from "./read-fully";

export const DEFAULT_FILE_BLOCK_SIZE = 64 * 1024;

export class FileBlockSource implements BlockSource {
  readonly size: number;
  readonly blockSize: number;
  private fd: number;

  constructor(
    readonly path: string,
    options: { blockSize?: number } = {},
  ) {
    const blockSize = options.blockSize ?? DEFAULT_FILE_BLOCK_SIZE;
    if (blockSize < 4096 || (blockSize & (blockSize - 1)) !== 0) {
      throw new RangeError(`block size ${blockSize} is not a power of two >= 4096`);
    }
    this.blockSize = blockSize;
    try {
      this.fd = fs.openSync(path, "r");
    } catch (err) {
      throw new MenderDeltaError(`cannot open source '${path}': ${(err as Error).message}`);
    }
    const stat = fs.fstatSync(this.fd);
    if (stat.isDirectory()) {
      fs.closeSync(this.fd);
      throw new MenderDeltaError(`source '${path}' is a directory, not an image file`);
    }
    // A block device (an image on a loop device, a partition) has no size in fstat.
    try {
      this.size = stat.isBlockDevice() ? deviceOrFileSize(path) : stat.size;
    } catch (err) {
      fs.closeSync(this.fd);
      throw err;
    }
  }

  allocateBlock(): Uint8Array {
    return new Uint8Array(this.blockSize);
  }

  readBlock(index: number, into: Uint8Array): number {
    const position = index * this.blockSize;
    return this.readAt(position, into, Math.max(0, Math.min(this.blockSize, this.size - position)));
  }

  readAt(offset: number, into: Uint8Array, want: number): number {
    try {
      // Short only when the file ends (or shrank under us); the caller reports a short source.
      return readFullyAt(this.fd, into.subarray(0, want), offset);
    } catch (err) {
      throw new MenderDeltaError(`cannot read source '${this.path}' at byte ${failedReadAt(err) ?? offset}: ${(err as Error).message}`);
    }
  }

  close(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}
