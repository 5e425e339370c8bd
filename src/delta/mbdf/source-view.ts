/**
 * The source as an MBDF delta may read it: only its first source_size bytes (the header's), so a
 * record, or a nested VCDIFF delta, never sees what lies beyond the image the delta was made from.
 */
import type { BlockSource } from "../../io/interfaces";

export class SourcePrefix implements BlockSource {
  readonly blockSize: number;
  constructor(
    private readonly source: BlockSource,
    readonly size: number,
  ) {
    this.blockSize = source.blockSize;
  }
  allocateBlock(): Uint8Array {
    return this.source.allocateBlock();
  }
  readBlock(index: number, into: Uint8Array): number {
    const start = index * this.blockSize;
    if (start >= this.size) return 0;
    return Math.min(this.source.readBlock(index, into), this.size - start);
  }
  readAt(offset: number, into: Uint8Array, want: number): number {
    if (offset >= this.size) return 0;
    return this.source.readAt(offset, into, Math.min(want, this.size - offset));
  }
  close(): void {
    // The underlying source belongs to the caller.
  }
}
