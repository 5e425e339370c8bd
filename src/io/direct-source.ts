/**
 * A BlockSource that reads a file or block device as it is on the storage, bypassing the page
 * cache (O_DIRECT). Needed for the device's active partition: while an ext4 root is mounted
 * read-only, jbd2 rewrites the journal superblock in the page cache, so buffered reads of the block
 * device differ from the image the delta was made from (see docs/device.md).
 *
 * O_DIRECT needs the buffer address, file offset and length aligned to the logical block size.
 * Node's Buffers carry no alignment guarantee; the backing store of a WebAssembly.Memory is
 * page-aligned, so views into it at multiples of 4096 are valid O_DIRECT buffers.
 */
import fs from "node:fs";
import { MenderDeltaError } from "../errors";
import type { BlockSource } from "./interfaces";
import { deviceOrFileSize } from "./file-size";
import { failedReadAt, readFullyAt, readFullyAtAsync } from "./read-fully";

const WASM_PAGE = 65536;
/** The lib settings carry no WebAssembly types; this is the one constructor used here. */
const WasmMemory = (globalThis as unknown as {
  WebAssembly: { Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer } };
}).WebAssembly.Memory;
/** Alignment that satisfies every logical block size Linux uses (512, 4096). */
const ALIGNMENT = 4096;
/**
 * Memory is carved from chunks this large; chunks never grow, since growing detaches old views.
 * Few large chunks rather than many small ones: on 64-bit hosts V8 reserves gigabytes of address
 * space per WebAssembly.Memory (guard regions) and caps the total. Untouched pages cost no RAM.
 */
const CHUNK_BYTES = 16 << 20;

export interface DirectSourceOptions {
  /** Power of two >= 4096; default 64 KiB. */
  blockSize?: number;
  /** Called once if the kernel refuses O_DIRECT for this file and buffered reads are used. */
  onFallback?(message: string): void;
}

/** Page-aligned memory for O_DIRECT transfers. */
export class AlignedAllocator {
  private chunk: Uint8Array | undefined;
  private used = 0;

  allocate(bytes: number): Uint8Array {
    const size = Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;
    if (!this.chunk || this.used + size > this.chunk.length) {
      const chunkBytes = Math.max(CHUNK_BYTES, size);
      const memory = new WasmMemory({ initial: Math.ceil(chunkBytes / WASM_PAGE) });
      this.chunk = new Uint8Array(memory.buffer);
      this.used = 0;
    }
    const view = this.chunk.subarray(this.used, this.used + bytes);
    this.used += size;
    return view;
  }
}

/** One aligned buffer of `bytes` (a multiple of 4096 is best) for O_DIRECT reads. */
export function allocateAligned(bytes: number): Uint8Array {
  return new AlignedAllocator().allocate(bytes);
}

function errnoMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Files the fallback warning was printed for (once per file and process). */
const fallbackWarned = new Set<string>();

class DirectBlockSource implements BlockSource {
  readonly size: number;
  readonly blockSize: number;
  private fd: number;
  private direct: boolean;
  private readonly allocator = new AlignedAllocator();
  private readonly onFallback: ((message: string) => void) | undefined;

  constructor(
    private readonly path: string,
    options: DirectSourceOptions,
  ) {
    const blockSize = options.blockSize ?? 65536;
    if (blockSize < ALIGNMENT || (blockSize & (blockSize - 1)) !== 0) {
      throw new RangeError(`blockSize must be a power of two >= ${ALIGNMENT}, got ${blockSize}`);
    }
    this.blockSize = blockSize;
    this.size = deviceOrFileSize(path);
    this.onFallback = options.onFallback;
    try {
      this.fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
      this.direct = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw openError(path, err);
      this.fd = openBuffered(path);
      this.direct = false;
      this.warnFallback(`the kernel refuses O_DIRECT for ${path} (${errnoMessage(err)})`);
    }
  }

  private warnFallback(why: string): void {
    // The device program opens the active partition more than once per run.
    if (fallbackWarned.has(this.path)) return;
    fallbackWarned.add(this.path);
    this.onFallback?.(
      `${why}; reading it through the page cache instead. On a mounted ext4 root that can return bytes that are not on the disk.`,
    );
  }

  /** True while reads bypass the page cache. */
  get isDirect(): boolean {
    return this.direct;
  }

  allocateBlock(): Uint8Array {
    return this.allocator.allocate(this.blockSize);
  }

  readBlock(index: number, into: Uint8Array): number {
    const offset = index * this.blockSize;
    if (offset >= this.size) return 0;
    const want = Math.min(this.blockSize, this.size - offset);
    return this.checkLength(offset, want, this.readAt(offset, into, want));
  }

  /**
   * readBlock on libuv's thread pool, so that the caller can work on the previous block meanwhile.
   * At most one may be in flight: the fallback to buffered reads reopens the file.
   */
  async readBlockAsync(index: number, into: Uint8Array): Promise<number> {
    const offset = index * this.blockSize;
    if (offset >= this.size) return 0;
    const want = Math.min(this.blockSize, this.size - offset);
    let done: number;
    try {
      done = Math.min(want, await readFullyAtAsync(this.fd, into.subarray(0, this.lengthToAsk(want)), offset, want));
    } catch (err) {
      if (this.direct && (err as NodeJS.ErrnoException).code === "EINVAL") return this.readBlock(index, into);
      throw this.readError(err, offset);
    }
    return this.checkLength(offset, want, done);
  }

  /** O_DIRECT lengths must stay aligned: whole pages are asked for, the short read at EOF is fine. */
  private lengthToAsk(want: number): number {
    return this.direct ? Math.ceil(want / ALIGNMENT) * ALIGNMENT : want;
  }

  private checkLength(offset: number, want: number, done: number): number {
    if (done < want) {
      throw new MenderDeltaError(`${this.path} ended at byte ${offset + done}, expected ${this.size} bytes; was it resized?`);
    }
    return want;
  }

  private readError(err: unknown, offset: number): MenderDeltaError {
    return new MenderDeltaError(
      `reading ${this.path} at byte ${failedReadAt(err) ?? offset} failed: ${errnoMessage(err)}. The storage may be failing.`,
    );
  }

  /**
   * Reads `want` bytes at `offset` (a multiple of 4096) into `into` (page-aligned, at least `want`
   * rounded up to 4096 bytes long); returns how many arrived (fewer only where the file ends).
   */
  readAt(offset: number, into: Uint8Array, want: number): number {
    try {
      return Math.min(want, readFullyAt(this.fd, into.subarray(0, this.lengthToAsk(want)), offset, want));
    } catch (err) {
      if (this.direct && (err as NodeJS.ErrnoException).code === "EINVAL") {
        // Some filesystems accept the O_DIRECT open but refuse the read itself.
        this.reopenBuffered(err);
        return this.readAt(offset, into, want);
      }
      throw this.readError(err, offset);
    }
  }

  private reopenBuffered(err: unknown): void {
    fs.closeSync(this.fd);
    this.fd = openBuffered(this.path);
    this.direct = false;
    this.warnFallback(`O_DIRECT reads of ${this.path} fail (${errnoMessage(err)})`);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

function openBuffered(path: string): number {
  try {
    return fs.openSync(path, fs.constants.O_RDONLY);
  } catch (err) {
    throw openError(path, err);
  }
}

function openError(path: string, err: unknown): MenderDeltaError {
  return new MenderDeltaError(`cannot open ${path} for reading: ${errnoMessage(err)}`);
}

export type DirectSource = BlockSource & {
  readonly isDirect: boolean;
  readBlockAsync(index: number, into: Uint8Array): Promise<number>;
};

/** Opens `path` read-only with O_DIRECT (falling back to buffered reads only where the kernel refuses). */
export function openDirectSource(path: string, options: DirectSourceOptions = {}): DirectSource {
  return new DirectBlockSource(path, options);
}
