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
 * Memory: source size + about 16 bytes per 2^anchorBits source bytes (level 6: ~0.5 x source)
 * + per thread ~6 x windowSize. See docs/encoder.md.
 */
import fs from "node:fs";
import os from "node:os";
import type { Writable } from "node:stream";
import { MenderDeltaError } from "../errors";
import { deviceOrFileSize } from "../io/direct-source";
import { startWorker } from "../workers/spawn";
import type { EncodeJob, EncodeReply, EncodeWindowsRequest } from "./encode-worker";
import { DEFAULT_LEVEL, levelParams, MAX_LEVEL, MIN_LEVEL } from "./levels";
import type { WindowMatchStats } from "./match-window";
import { MAX_SOURCE_SIZE, SourceIndex, SourceIndexBuilder, type SourceIndexShared } from "./source-index";
import { WindowEncoder } from "./window-encoder";
import { FILE_HEADER } from "./window-writer";

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
  /** Milliseconds loading + indexing the source, and encoding the windows. */
  indexMs: number;
  encodeMs: number;
  threads: number;
  level: number;
  windowSize: number;
}

const LOAD_CHUNK = 16 * 1024 * 1024;

/** Encodes the delta from `sourcePath` to `targetPath` into `out` (a file path or a stream). */
export async function encodeVcdiff(
  sourcePath: string, targetPath: string, out: Writable | string, options: EncodeOptions = {},
): Promise<EncodeStats> {
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
  const checksum = options.checksum ?? true;
  const params = levelParams(level);

  const t0 = Date.now();
  const sourceFd = openForReading(sourcePath, "source (old image)");
  let shared: SourceIndexShared;
  try {
    shared = loadAndIndexSource(sourceFd, sourcePath, params.index);
  } finally {
    fs.closeSync(sourceFd);
  }
  const t1 = Date.now();

  const targetFd = openForReading(targetPath, "target (new image)");
  let targetSize: number;
  try {
    targetSize = deviceOrFileSize(targetPath);
  } finally {
    fs.closeSync(targetFd);
  }
  const windows = Math.max(1, Math.ceil(targetSize / windowSize));
  const stats: EncodeStats = {
    sourceSize: shared.sourceSize, targetSize, deltaSize: 0, windows,
    copiedFromSource: 0, copiedFromTarget: 0, runBytes: 0, addedBytes: 0,
    indexMs: t1 - t0, encodeMs: 0, threads: Math.min(threads, windows), level, windowSize,
  };
  const sink = await openSink(out);
  try {
    await sink.write(FILE_HEADER);
    stats.deltaSize += FILE_HEADER.length;
    let targetDone = 0;
    const onWindow = async (bytes: Uint8Array, w: WindowMatchStats): Promise<void> => {
      stats.copiedFromSource += w.copiedSource;
      stats.copiedFromTarget += w.copiedTarget;
      stats.runBytes += w.run;
      stats.addedBytes += w.added;
      stats.deltaSize += bytes.length;
      await sink.write(bytes);
      targetDone = Math.min(targetSize, targetDone + windowSize);
      options.onProgress?.(targetDone, targetSize);
    };
    const request: EncodeWindowsRequest = {
      task: "vcdiff-encode", index: shared, match: params.match, windowSize, checksum, targetPath,
    };
    if (stats.threads <= 1) await encodeOnThisThread(request, targetSize, windows, onWindow);
    else await encodeWithWorkers(request, targetSize, windows, stats.threads, onWindow);
    await sink.finish();
  } catch (err) {
    sink.abort();
    throw err;
  }
  stats.encodeMs = Date.now() - t1;
  return stats;
}

function openForReading(file: string, what: string): number {
  try {
    return fs.openSync(file, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new MenderDeltaError(`cannot open the ${what} ${file}: ${code}; check the path and its permissions`);
  }
}

function loadAndIndexSource(fd: number, file: string, params: ReturnType<typeof levelParams>["index"]): SourceIndexShared {
  const size = deviceOrFileSize(file);
  if (size > MAX_SOURCE_SIZE) {
    throw new MenderDeltaError(
      `source (old image) ${file} is ${size} bytes; the encoder supports up to ${MAX_SOURCE_SIZE} bytes (4 GiB - 32 MiB)`,
    );
  }
  let shared: SourceIndexShared;
  try {
    shared = SourceIndex.allocate(size, params);
  } catch (err) {
    throw new MenderDeltaError(
      `cannot allocate memory to index the ${size}-byte source ${file} (${(err as Error).message}); `
      + "the encoder needs about 1.6x the source size in RAM at level 6: free memory or use a lower --level",
    );
  }
  const builder = new SourceIndexBuilder(new SourceIndex(shared));
  const chunk = Buffer.allocUnsafe(Math.min(LOAD_CHUNK, Math.max(size, 1)));
  let loaded = 0;
  while (loaded < size) {
    const want = Math.min(LOAD_CHUNK, size - loaded);
    let got = 0;
    while (got < want) {
      const n = fs.readSync(fd, chunk, got, want - got, loaded + got);
      if (n === 0) throw new MenderDeltaError(`source (old image) ${file} ended at byte ${loaded + got} of ${size}: was it truncated while being read?`);
      got += n;
    }
    builder.add(chunk.subarray(0, want), loaded);
    loaded += want;
  }
  return shared;
}

type WindowHandler = (bytes: Uint8Array, stats: WindowMatchStats) => Promise<void>;

async function encodeOnThisThread(request: EncodeWindowsRequest, targetSize: number, windows: number, onWindow: WindowHandler): Promise<void> {
  const encoder = new WindowEncoder(request.index, request.match, request.windowSize, request.checksum);
  const fd = openForReading(request.targetPath, "target (new image)");
  try {
    for (let w = 0; w < windows; w++) {
      const start = w * request.windowSize;
      const { bytes, stats } = encoder.encode(fd, start, Math.min(request.windowSize, targetSize - start));
      await onWindow(bytes, stats);
    }
  } catch (err) {
    throw asEncoderError(err);
  } finally {
    fs.closeSync(fd);
  }
}

function asEncoderError(err: unknown): Error {
  if (err instanceof MenderDeltaError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MenderDeltaError(`encoding failed: ${message}`);
}

/**
 * Hands windows to `threads` workers (at most 2 in flight each) and writes the results in window
 * order, so memory stays bounded by threads x 2 finished windows whatever the image size.
 */
function encodeWithWorkers(
  request: EncodeWindowsRequest, targetSize: number, windows: number, threads: number, onWindow: WindowHandler,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const workers = Array.from({ length: threads }, () => startWorker(request));
    const done = new Map<number, { bytes: Uint8Array; stats: WindowMatchStats }>();
    let nextToSend = 0;
    let nextToWrite = 0;
    let writing = false;
    let failed = false;
    const maxAhead = threads * 2;

    const finish = (err?: unknown): void => {
      if (failed) return;
      if (err !== undefined) failed = true;
      for (const worker of workers) {
        if (err === undefined) worker.postMessage({ type: "close" } satisfies EncodeJob);
        else void worker.terminate();
      }
      if (err !== undefined) reject(asEncoderError(err));
      else resolve();
    };
    const send = (worker: (typeof workers)[number]): void => {
      if (failed || nextToSend >= windows || nextToSend - nextToWrite >= maxAhead) return;
      const seq = nextToSend++;
      const start = seq * request.windowSize;
      const job: EncodeJob = { type: "window", seq, start, length: Math.min(request.windowSize, targetSize - start) };
      worker.postMessage(job);
    };
    const idle: (typeof workers)[number][] = [];
    const flush = async (): Promise<void> => {
      if (writing) return;
      writing = true;
      try {
        while (!failed && done.has(nextToWrite)) {
          const result = done.get(nextToWrite)!;
          done.delete(nextToWrite);
          nextToWrite++;
          await onWindow(result.bytes, result.stats);
          while (idle.length > 0 && nextToSend < windows && nextToSend - nextToWrite < maxAhead) send(idle.pop()!);
        }
      } catch (err) {
        finish(err);
        return;
      } finally {
        writing = false;
      }
      if (!failed && nextToWrite === windows) finish();
    };
    for (const worker of workers) {
      worker.on("message", (reply: EncodeReply) => {
        if (reply.type === "error") { finish(new Error(reply.message)); return; }
        done.set(reply.seq, { bytes: reply.bytes, stats: reply.stats });
        if (nextToSend < windows && nextToSend - nextToWrite < maxAhead) send(worker);
        else idle.push(worker);
        void flush();
      });
      worker.on("error", (err) => finish(err));
      worker.on("exit", (code) => {
        if (!failed && nextToWrite < windows) finish(new Error(`encoder worker exited with code ${code}`));
      });
      // Two jobs per worker in flight keeps it busy while the main thread writes.
      send(worker);
      send(worker);
    }
  });
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
