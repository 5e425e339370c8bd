/**
 * The xz writer that uses every core: the input is cut into parts of `partSize` bytes, which worker
 * threads compress at the same time into ONE xz block whose LZMA2 stream runs on from part to part.
 * Each part's encoder is primed with a dictionary's worth of the bytes before the part (xz-part.ts),
 * so its matches reach back across the cut as a single encoder's would, and its first chunk
 * resets only the coder's state: every decoder reads the block with one dictionary, as if one
 * thread had written it. Independent blocks (what xz -T writes) start each with an empty
 * dictionary, which cost pair B's payload 2 % at 16 MiB blocks (docs/xz.md).
 *
 * The cut depends on `partSize` alone, never on the thread count, so the output is the same bytes
 * for any number of threads (1 compresses on the calling thread). An input expected to fit one
 * part (or of unknown size) is streamed exactly as XzEncoder writes it, nothing held back.
 *
 * Memory stays bounded: at most lanes + 1 parts (with their history) are in flight, a lane per
 * thread but no more lanes than the input's expected parts; the writer is held back (the
 * Transform's callback waits) until the oldest is written.
 */
import os from "node:os";
import { Transform, type TransformCallback } from "node:stream";
import { WorkerLanes } from "../workers/worker-lanes.js";
import { Crc64 } from "./crc64.js";
import { InputQueue } from "./input-queue.js";
import { IN_PLACE_PADDING } from "./lz-match-finder.js";
import { Lzma2Encoder } from "./lzma2-encoder.js";
import { encodeXzPart, type XzPartSettings } from "./xz-part.js";
import type { XzPartJob, XzPartReply, XzPartRequest } from "./xz-part-worker.js";
import { createXzCompressStream, xzBlockHeader, xzDictionary, xzStreamEnd, xzStreamHeader, type XzEncoderOptions } from "./xz-encoder.js";

/** Parts per this many input bytes: two (an even count keeps two cores busy to the end). */
const PARTS_SPAN = 64 << 20;
/** The smallest part: below it the history's priming costs more than the second core gains. */
const MIN_PART = 4 << 20;
/**
 * The largest dictionary a parallel stream declares: every decoder of the payload (the Mender
 * client on the device) allocates it, and each encoder thread holds about 10 bytes per byte of it.
 */
const XZ_PART_MAX_DICT = 16 << 20;

/**
 * The part size for an input of `sizeHint` bytes: two parts per 64 MiB, of equal size (rounded up
 * to 4 KiB), at least 4 MiB; an input of at most 4 MiB is one part. Pair B's 44.6 MB payload is
 * two parts of 22.3 MB: one round on two cores instead of two (16 + 16, then 12.6 MiB as blocks).
 * Parts in flight are held in memory, so they stay at most 32 MiB whatever the input's size.
 */
export function xzPartSizeFor(sizeHint: number): number {
  const parts = 2 * Math.max(1, Math.ceil(sizeHint / PARTS_SPAN));
  return Math.max(MIN_PART, Math.ceil(sizeHint / parts / 4096) * 4096);
}

export interface XzParallelOptions extends XzEncoderOptions {
  /** Input bytes per part (rounded up to a multiple of 4); default xzPartSizeFor(sizeHint). The output depends on it. */
  partSize?: number;
  /** Threads compressing parts; 1: the calling thread. Default: CPUs, at most 8. */
  threads?: number;
}

/** Compresses parts, answering in the order they were given. */
interface PartLanes {
  compress(input: Uint8Array, history: number): Promise<Uint8Array>;
  close(): void;
}

class LocalLanes implements PartLanes {
  constructor(private readonly settings: XzPartSettings) {}
  async compress(input: Uint8Array, history: number): Promise<Uint8Array> {
    return encodeXzPart(input, history, this.settings);
  }
  close(): void {}
}

/** Part k goes to lane k mod n; each lane answers its parts in order. */
class WorkerPartLanes implements PartLanes {
  private readonly lanes: WorkerLanes<XzPartJob, XzPartReply>;
  private next = 0;

  constructor(settings: XzPartSettings, count: number) {
    const request: XzPartRequest = { task: "xz-part", settings };
    this.lanes = new WorkerLanes(request, count, "xz part worker");
  }

  async compress(input: Uint8Array, history: number): Promise<Uint8Array> {
    const reply = await this.lanes.call(this.next++ % this.lanes.lanes, { type: "part", input, history }, [input.buffer as ArrayBuffer]);
    if (reply.type !== "part") throw new Error(`xz part worker: unexpected reply ${reply.type}`);
    return reply.chunks;
  }

  close(): void {
    this.lanes.close();
  }
}

export function defaultXzThreads(): number {
  return Math.min(8, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
}

/** A Transform writing the .xz stream described in the module comment. */
export function createXzParallelStream(options: XzParallelOptions = {}): Transform {
  const threads = options.threads ?? defaultXzThreads();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new RangeError(`xz thread count ${threads}: use 1 to 256`);
  const asked = options.partSize;
  if (asked !== undefined && (!Number.isInteger(asked) || asked < 1)) throw new RangeError(`xz part size ${asked} is not a positive integer`);
  if (options.sizeHint === undefined) return createXzCompressStream(options);
  // Parts start at multiples of 4, as their histories end (the model's position bits, xz-part.ts).
  const partSize = Math.ceil((asked ?? xzPartSizeFor(options.sizeHint)) / 4) * 4;
  if (options.sizeHint <= partSize) return createXzCompressStream(options);
  // No more lanes than the expected parts: an idle worker thread costs its runtime's memory (pair A's
  // two parts with --threads 8 started six more for nothing). More input than hinted still works.
  const laneCount = Math.min(threads, Math.ceil(options.sizeHint / partSize));
  const dict = xzDictionary({ ...options, dictSize: Math.min(options.dictSize ?? Infinity, XZ_PART_MAX_DICT) });
  const settings: XzPartSettings = { dictSize: dict.size, dictByte: dict.byte, mode: options.mode, niceLen: options.niceLen, depth: options.depth };
  // Less history than the dictionary loses matches: pair A's payload with 4 MiB of it is 3.4 %
  // larger than with all 16 (its second half repeats data 4-16 MiB back).
  const historyLength = dict.size & ~3;

  // Allocated here once, as XzEncoder does: too little memory for the dictionary's tables is a
  // RangeError at creation (callers turn it into advice), not a worker failing mid-way.
  new Lzma2Encoder(settings, () => undefined);

  /** Input not yet cut into a part. */
  const held = new InputQueue();
  /** The last historyLength input bytes taken so far (fewer at the start): the next part's history. */
  let tail = new Uint8Array(0);
  let uncompressed = 0;
  let compressed = 0;
  const check = new Crc64();
  const blockHeader = xzBlockHeader(dict.byte);
  let lanes: PartLanes | undefined;
  const inFlight: Promise<Uint8Array>[] = [];

  /**
   * The history and the next `size` held bytes as one fresh array (its buffer can be moved to a
   * worker). After the `last` part no history is kept (16 MiB less while the parts are compressed).
   */
  const take = (size: number, last = false): { input: Uint8Array; history: number } => {
    const history = tail.length;
    // Zeros after it in its buffer: the worker's match finder uses it as its window in place.
    const input = new Uint8Array(new ArrayBuffer(history + size + IN_PLACE_PADDING), 0, history + size);
    input.set(tail);
    held.readInto(input, history, size);
    tail = last ? new Uint8Array(0) : input.slice(Math.max(0, input.length - historyLength));
    return { input, history };
  };
  const writeOldest = async (): Promise<void> => {
    const chunks = await inFlight.shift()!;
    compressed += chunks.length;
    stream.push(chunks);
  };
  const dispatch = (part: { input: Uint8Array; history: number }): void => {
    if (lanes === undefined) {
      stream.push(xzStreamHeader());
      stream.push(blockHeader);
      lanes = laneCount <= 1 ? new LocalLanes(settings) : new WorkerPartLanes(settings, laneCount);
    }
    const pending = lanes.compress(part.input, part.history);
    pending.catch(() => undefined); // awaited in order by writeOldest
    inFlight.push(pending);
  };

  const stream = new Transform({
    transform(chunk: Uint8Array, _encoding: BufferEncoding, done: TransformCallback): void {
      // A copy: the writer may reuse its buffer once the callback ran.
      held.push(Uint8Array.from(chunk));
      uncompressed += chunk.length;
      check.update(chunk);
      (async () => {
        while (held.length >= partSize) {
          dispatch(take(partSize));
          while (inFlight.length > laneCount) await writeOldest();
        }
      })().then(() => done(), (err: Error) => done(err));
    },
    flush(done: TransformCallback): void {
      (async () => {
        if (uncompressed === 0) {
          // An empty input: a stream without blocks.
          stream.push(xzStreamHeader());
          stream.push(xzStreamEnd([]));
          return;
        }
        if (held.length > 0) dispatch(take(held.length, true));
        while (inFlight.length > 0) await writeOldest();
        // The LZMA2 end marker, the block's padding and its check (CRC64 of all the input).
        const padding = (4 - ((compressed + 1) % 4)) % 4;
        const trailer = new Uint8Array(1 + padding + 8);
        check.digestInto(trailer, 1 + padding);
        stream.push(trailer);
        stream.push(xzStreamEnd([{ unpadded: blockHeader.length + compressed + 1 + 8, uncompressed }]));
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
