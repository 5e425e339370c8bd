/**
 * Reads filesystem blocks (1 KiB .. 64 KiB) through a BlockSource, whose blocks are whole, aligned
 * and at least 4 KiB: one source block is kept, so walking neighbouring small filesystem blocks
 * (a 1 KiB ext2, an inode table read in pieces) costs one source read per source block.
 */
import { MenderDeltaError } from "../errors";
import type { BlockSource } from "../io/interfaces";

export class FsBlockReader {
  private readonly cache: Uint8Array;
  private cachedIndex = -1;
  private cachedLength = 0;

  constructor(
    private readonly src: BlockSource,
    readonly blockSize: number,
  ) {
    this.cache = src.allocateBlock();
  }

  /** Reads `count` filesystem blocks from `block` into `into` (which must hold them); returns that part of `into`. */
  read(block: number, count: number, into: Uint8Array): Uint8Array {
    const length = count * this.blockSize;
    this.readBytes(block * this.blockSize, length, into);
    return into.subarray(0, length);
  }

  /** Reads `length` bytes at byte `position` into `into`; past the end of the image is an error. */
  readBytes(position: number, length: number, into: Uint8Array): void {
    const srcSize = this.src.blockSize;
    let done = 0;
    while (done < length) {
      const at = position + done;
      const index = Math.floor(at / srcSize);
      if (index !== this.cachedIndex) {
        this.cachedIndex = -1;
        this.cachedLength = this.src.readBlock(index, this.cache);
        this.cachedIndex = index;
      }
      const offset = at - index * srcSize;
      const n = Math.min(length - done, this.cachedLength - offset);
      if (n <= 0) {
        throw new MenderDeltaError(`ext4: the image is truncated: byte ${at} is past its end (${this.src.size} bytes)`);
      }
      into.set(this.cache.subarray(offset, offset + n), done);
      done += n;
    }
  }
}
