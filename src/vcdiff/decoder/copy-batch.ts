/**
 * Source COPYs of a window, collected and then done in source order. Done in instruction order, a
 * window of short copies scattered over the source reads a run per copy (a 64 MiB window of
 * 4-byte copies: 16 million reads). Sorted, each batch reads the source it needs once.
 *
 * It reads only the pages its copies need, in runs of at most one source block: a run takes in
 * the next copies while they start within an eighth of a block past it. Whole blocks (what the
 * decoder read before) took 1.46 GB of source for pair B's 537 MB image from a stock `xdelta3 -e`
 * delta, whose copies of a window lie scattered over its 64 MiB source window: a window's 5 MB of
 * copies touch hundreds of 64 KiB blocks, and the next window's blocks are mostly others. On the
 * device every such byte is an O_DIRECT read from the storage.
 *
 * Order matters only where a COPY reads the target itself: such a copy reads bytes that earlier
 * instructions wrote, so target copies are deferred too and run, in their order, after the source
 * copies collected before them. ADD and RUN write bytes nothing else writes, so they run at once.
 *
 * Memory is fixed: at most BATCH_COPIES of each kind, 36 bytes per pair of slots; a window with
 * more copies is done in several batches (each still reads its pages once).
 */
import { SOURCE_PAGE } from "../../io/interfaces";
import { copyBytes, pageEnd, pageStart, type SourceReader, SourceTooShort } from "./source-reader";

/** Copies per batch: 2^17 source and 2^17 target copies take 4.5 MiB, allocated as windows need them. */
export const BATCH_COPIES = 1 << 17;
/** Copies up to this size are done with a byte loop (as in execute.ts). */
const SHORT_COPY = 32;
/**
 * A run takes in a copy that starts at most this many bytes after its end, as a fraction of the
 * run's largest size (the source block): reading the pages between costs less than another read,
 * whose cost is mostly per call (page cache) or per command (O_DIRECT on flash).
 */
const RUN_GAP_SHIFT = 3;
/** Digits of the sort of copies by page: 11 bits a pass (8 KiB of counts). */
const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;
const RADIX_MASK = RADIX - 1;
const EMPTY: Uint8Array = new Uint8Array(0);

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
  /** Where each queued source copy starts in the source (exact: sources below 2^53 bytes). */
  private sourcePosition = new Float64Array(0);
  private sourceTo = new Uint32Array(0);
  private sourceSize = new Uint32Array(0);
  /** The queued source copies in source order (sortSources), and the sort's other buffer. */
  private order = new Uint32Array(0);
  private spare = new Uint32Array(0);
  /** Each queued source copy's page relative to the batch's lowest (the sort's key). */
  private keys = new Uint32Array(0);
  private readonly counts = new Uint32Array(RADIX);
  private sources = 0;
  private targetFrom = new Uint32Array(0);
  private targetTo = new Uint32Array(0);
  private targetSize = new Uint32Array(0);
  private targets = 0;
  /** Source bytes queued so far (the decoder tells windows that copy nothing from the source). */
  sourceBytes = 0;

  constructor(private readonly reader: SourceReader) {}

  /** True while source copies wait: a target copy must then be deferred with `addTarget`. */
  get pending(): boolean {
    return this.sources > 0;
  }

  /**
   * Queues source[position, position + size) -> target[to..]; flushes first when the batch is full.
   * Throws SourceTooShort at once when the source ends before the copy does.
   */
  addSource(target: Uint8Array, to: number, position: number, size: number): void {
    if (this.sources === this.sourcePosition.length) {
      if (this.sources === BATCH_COPIES) this.flush(target);
      else this.growSources();
    }
    const sourceSize = this.reader.sourceSize;
    if (position + size > sourceSize) throw new SourceTooShort(Math.max(position, sourceSize), sourceSize);
    const i = this.sources++;
    this.sourceBytes += size;
    this.sourcePosition[i] = position;
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

  /** Does every queued copy: source copies in source order, then target copies in their order. */
  flush(target: Uint8Array): void {
    const n = this.sources;
    if (n > 0) {
      this.copySorted(target, this.sortSources(n), n);
      this.sources = 0;
    }
    for (let i = 0; i < this.targets; i++) copyWithinTarget(target, this.targetTo[i]!, this.targetFrom[i]!, this.targetSize[i]!);
    this.targets = 0;
  }

  /**
   * The first `n` queued source copies' indices ordered by the page they start in: an LSD radix
   * sort of the pages relative to the lowest, RADIX_BITS a pass (a stock delta's window spans a
   * 64 MiB source window, 16,384 pages: two passes). Pair B's 768,000 copies took 84 ms to sort as
   * float64 keys; each pass dividing the positions again cost about 3 % of a `-S none` decode.
   */
  private sortSources(n: number): Uint32Array {
    const positions = this.sourcePosition;
    const keys = this.keys;
    let lowest = Infinity;
    let highest = 0;
    for (let i = 0; i < n; i++) {
      const position = positions[i]!;
      if (position < lowest) lowest = position;
      if (position > highest) highest = position;
    }
    const low = Math.floor(lowest / SOURCE_PAGE);
    const high = Math.floor(highest / SOURCE_PAGE);
    // Computed once (a float64 division each), not again in every pass. Relative pages fit 32 bits
    // for any batch under 16 TiB of source; were they not, the order would only be less sorted
    // (copySorted reads whatever run a copy needs), never wrong.
    for (let i = 0; i < n; i++) keys[i] = Math.floor(positions[i]! / SOURCE_PAGE) - low;
    let from = this.order;
    let to = this.spare;
    for (let i = 0; i < n; i++) from[i] = i;
    const counts = this.counts;
    for (let shift = 0; shift < 32 && (high - low) >>> shift > 0; shift += RADIX_BITS) {
      counts.fill(0);
      for (let k = 0; k < n; k++) counts[(keys[from[k]!]! >>> shift) & RADIX_MASK]!++;
      let sum = 0;
      for (let d = 0; d < RADIX; d++) {
        const c = counts[d]!;
        counts[d] = sum;
        sum += c;
      }
      for (let k = 0; k < n; k++) {
        const i = from[k]!;
        to[counts[(keys[i]! >>> shift) & RADIX_MASK]!++] = i;
      }
      const swap = from;
      from = to;
      to = swap;
    }
    return from;
  }

  /** The source copies in `order` (n of them), each from the run that holds its bytes, read when needed. */
  private copySorted(target: Uint8Array, order: Uint32Array, n: number): void {
    const reader = this.reader;
    const positions = this.sourcePosition;
    const destinations = this.sourceTo;
    const sizes = this.sourceSize;
    let run = EMPTY;
    let runStart = 0;
    let runEnd = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      let position = positions[i]!;
      let dest = destinations[i]!;
      let length = sizes[i]!;
      while (length > 0) {
        if (position < runStart || position >= runEnd) {
          // A copy longer than a run continues in the next one.
          runStart = pageStart(position);
          run = reader.readRun(runStart, this.runLength(order, n, k, runStart, position + length) - runStart);
          runEnd = runStart + run.length;
        }
        const m = length < runEnd - position ? length : runEnd - position;
        copyBytes(target, dest, run, position - runStart, m);
        position += m;
        dest += m;
        length -= m;
      }
    }
  }

  /**
   * Where a run read from `start` (a page boundary) for copy `order[k]`, which needs source bytes
   * up to `need`, ends: past the pages of the next copies that start within the gap, at most a
   * block after `start` and at the source's end.
   */
  private runLength(order: Uint32Array, n: number, k: number, start: number, need: number): number {
    const reader = this.reader;
    const cap = Math.min(start + reader.blockSize, reader.sourceSize);
    const gap = reader.blockSize >>> RUN_GAP_SHIFT;
    let end = Math.min(cap, pageEnd(need));
    for (let j = k + 1; j < n && end < cap; j++) {
      const i = order[j]!;
      const position = this.sourcePosition[i]!;
      if (position > end + gap || position >= cap) break;
      const copyEnd = pageEnd(position + this.sourceSize[i]!);
      if (copyEnd > end) end = copyEnd < cap ? copyEnd : cap;
    }
    return end;
  }

  /** Drops queued copies (after a failed window). */
  clear(): void {
    this.sources = 0;
    this.targets = 0;
  }

  private growSources(): void {
    const size = Math.min(BATCH_COPIES, Math.max(1024, this.sourcePosition.length * 2));
    this.sourcePosition = grow(this.sourcePosition, new Float64Array(size));
    this.sourceTo = grow(this.sourceTo, new Uint32Array(size));
    this.sourceSize = grow(this.sourceSize, new Uint32Array(size));
    this.order = new Uint32Array(size);
    this.spare = new Uint32Array(size);
    this.keys = new Uint32Array(size);
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
