/**
 * A small LRU cache of whole, aligned source blocks on top of a BlockSource. COPY instructions read
 * arbitrary byte ranges of the source; the cache turns them into aligned block reads (the device's
 * O_DIRECT source allows nothing else) and keeps memory at `blocks * blockSize`. It also keeps the
 * decoder's read budget: past `readAllowance` bytes it refuses to read (ReadBudgetExceeded), which
 * bounds the time any delta can take. `readRun` reads page-aligned ranges past the cached blocks,
 * under the same budget, for a caller that knows which bytes it needs.
 */
import type { BlockSource } from "../../io/interfaces";

/** A COPY wanted source bytes past the end of the source. */
export class SourceTooShort extends Error {
  constructor(
    readonly position: number,
    readonly sourceSize: number,
  ) {
    super(`source too short: byte ${position} wanted, source has ${sourceSize} bytes`);
  }
}

/** Reading another block would exceed the read allowance. */
export class ReadBudgetExceeded extends Error {
  constructor(readonly bytesRead: number) {
    super(`source read budget exceeded after ${bytesRead} bytes`);
  }
}

/**
 * Copies src[from, from + n) to dest[to..]: a byte loop up to 32 bytes, which costs less than
 * the subarray and the call into the typed-array builtin that longer copies take.
 */
export function copyBytes(dest: Uint8Array, to: number, src: Uint8Array, from: number, n: number): void {
  if (n <= 32) {
    for (let i = 0; i < n; i++) dest[to + i] = src[from + i]!;
  } else {
    dest.set(src.subarray(from, from + n), to);
  }
}

export class SourceCache {
  readonly blockSize: number;
  private readonly slots: Uint8Array[] = [];
  /** Block index held by each slot (-1 = empty). */
  private readonly slotBlock: Float64Array;
  /** Valid bytes in each slot (short for the last block). */
  private readonly slotLength: Int32Array;
  /** Last use of each slot, for LRU eviction. */
  private readonly slotUsed: Float64Array;
  private readonly index = new Map<number, number>();
  private clock = 0;
  private lastBlock = -1;
  private lastSlot = 0;
  /** Block reads so far (statistics). */
  reads = 0;
  /** Source bytes read so far. */
  bytesRead = 0;
  /** Bytes the cache may still read; the decoder raises it as windows begin. */
  readAllowance = Infinity;
  /** The buffer of `readRun`: one block, allocated on first use. */
  private run: Uint8Array | undefined;

  constructor(
    private readonly source: BlockSource,
    readonly capacity: number,
  ) {
    if (!(capacity >= 1)) throw new RangeError("source cache needs at least one block");
    this.blockSize = source.blockSize;
    this.slotBlock = new Float64Array(capacity).fill(-1);
    this.slotLength = new Int32Array(capacity);
    this.slotUsed = new Float64Array(capacity);
  }

  /** Bytes in the source. */
  get sourceSize(): number {
    return this.source.size;
  }

  /** Copies source[position, position + length) into dest[destPos..]. Throws SourceTooShort. */
  copy(dest: Uint8Array, destPos: number, position: number, length: number): void {
    const bs = this.blockSize;
    while (length > 0) {
      const block = Math.floor(position / bs);
      const slot = block === this.lastBlock ? this.lastSlot : this.load(block, position);
      this.slotUsed[slot] = ++this.clock;
      const data = this.slots[slot]!;
      const inBlock = position - block * bs;
      const available = this.slotLength[slot]! - inBlock;
      if (available <= 0) throw new SourceTooShort(position, this.source.size);
      const n = length < available ? length : available;
      copyBytes(dest, destPos, data, inBlock, n);
      destPos += n;
      position += n;
      length -= n;
    }
  }

  private load(block: number, position: number): number {
    let slot = this.index.get(block);
    if (slot === undefined) {
      if (position >= this.source.size) throw new SourceTooShort(position, this.source.size);
      slot = this.victim();
      const old = this.slotBlock[slot]!;
      if (old >= 0) this.index.delete(old);
      let data = this.slots[slot];
      if (data === undefined) {
        data = this.source.allocateBlock();
        this.slots[slot] = data;
      }
      this.slotBlock[slot] = -1; // stays empty if the read throws
      this.lastBlock = -1;
      if (this.readAllowance < this.blockSize) throw new ReadBudgetExceeded(this.bytesRead);
      const got = this.source.readBlock(block, data);
      this.reads++;
      this.bytesRead += got;
      this.readAllowance -= got;
      this.slotBlock[slot] = block;
      this.slotLength[slot] = got;
      this.index.set(block, slot);
    }
    this.lastBlock = block;
    this.lastSlot = slot;
    return slot;
  }

  /**
   * Reads source[offset, offset + want) (offset a multiple of SOURCE_PAGE, want at most blockSize)
   * into the run buffer, past the cached blocks, and returns those bytes: for a caller that knows
   * which bytes it needs (CopyBatch). The buffer is overwritten by the next call. Throws
   * SourceTooShort when the source ends first, ReadBudgetExceeded as `load` does.
   */
  readRun(offset: number, want: number): Uint8Array {
    const run = (this.run ??= this.source.allocateBlock());
    if (this.readAllowance < want) throw new ReadBudgetExceeded(this.bytesRead);
    const got = this.source.readAt(offset, run, want);
    this.reads++;
    this.bytesRead += got;
    this.readAllowance -= got;
    if (got < want) throw new SourceTooShort(offset + got, this.source.size);
    return run.subarray(0, got);
  }

  private victim(): number {
    if (this.slots.length < this.capacity) return this.slots.length;
    let best = 0;
    for (let i = 1; i < this.capacity; i++) if (this.slotUsed[i]! < this.slotUsed[best]!) best = i;
    return best;
  }
}
