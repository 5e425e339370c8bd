/**
 * The VCDIFF encoder's public API: old image + new image -> a delta every VCDIFF decoder applies
 * (stock `xdelta3 -d` included).
 *
 * Output profile: header indicator 0 (no secondary compression, no application header, default
 * code table); one VCD_SOURCE window per `windowSize` bytes of target (default 8 MiB, at most
 * 16 MiB, which xdelta3 3.0.x requires), each with the exact source segment its copies use and,
 * by default, xdelta3's adler32 of the window; never VCD_TARGET; an empty target is one empty
 * window. The delta is meant to be compressed again (xz) at the Artifact layer.
 *
 * How: the whole source is loaded once into shared memory and indexed (SourceIndex); windows are
 * then independent and are encoded in parallel by worker threads (`threads`), written in order.
 * Memory (docs/encoder.md, "Memory", part by part): the source (its all-zero blocks cost nothing),
 * an anchor index of 8-16 bytes per 2^anchorBits source bytes (level 6: n/8 to n/4), n/4 more
 * while it is built, and per thread about 7 x windowSize plus its runtime (~40 MB).
 */
import { constants as bufferConstants } from "node:buffer";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Writable } from "node:stream";
import { MenderDeltaError } from "../../errors";
import { deviceOrFileSize } from "../../io/file-size";
import { openForReading } from "../../io/open-for-reading";
import { WorkerLanes } from "../../workers/worker-lanes";
import { EncodeJobRunner, type EncodeJob, type EncodeReply, type EncodeWindowsRequest } from "./encode-worker";
import { DEFAULT_LEVEL, levelParams, MAX_LEVEL, MIN_LEVEL } from "./levels";
import type { WindowMatchStats } from "./match-window";
import {
  buildBlockIndex, MAX_SOURCE_SIZE, SourceIndex, sourceRanges, type IndexParams, type SourceIndexShared,
} from "./source-index";
import { normalizeRanges, rangesLength, type ByteRange } from "../../io/byte-ranges";
import { RangeBuilder } from "./source-ranges";
import { varintLength, writeVarint } from "../format/varint";
import { FILE_HEADER } from "./window-writer";
import { VCD_APPHEADER } from "../format/constants";

export const DEFAULT_WINDOW_SIZE = 8 * 1024 * 1024;
export const MIN_WINDOW_SIZE = 64 * 1024;
/** xdelta3 3.0.x refuses target windows above 2^24 bytes. */
export const MAX_WINDOW_SIZE = 16 * 1024 * 1024;

export interface EncodeOptions {
  /** Target window size in bytes: a multiple of 4096 in [64 KiB, 16 MiB]; default 8 MiB. Decoder memory follows it. */
  windowSize?: number;
  /** Worker threads encoding windows; 1 encodes on the calling thread. Default: CPUs, at most 8. */
  threads?: number;
  /** 1 (fastest) .. 9 (smallest); default 6. */
  level?: number;
  /** xdelta3's per-window adler32 (VCD_ADLER32); default true. Off only for decoders that cannot skip it. */
  checksum?: boolean;
  /** Called after each window is written, with the target bytes encoded so far (for progress displays). */
  onProgress?(targetDone: number, targetSize: number): void;
  /**
   * Source byte ranges no COPY may read ([start, end) pairs, any order): what a mounted read-write
   * root rewrites by itself. Target bytes matching only there are coded as RUNs or literals.
   */
  avoid?: readonly ByteRange[] | Float64Array;
  /**
   * Makes the file's application header from the source ranges the delta's copies read (sorted,
   * merged [start, end) pairs), once every window is encoded. The windows are kept in a temporary
   * file beside the output until then, as the header comes first.
   */
  appHeader?(reads: Float64Array): Uint8Array;
}

export interface EncodeStats {
  sourceSize: number;
  targetSize: number;
  deltaSize: number;
  windows: number;
  /** Target bytes produced by each instruction kind. */
  copiedFromSource: number;
  copiedFromTarget: number;
  runBytes: number;
  addedBytes: number;
  /** Source bytes the copies read (their union), when `appHeader` asked for them. */
  sourceBytesRead?: number;
  /** Bytes of the application header. */
  appHeaderSize: number;
  /** Milliseconds loading + indexing the source, and encoding the windows. */
  indexMs: number;
  encodeMs: number;
  threads: number;
  level: number;
  windowSize: number;
}


/** Encodes the delta from `sourcePath` to `targetPath` into `out` (a file path or a stream). */
export async function encodeVcdiff(
  sourcePath: string, targetPath: string, out: Writable | string, options: EncodeOptions = {},
): Promise<EncodeStats> {
  const checked = checkOptions(options);
  const { windowSize, level, threads } = checked;
  const t0 = Date.now();
  const targetSize = sizeOf(targetPath, "target (new image)");
  const windows = Math.max(1, Math.ceil(targetSize / windowSize));
  const { shared, runner } = startEncoder(sourcePath, targetPath, checked, options.avoid, options.appHeader !== undefined);
  const stats: EncodeStats = {
    sourceSize: shared.sourceSize, targetSize, deltaSize: 0, windows,
    copiedFromSource: 0, copiedFromTarget: 0, runBytes: 0, addedBytes: 0,
    appHeaderSize: 0, indexMs: 0, encodeMs: 0, threads, level, windowSize,
  };
  let sink: Sink | undefined;
  let body: WindowSpool | undefined;
  try {
    await buildIndex(runner, shared);
    const t1 = Date.now();
    stats.indexMs = t1 - t0;
    sink = await openSink(out);
    const reads = options.appHeader ? new RangeBuilder() : undefined;
    if (reads) body = new WindowSpool(typeof out === "string" ? out : undefined);
    else await sink.write(FILE_HEADER);
    let targetDone = 0;
    const onWindow = async (bytes: Uint8Array, w: WindowMatchStats, windowReads?: Float64Array): Promise<void> => {
      stats.copiedFromSource += w.copiedSource;
      stats.copiedFromTarget += w.copiedTarget;
      stats.runBytes += w.run;
      stats.addedBytes += w.added;
      stats.deltaSize += bytes.length;
      if (windowReads) reads!.addAll(windowReads);
      if (body) body.write(bytes);
      else await sink!.write(bytes);
      targetDone = Math.min(targetSize, targetDone + windowSize);
      options.onProgress?.(targetDone, targetSize);
    };
    await encodeWindows(runner, (seq) => ({ start: seq * windowSize, length: Math.min(windowSize, targetSize - seq * windowSize) }), windows, onWindow);
    if (body && reads) {
      const union = reads.finish();
      stats.sourceBytesRead = rangesLength(union);
      const appHeader = options.appHeader!(union);
      const header = fileHeaderWithAppHeader(appHeader);
      stats.appHeaderSize = appHeader.length;
      await sink.write(header);
      stats.deltaSize += header.length;
      await body.copyTo((bytes) => sink!.write(bytes));
    } else {
      stats.deltaSize += FILE_HEADER.length;
    }
    await sink.finish();
    stats.encodeMs = Date.now() - t1;
  } catch (err) {
    sink?.abort();
    throw asEncoderError(err);
  } finally {
    body?.remove();
    runner.close();
  }
  return stats;
}

interface CheckedOptions {
  windowSize: number;
  level: number;
  threads: number;
  checksum: boolean;
  params: ReturnType<typeof levelParams>;
}

/** The options with their defaults, each checked (a clear error naming the bad value). */
function checkOptions(options: Pick<EncodeOptions, "windowSize" | "level" | "threads" | "checksum">): CheckedOptions {
  const windowSize = options.windowSize ?? DEFAULT_WINDOW_SIZE;
  if (!Number.isInteger(windowSize) || windowSize < MIN_WINDOW_SIZE || windowSize > MAX_WINDOW_SIZE || windowSize % 4096 !== 0) {
    throw new MenderDeltaError(
      `window size ${windowSize} is not usable: it must be a multiple of 4096 between ${MIN_WINDOW_SIZE} and ${MAX_WINDOW_SIZE} bytes `
      + "(xdelta3 3.0.x refuses windows above 16 MiB); pick e.g. 1048576 for small-RAM devices, 8388608 by default",
    );
  }
  const level = options.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < MIN_LEVEL || level > MAX_LEVEL) {
    throw new MenderDeltaError(`encoder level ${level} is not usable: use an integer from ${MIN_LEVEL} (fastest) to ${MAX_LEVEL} (smallest)`);
  }
  const threads = options.threads ?? Math.min(8, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new MenderDeltaError(`thread count ${threads} is not usable: use an integer from 1 to 256`);
  }
  return { windowSize, level, threads, checksum: options.checksum ?? true, params: levelParams(level) };
}

/**
 * The source's index allocated (not yet built) and the job runner for it: worker threads, or this
 * thread for one. What encodeVcdiff and TargetRangeEncoder both start from.
 */
function startEncoder(
  sourcePath: string, targetPath: string, options: CheckedOptions, avoid: EncodeOptions["avoid"], collectReads: boolean,
): { shared: SourceIndexShared; runner: JobRunner } {
  const shared = allocateIndex(sourcePath, options.params.index);
  const request: EncodeWindowsRequest = {
    task: "vcdiff-encode", index: shared, match: options.params.match, windowSize: options.windowSize, checksum: options.checksum,
    targetPath, sourcePath, avoid: sharedRanges(avoid ? normalizeRanges(avoid) : new Float64Array(0)), collectReads,
  };
  return { shared, runner: options.threads <= 1 ? new LocalRunner(request) : new WorkerRunner(request, options.threads) };
}

/** A stretch of the target file that one delta of TargetRangeEncoder.encode covers. */
export interface TargetRange {
  start: number;
  /** 1 to the window size. */
  length: number;
}

export type RangeOptions = Pick<EncodeOptions, "windowSize" | "level" | "threads" | "checksum" | "avoid"> & {
  /** Hand each delta the source ranges its copies read. */
  collectReads?: boolean;
};

/**
 * One self-contained VCDIFF delta per target range (the file header and one window), all against
 * the whole source, indexed once when the encoder opens: for callers that need many deltas of
 * pieces of one target (the file-aware format's VCDIFF records, and its planner's estimates).
 * Each `encode` call encodes its ranges in parallel and hands them to `onDelta` in their order,
 * with at most two per thread waiting, so memory does not grow with their number.
 */
export class TargetRangeEncoder {
  private constructor(
    private readonly runner: JobRunner,
    private readonly windowSize: number,
    private readonly targetSize: number,
  ) {}

  static async open(sourcePath: string, targetPath: string, options: RangeOptions): Promise<TargetRangeEncoder> {
    const checked = checkOptions(options);
    const targetSize = sizeOf(targetPath, "target (new image)");
    const { shared, runner } = startEncoder(sourcePath, targetPath, checked, options.avoid, options.collectReads === true);
    try {
      await buildIndex(runner, shared);
    } catch (err) {
      runner.close();
      throw asEncoderError(err);
    }
    return new TargetRangeEncoder(runner, checked.windowSize, targetSize);
  }

  async encode(ranges: readonly TargetRange[], onDelta: (index: number, delta: Uint8Array, reads?: Float64Array) => Promise<void> | void): Promise<void> {
    for (const r of ranges) {
      if (!Number.isSafeInteger(r.start) || r.start < 0 || r.length < 1 || r.length > this.windowSize || r.start + r.length > this.targetSize) {
        throw new RangeError(`target range [${r.start}, +${r.length}) is not within the ${this.targetSize}-byte target in one window`);
      }
    }
    if (ranges.length === 0) return;
    let index = 0;
    try {
      await encodeWindows(this.runner, (seq) => ranges[seq]!, ranges.length, async (bytes, _stats, reads) => {
        const delta = new Uint8Array(FILE_HEADER.length + bytes.length);
        delta.set(FILE_HEADER);
        delta.set(bytes, FILE_HEADER.length);
        await onDelta(index++, delta, reads);
      });
    } catch (err) {
      throw asEncoderError(err);
    }
  }

  close(): void {
    this.runner.close();
  }
}

/** The Float64Array's contents in shared memory: every worker reads the same ranges, none copies them. */
function sharedRanges(pairs: Float64Array): Float64Array {
  const shared = new Float64Array(new SharedArrayBuffer(Math.max(8, pairs.byteLength)), 0, pairs.length);
  shared.set(pairs);
  return shared;
}

/** VCDIFF file header with VCD_APPHEADER: magic, version 0, indicator, varint length, the bytes. */
function fileHeaderWithAppHeader(appHeader: Uint8Array): Uint8Array {
  const out = new Uint8Array(FILE_HEADER.length + varintLength(appHeader.length) + appHeader.length);
  out.set(FILE_HEADER);
  out[4] = VCD_APPHEADER;
  const at = writeVarint(out, FILE_HEADER.length, appHeader.length);
  out.set(appHeader, at);
  return out;
}

/**
 * The encoded windows while the application header cannot be written yet: a temporary file beside
 * the output (or in the temporary directory for a stream), created exclusively, removed always.
 */
class WindowSpool {
  private readonly path: string;
  private readonly fd: number;
  private size = 0;

  constructor(beside: string | undefined) {
    const dir = beside ? path.dirname(beside) : os.tmpdir();
    const base = beside ? path.basename(beside) : "delta";
    this.path = path.join(dir, `.${base}.windows-${randomBytes(6).toString("hex")}`);
    try {
      this.fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new MenderDeltaError(`cannot create the temporary file ${this.path}: ${code}; check the output directory is writable`);
    }
  }

  write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(this.fd, bytes, off, bytes.length - off, this.size + off);
    this.size += bytes.length;
  }

  async copyTo(write: (bytes: Uint8Array) => Promise<void>): Promise<void> {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let at = 0; at < this.size;) {
      const n = fs.readSync(this.fd, chunk, 0, Math.min(chunk.length, this.size - at), at);
      if (n === 0) throw new MenderDeltaError(`the temporary file ${this.path} ended early (removed while encoding?)`);
      await write(chunk.subarray(0, n));
      at += n;
    }
  }

  remove(): void {
    try { fs.closeSync(this.fd); } catch { /* closed */ }
    fs.rmSync(this.path, { force: true });
  }
}

function sizeOf(file: string, what: string): number {
  fs.closeSync(openForReading(file, what));
  return deviceOrFileSize(file);
}

function asEncoderError(err: unknown): Error {
  if (err instanceof MenderDeltaError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MenderDeltaError(`encoding failed: ${message}`);
}

function allocateIndex(file: string, params: IndexParams): SourceIndexShared {
  const size = sizeOf(file, "source (old image)");
  if (size > MAX_SOURCE_SIZE) {
    throw new MenderDeltaError(
      `source (old image) ${file} is ${size} bytes; the encoder supports up to ${MAX_SOURCE_SIZE} bytes (4 GiB - 32 MiB)`,
    );
  }
  // A 32-bit Node (the armhf build) holds at most 2^30 - 1 bytes in one buffer: the whole source is one.
  if (size > bufferConstants.MAX_LENGTH) {
    throw new MenderDeltaError(
      `source (old image) ${file} is ${size} bytes; this ${process.arch} build holds at most ${bufferConstants.MAX_LENGTH} bytes in memory at once: `
      + "run the x86_64 or aarch64 generator",
    );
  }
  try {
    return SourceIndex.allocate(size, params);
  } catch (err) {
    throw new MenderDeltaError(
      `cannot allocate memory to index the ${size}-byte source ${file} (${(err as Error).message}); `
      + "the encoder needs up to about 1.3x the source size in RAM at level 6 (see docs/encoder.md): free memory or use level 1-3",
    );
  }
}

type WindowHandler = (bytes: Uint8Array, stats: WindowMatchStats, reads?: Float64Array) => Promise<void>;

/** Jobs of one encode, run by worker threads or, with one thread, right here. */
interface JobRunner {
  readonly lanes: number;
  call(lane: number, job: Exclude<EncodeJob, { type: "close" }>, transfer?: ArrayBuffer[]): Promise<EncodeReply>;
  close(): void;
}

class LocalRunner implements JobRunner {
  readonly lanes = 1;
  private readonly runner: EncodeJobRunner;
  constructor(request: EncodeWindowsRequest) {
    this.runner = new EncodeJobRunner(request);
  }
  async call(_lane: number, job: Exclude<EncodeJob, { type: "close" }>): Promise<EncodeReply> {
    return this.runner.run(job).reply;
  }
  close(): void {
    this.runner.close();
  }
}

/** One worker per lane; each answers its jobs in order. The first failure fails every call. */
class WorkerRunner extends WorkerLanes<Exclude<EncodeJob, { type: "close" }>, EncodeReply> implements JobRunner {
  constructor(request: EncodeWindowsRequest, lanes: number) {
    super(request, lanes, "encoder worker");
  }
}

/**
 * Index phases 2-4 (see source-index.ts): scan ranges for anchors on every lane, gather the lists in
 * source order into shared memory, insert them with each lane owning a share of the buckets, and
 * build the block table here meanwhile. The index comes out the same for any number of lanes.
 */
async function buildIndex(runner: JobRunner, shared: SourceIndexShared): Promise<void> {
  // Phases 1-2: every lane loads and scans its ranges (reads in parallel, no copy through here).
  const ranges = sourceRanges(shared.sourceSize, runner.lanes * 4);
  const pending = ranges.map(([from, to], i) => runner.call(i % runner.lanes, { type: "load", from, to }));
  const scans = await Promise.all(pending);
  let total = 0;
  for (const r of scans) if (r.type === "scanned") total += r.count;
  const pairs = new Uint32Array(runner.lanes > 1 ? new SharedArrayBuffer(Math.max(8, total * 8)) : new ArrayBuffer(Math.max(8, total * 8)));
  let at = 0;
  for (const r of scans) {
    if (r.type !== "scanned") continue;
    pairs.set(r.pairs.subarray(0, r.count * 2), at);
    at += r.count * 2;
  }
  scans.length = 0; // the per-range lists can go
  const inserts = Array.from({ length: runner.lanes }, (_, part) =>
    runner.call(part, { type: "insert", pairs, count: total, part, parts: runner.lanes }));
  buildBlockIndex(new SourceIndex(shared));
  await Promise.all(inserts);
}

/**
 * Encodes the windows on every lane and writes them in window order; at most two finished or
 * running windows per lane, so memory stays bounded whatever the image size.
 */
async function encodeWindows(runner: JobRunner, windowAt: (seq: number) => TargetRange, windows: number, onWindow: WindowHandler): Promise<void> {
  const done = new Map<number, { bytes: Uint8Array; stats: WindowMatchStats; reads?: Float64Array }>();
  const maxAhead = runner.lanes * 2;
  let nextToSend = 0;
  let nextToWrite = 0;
  let writing: Promise<void> = Promise.resolve();
  let wakeUp: (() => void)[] = [];
  let failure: unknown;

  const flush = async (): Promise<void> => {
    while (done.has(nextToWrite)) {
      const result = done.get(nextToWrite)!;
      done.delete(nextToWrite);
      await onWindow(result.bytes, result.stats, result.reads);
      nextToWrite++;
      const waiters = wakeUp;
      wakeUp = [];
      for (const w of waiters) w();
    }
  };
  const lane = async (i: number): Promise<void> => {
    for (;;) {
      while (failure === undefined && nextToSend < windows && nextToSend - nextToWrite >= maxAhead) {
        await new Promise<void>((resolve) => wakeUp.push(resolve));
      }
      if (failure !== undefined || nextToSend >= windows) return;
      const seq = nextToSend++;
      const { start, length } = windowAt(seq);
      const reply = await runner.call(i, { type: "window", start, length });
      if (reply.type !== "window") throw new Error(`unexpected reply ${reply.type} to a window job`);
      done.set(seq, { bytes: reply.bytes, stats: reply.stats, reads: reply.reads });
      writing = writing.then(flush).catch((err: unknown) => {
        failure = err;
        for (const w of wakeUp.splice(0)) w();
      });
    }
  };
  await Promise.all(Array.from({ length: runner.lanes }, (_, i) => lane(i)));
  await writing;
  if (failure !== undefined) throw failure;
}

interface Sink {
  write(bytes: Uint8Array): Promise<void>;
  finish(): Promise<void>;
  abort(): void;
}

async function openSink(out: Writable | string): Promise<Sink> {
  if (typeof out === "string") {
    let fd: number;
    try {
      fd = fs.openSync(out, "w");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new MenderDeltaError(`cannot create the delta file ${out}: ${code}; check the directory exists and is writable`);
    }
    return {
      write: async (bytes) => {
        let off = 0;
        while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      },
      finish: async () => { fs.closeSync(fd); },
      abort: () => { try { fs.closeSync(fd); } catch { /* already closed */ } },
    };
  }
  return {
    write: (bytes) => new Promise<void>((resolve, reject) => {
      const ok = out.write(bytes, (err) => { if (err) reject(err); });
      if (ok) resolve(); else out.once("drain", resolve);
    }),
    finish: () => new Promise<void>((resolve, reject) => {
      out.end((err?: Error | null) => (err ? reject(err) : resolve()));
    }),
    abort: () => { out.destroy(); },
  };
}
