/**
 * Source COPYs of a window, collected and then done in source order. Done in instruction order, a
 * window of short copies scattered over more source blocks than the cache holds reads a block per
 * copy (a 64 MiB window of 4-byte copies: 16 million block reads). Sorted, each batch reads every
 * source block it needs once.
 *
 * Order matters only where a COPY reads the target itself: such a copy reads bytes that earlier
 * instructions wrote, so target copies are deferred too and run, in their order, after the source
 * copies collected before them. ADD and RUN write bytes nothing else writes, so they run at once.
 *
 * Memory is fixed: at most BATCH_COPIES of each kind, 32 bytes per pair of slots; a window with
 * more copies is done in several batches (each still reads its blocks once).
 */
import { type SourceCache, SourceTooShort } from "./source-cache";

/** Copies per batch: 2^17 source and 2^17 target copies take 4 MiB, allocated as windows need them. */
export const BATCH_COPIES = 1 << 17;
/** Copies up to this size are done with a byte loop (as in execute.ts). */
const SHORT_COPY = 32;

/** Copies target[from, from + size) to target[to..] with LZ77 semantics (the copy may read its own output). */
export function copyWithinTarget(target: Uint8Array, to: number, from: number, size: number): void {
  const distance = to - from;
  if (size <= distance) {
    if (size <= SHORT_COPY) {
      for (let i = 0; i < size; i++) target[to + i] = target[from + i]!;
    } else {
      target.copyWithin(to, from, from + size);
    }
  } else if (distance === 1) {
    target.fill(target[from]!, to, to + size);
  } else {
    // Overlap: the output repeats target[from, to) with period `distance`; copying from `from` in
    // chunks that never overlap their source doubles the chunk each step.
    let done = 0;
    while (done < size) {
      const n = Math.min(distance + done, size - done);
      target.copyWithin(to + done, from, from + n);
      done += n;
    }
  }
}

export class CopyBatch {
  /** Sort keys: source block * BATCH_COPIES + index, so a numeric sort groups copies by block. */
  private keys = new Float64Array(0);
  private sourceOffset = new Uint32Array(0);
  private sourceTo = new Uint32Array(0);
  private sourceSize = new Uint32Array(0);
  private sources = 0;
  private targetFrom = new Uint32Array(0);
  private targetTo = new Uint32Array(0);
  private targetSize = new Uint32Array(0);
  private targets = 0;
  /** Source bytes queued so far (the decoder tells windows that copy nothing from the source). */
  sourceBytes = 0;

  constructor(private readonly cache: SourceCache) {}

  /** True while source copies wait: a target copy must then be deferred with `addTarget`. */
  get pending(): boolean {
    return this.sources > 0;
  }

  /**
   * Queues source[position, position + size) -> target[to..]; flushes first when the batch is full.
   * Throws SourceTooShort at once when the source ends before the copy does.
   */
  addSource(target: Uint8Array, to: number, position: number, size: number): void {
    if (this.sources === this.keys.length) {
      if (this.sources === BATCH_COPIES) this.flush(target);
      else this.growSources();
    }
    const sourceSize = this.cache.sourceSize;
    if (position + size > sourceSize) throw new SourceTooShort(Math.max(position, sourceSize), sourceSize);
    const bs = this.cache.blockSize;
    const block = Math.floor(position / bs);
    const i = this.sources++;
    this.sourceBytes += size;
    this.keys[i] = block * BATCH_COPIES + i;
    this.sourceOffset[i] = position - block * bs;
    this.sourceTo[i] = to;
    this.sourceSize[i] = size;
  }

  /** Queues target[from, from + size) -> target[to..] behind the queued source copies (call only while `pending`). */
  addTarget(target: Uint8Array, to: number, from: number, size: number): void {
    if (this.targets === this.targetTo.length) {
      if (this.targets === BATCH_COPIES) {
        this.flush(target);
        copyWithinTarget(target, to, from, size);
        return;
      }
      this.growTargets();
    }
    const i = this.targets++;
    this.targetFrom[i] = from;
    this.targetTo[i] = to;
    this.targetSize[i] = size;
  }

  /** Does every queued copy: source copies block by block, then target copies in their order. */
  flush(target: Uint8Array): void {
    const n = this.sources;
    if (n > 0) {
      const keys = this.keys.subarray(0, n);
      keys.sort();
      const bs = this.cache.blockSize;
      for (let k = 0; k < n; k++) {
        const key = keys[k]!;
        const block = Math.floor(key / BATCH_COPIES);
        const i = key - block * BATCH_COPIES;
        this.cache.copy(target, this.sourceTo[i]!, block * bs + this.sourceOffset[i]!, this.sourceSize[i]!);
      }
      this.sources = 0;
    }
    for (let i = 0; i < this.targets; i++) copyWithinTarget(target, this.targetTo[i]!, this.targetFrom[i]!, this.targetSize[i]!);
    this.targets = 0;
  }

  /** Drops queued copies (after a failed window). */
  clear(): void {
    this.sources = 0;
    this.targets = 0;
  }

  private growSources(): void {
    const size = Math.min(BATCH_COPIES, Math.max(1024, this.keys.length * 2));
    this.keys = grow(this.keys, new Float64Array(size));
    this.sourceOffset = grow(this.sourceOffset, new Uint32Array(size));
    this.sourceTo = grow(this.sourceTo, new Uint32Array(size));
    this.sourceSize = grow(this.sourceSize, new Uint32Array(size));
  }

  private growTargets(): void {
    const size = Math.min(BATCH_COPIES, Math.max(1024, this.targetTo.length * 2));
    this.targetFrom = grow(this.targetFrom, new Uint32Array(size));
    this.targetTo = grow(this.targetTo, new Uint32Array(size));
    this.targetSize = grow(this.targetSize, new Uint32Array(size));
  }
}

function grow<T extends Float64Array | Uint32Array>(old: T, bigger: T): T {
  bigger.set(old);
  return bigger;
}
