/**
 * The narrow I/O contracts between the codec and the programs. The decoder never opens files: it
 * reads the source (old image, the device's active partition) through a BlockSource and writes the
 * target (new image, the inactive partition) through a TargetSink. The device program supplies an
 * O_DIRECT source; tests and the `apply` command supply plain files.
 *
 * Calls are synchronous on purpose: a decoder copy is a hot path, and sync positional reads avoid a
 * promise per instruction. The delta itself arrives asynchronously (a stream, a FIFO).
 */

/** The alignment of `readAt` offsets: the largest logical block size Linux uses (O_DIRECT). */
export const SOURCE_PAGE = 4096;

/** Whole-block and page-aligned positional reads of a file or block device. */
export interface BlockSource {
  /** Bytes in the source. */
  readonly size: number;
  /** A power of two (>= 4096). Every read covers exactly one aligned block. */
  readonly blockSize: number;
  /** Memory that `readBlock` may read into (page-aligned for O_DIRECT), `blockSize` bytes long. */
  allocateBlock(): Uint8Array;
  /**
   * Reads block `index` (bytes index*blockSize ..) into `into` (from `allocateBlock`). Returns the
   * number of bytes read: blockSize, or less for the last block. Throws on an I/O error.
   */
  readBlock(index: number, into: Uint8Array): number;
  /**
   * Reads `want` bytes (at most blockSize) at byte `offset`, a multiple of SOURCE_PAGE, into `into`
   * (from `allocateBlock`). Returns how many arrived: fewer only where the source ends. Throws on an
   * I/O error. For readers that know which bytes they need (a window's sorted copies).
   */
  readAt(offset: number, into: Uint8Array, want: number): number;
  close(): void;
}

/** Sequential writes of the target. */
export interface TargetSink {
  /** Appends `data` (the sink may keep no reference to it after returning). */
  write(data: Uint8Array): void;
  /** Everything written is durable (fsync) and the sink is closed. */
  finish(): void;
}
