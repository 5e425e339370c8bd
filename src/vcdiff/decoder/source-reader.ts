/**
 * The decoders' reader of the source: page-aligned runs of at most one block, read on top of a
 * BlockSource into one buffer. Decoders read arbitrary byte ranges of the source; the reader
 * turns them into aligned reads of the pages they cover (the device's O_DIRECT source allows
 * nothing else) and keeps the last run, so that the next range in it costs no read. It also keeps
 * the decoder's read budget: past `readAllowance` bytes it refuses to read (ReadBudgetExceeded),
 * which bounds the time any delta can take.
 *
 * It kept 4 MiB of whole blocks (least recently used evicted) until the VCDIFF decoder's copies
 * came to be done in source order from the pages they need (copy-batch.ts): after that no
 * Download of the corpus reused a block, and without them the file-aware format's Downloads peak
 * 4-6 MiB lower (U 91.9 -> 85.5-90.1 MiB, B 93.9-94.8 -> 90.2-90.5 MiB, built module, two
 * alternating runs each), with fewer source bytes read.
 */
import { type BlockSource, SOURCE_PAGE } from "../../io/interfaces";

/** A COPY wanted source bytes past the end of the source. */
export class SourceTooShort extends Error {
  constructor(
    readonly position: number,
    readonly sourceSize: number,
  ) {
    super(`source too short: byte ${position} wanted, source has ${sourceSize} bytes`);
  }
}

/** Reading more of the source would exceed the read allowance. */
export class ReadBudgetExceeded extends Error {
  constructor(readonly bytesRead: number) {
    super(`source read budget exceeded after ${bytesRead} bytes`);
  }
}

/** `position` rounded down to a page boundary: where a read that covers it starts. */
export function pageStart(position: number): number {
  return position - (position % SOURCE_PAGE);
}

/** `position` rounded up to a page boundary: where a read that covers the bytes before it ends. */
export function pageEnd(position: number): number {
  return Math.ceil(position / SOURCE_PAGE) * SOURCE_PAGE;
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

export class SourceReader {
  readonly blockSize: number;
  /** Source bytes read so far. */
  bytesRead = 0;
  /** Bytes the reader may still read; the decoder raises it as windows begin. */
  readAllowance = Infinity;
  /** The run buffer: one block, allocated on first use. */
  private run: Uint8Array | undefined;
  /** The source range the run buffer holds (empty when runEnd <= runStart). */
  private runStart = 0;
  private runEnd = 0;

  constructor(private readonly source: BlockSource) {
    this.blockSize = source.blockSize;
  }

  /** Bytes in the source. */
  get sourceSize(): number {
    return this.source.size;
  }

  /** Copies source[position, position + length) into dest[destPos..]. Throws SourceTooShort. */
  copy(dest: Uint8Array, destPos: number, position: number, length: number): void {
    if (position + length > this.source.size) throw new SourceTooShort(Math.max(position, this.source.size), this.source.size);
    while (length > 0) {
      if (position < this.runStart || position >= this.runEnd) {
        const start = pageStart(position);
        const end = Math.min(start + this.blockSize, pageEnd(position + length), this.source.size);
        this.readRun(start, end - start);
      }
      const n = length < this.runEnd - position ? length : this.runEnd - position;
      copyBytes(dest, destPos, this.run!, position - this.runStart, n);
      destPos += n;
      position += n;
      length -= n;
    }
  }

  /**
   * Reads source[offset, offset + want) (offset a multiple of SOURCE_PAGE, want at most blockSize)
   * into the run buffer and returns those bytes: for a caller that knows which bytes it needs
   * (CopyBatch). The buffer is overwritten by the next read. Throws SourceTooShort when the source
   * ends first, ReadBudgetExceeded past the allowance.
   */
  readRun(offset: number, want: number): Uint8Array {
    const run = (this.run ??= this.source.allocateBlock());
    if (this.readAllowance < want) throw new ReadBudgetExceeded(this.bytesRead);
    this.runEnd = 0; // holds nothing if the read throws
    const got = this.source.readAt(offset, run, want);
    this.bytesRead += got;
    this.readAllowance -= got;
    if (got < want) throw new SourceTooShort(offset + got, this.source.size);
    this.runStart = offset;
    this.runEnd = offset + got;
    return run.subarray(0, got);
  }
}
