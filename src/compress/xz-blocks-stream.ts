/**
 * The xz writer that uses every core: the input is cut into blocks of `blockSize` bytes, each
 * compressed on its own (fresh dictionary) by worker threads and written in order, with one index
 * at the end, as xz -T does. The cut depends on `blockSize` alone, never on the thread count, so
 * the output is the same bytes for any number of threads (1 compresses on the calling thread).
 *
 * The choice of layout is made up front from `sizeHint`: an input expected to fit one block (or of
 * unknown size) is streamed exactly as XzEncoder writes it (one block, sizes left to the index,
 * nothing held back), so small payloads come out as they always did. The output thus depends on
 * the input, `sizeHint` and `blockSize`, never on the thread count.
 *
 * Memory stays bounded: at most threads + 1 blocks are in flight; the writer is held back (the
 * Transform's callback waits) until the oldest is written.
 */
import os from "node:os";
import { Transform, type TransformCallback } from "node:stream";
import { WorkerLanes } from "../workers/worker-lanes.js";
import { Lzma2Encoder } from "./lzma2-encoder.js";
import { encodeXzBlock, type XzBlock, type XzBlockSettings } from "./xz-block.js";
import type { XzBlockJob, XzBlockReply, XzBlockRequest } from "./xz-block-worker.js";
import { createXzCompressStream, xzDictionary, xzStreamEnd, xzStreamHeader, type XzEncoderOptions, type XzIndexRecord } from "./xz-encoder.js";

/**
 * Default block size: 16 MiB, picked from the corpus payloads (docs/xz.md): each block starts with
 * an empty dictionary, which costs 0.4 % (pair A) to 2 % (pair B) at 16 MiB but 5 % (A) at
 * 8 MiB, while 32 MiB leaves both payloads (17.3 and 30.1 MiB) in one block, on one core.
 */
export const XZ_DEFAULT_BLOCK_SIZE = 16 << 20;

export interface XzBlocksOptions extends XzEncoderOptions {
  /** Input bytes per block (default XZ_DEFAULT_BLOCK_SIZE); the output depends on it. */
  blockSize?: number;
  /** Threads compressing blocks; 1: the calling thread. Default: CPUs, at most 8. */
  threads?: number;
}

/** Compresses blocks, answering in the order they were given. */
interface BlockLanes {
  compress(data: Uint8Array): Promise<XzBlock>;
  close(): void;
}

class LocalLanes implements BlockLanes {
  constructor(private readonly settings: XzBlockSettings) {}
  async compress(data: Uint8Array): Promise<XzBlock> {
    return encodeXzBlock(data, this.settings);
  }
  close(): void {}
}

/** Block k goes to lane k mod n; each lane answers its blocks in order. */
class WorkerBlockLanes implements BlockLanes {
  private readonly lanes: WorkerLanes<XzBlockJob, XzBlockReply>;
  private next = 0;

  constructor(settings: XzBlockSettings, count: number) {
    const request: XzBlockRequest = { task: "xz-block", settings };
    this.lanes = new WorkerLanes(request, count, "xz block worker");
  }

  async compress(data: Uint8Array): Promise<XzBlock> {
    const reply = await this.lanes.call(this.next++ % this.lanes.lanes, { type: "block", data }, [data.buffer as ArrayBuffer]);
    if (reply.type !== "block") throw new Error(`xz block worker: unexpected reply ${reply.type}`);
    return { bytes: reply.bytes, unpadded: reply.unpadded, uncompressed: reply.uncompressed };
  }

  close(): void {
    this.lanes.close();
  }
}

export function defaultXzThreads(): number {
  return Math.min(8, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
}

/** A Transform writing the .xz stream described in the module comment. */
export function createXzBlocksStream(options: XzBlocksOptions = {}): Transform {
  const blockSize = options.blockSize ?? XZ_DEFAULT_BLOCK_SIZE;
  const threads = options.threads ?? defaultXzThreads();
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`xz block size ${blockSize} is not a positive integer`);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new RangeError(`xz thread count ${threads}: use 1 to 256`);
  // Every block declares the same dictionary: the preset's, but no larger than a block (or the input).
  if (options.sizeHint === undefined || options.sizeHint <= blockSize) return createXzCompressStream(options);
  const dict = xzDictionary({ ...options, dictSize: Math.min(options.dictSize ?? Infinity, blockSize) });
  const settings: XzBlockSettings = { dictSize: dict.size, dictByte: dict.byte, mode: options.mode, niceLen: options.niceLen, depth: options.depth };

  // Allocated here once, as XzEncoder does: too little memory for the dictionary's tables is a
  // RangeError at creation (callers turn it into advice), not a worker failing mid-way.
  new Lzma2Encoder(settings, () => undefined);

  const held: Uint8Array[] = [];
  let heldBytes = 0;
  let lanes: BlockLanes | undefined;
  const inFlight: Promise<XzBlock>[] = [];
  const records: XzIndexRecord[] = [];

  /** The first `size` held bytes as one fresh array (its buffer can be moved to a worker). */
  const take = (size: number): Uint8Array => {
    const block = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const piece = held[0]!;
      const n = Math.min(piece.length, size - at);
      block.set(piece.subarray(0, n), at);
      at += n;
      if (n === piece.length) held.shift();
      else held[0] = piece.subarray(n);
    }
    heldBytes -= size;
    return block;
  };
  const writeOldest = async (): Promise<void> => {
    const block = await inFlight.shift()!;
    records.push({ unpadded: block.unpadded, uncompressed: block.uncompressed });
    stream.push(block.bytes);
  };
  const dispatch = (data: Uint8Array): void => {
    if (lanes === undefined) {
      stream.push(xzStreamHeader());
      lanes = threads <= 1 ? new LocalLanes(settings) : new WorkerBlockLanes(settings, threads);
    }
    const pending = lanes.compress(data);
    pending.catch(() => undefined); // awaited in order by writeOldest
    inFlight.push(pending);
  };

  const stream = new Transform({
    transform(chunk: Uint8Array, _encoding: BufferEncoding, done: TransformCallback): void {
      // A copy: the writer may reuse its buffer once the callback ran.
      held.push(Uint8Array.from(chunk));
      heldBytes += chunk.length;
      (async () => {
        while (heldBytes >= blockSize) {
          dispatch(take(blockSize));
          while (inFlight.length > threads) await writeOldest();
        }
      })().then(() => done(), (err: Error) => done(err));
    },
    flush(done: TransformCallback): void {
      (async () => {
        if (lanes === undefined) stream.push(xzStreamHeader()); // an empty input: no block at all
        if (heldBytes > 0) dispatch(take(heldBytes));
        while (inFlight.length > 0) await writeOldest();
        stream.push(xzStreamEnd(records));
      })().then(
        () => { lanes?.close(); done(); },
        (err: Error) => { lanes?.close(); done(err); },
      );
    },
    destroy(err, callback): void {
      lanes?.close();
      callback(err);
    },
  });
  return stream;
}

