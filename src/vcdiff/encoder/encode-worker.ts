/**
 * The encoder's worker task. A worker answers jobs from the main thread one at a time, in order:
 * load a source range into shared memory and scan it for anchors, insert the anchors of its share of buckets, encode a window
 * (bytes moved back, not copied). Source and index are shared memory, never copied.
 */
import fs from "node:fs";
import type { MessagePort } from "node:worker_threads";
import type { MatchParams, WindowMatchStats } from "./match-window";
import { MenderDeltaError } from "../../errors";
import { openForReading } from "../../io/open-for-reading";
import { readFullyAt } from "../../io/read-fully";
import { GEAR_SPAN } from "./gear-hash";
import {
  insertAnchors, scanSourceRange, SourceIndex, SourceLoader, type AnchorList, type SourceIndexShared,
} from "./source-index";
import { blankRanges } from "./source-ranges";
import { WindowEncoder } from "./window-encoder";
import { serveJobs } from "../../workers/task";

export interface EncodeWindowsRequest {
  task: "vcdiff-encode";
  index: SourceIndexShared;
  match: MatchParams;
  windowSize: number;
  checksum: boolean;
  targetPath: string;
  sourcePath: string;
  /** Sorted, merged [start, end) source byte pairs no copy may read (empty: none). */
  avoid: Float64Array;
  /** Reply with the source ranges each window reads. */
  collectReads: boolean;
}

export type EncodeJob =
  | { type: "load"; from: number; to: number }
  | { type: "insert"; pairs: Uint32Array; count: number; part: number; parts: number }
  | { type: "window"; start: number; length: number }
  | { type: "close" };

export type EncodeReply =
  | { type: "scanned"; pairs: Uint32Array; count: number }
  | { type: "inserted" }
  | { type: "window"; bytes: Uint8Array; stats: WindowMatchStats; reads?: Float64Array }
  | { type: "error"; message: string };

/** Runs one job on this thread (workers and the single-thread path share it). */
export class EncodeJobRunner {
  private readonly index: SourceIndex;
  private encoder: WindowEncoder | undefined;
  private fd = -1;
  private sourceFd = -1;
  private loader: SourceLoader | undefined;
  private chunk: Buffer | undefined;

  constructor(private readonly request: EncodeWindowsRequest) {
    this.index = new SourceIndex(request.index);
  }

  run(job: Exclude<EncodeJob, { type: "close" }>): { reply: EncodeReply; transfer: ArrayBuffer[] } {
    switch (job.type) {
      case "load": {
        const list = this.loadAndScan(job.from, job.to);
        return { reply: { type: "scanned", pairs: list.pairs, count: list.count }, transfer: [list.pairs.buffer as ArrayBuffer] };
      }
      case "insert":
        insertAnchors(this.index, [{ pairs: job.pairs, count: job.count }], job.part, job.parts);
        return { reply: { type: "inserted" }, transfer: [] };
      case "window": {
        const r = this.request;
        this.encoder ??= new WindowEncoder(r.index, r.match, r.windowSize, r.checksum, { avoid: r.avoid, collectReads: r.collectReads });
        if (this.fd < 0) this.fd = fs.openSync(r.targetPath, "r");
        const { bytes, stats, reads } = this.encoder.encode(this.fd, job.start, job.length);
        const transfer = [bytes.buffer as ArrayBuffer];
        if (reads) transfer.push(reads.buffer as ArrayBuffer);
        return { reply: { type: "window", bytes, stats, reads }, transfer };
      }
    }
  }

  /** Index phases 1 and 2 for source bytes [from, to): read with positional reads, then scan. */
  private loadAndScan(from: number, to: number): AnchorList {
    const r = this.request;
    if (this.sourceFd < 0) this.sourceFd = openForReading(r.sourcePath, "source (old image)");
    this.loader ??= new SourceLoader(r.index);
    const chunk = (this.chunk ??= Buffer.allocUnsafe(LOAD_CHUNK));
    const before = Buffer.alloc(Math.min(from, GEAR_SPAN));
    readSource(this.sourceFd, before, from - before.length, r.sourcePath);
    // Avoided bytes are blanked before anything sees them: no anchor, no block hash points there.
    blankRanges(r.avoid, before, from - before.length);
    for (let at = from; at < to; at += LOAD_CHUNK) {
      const piece = chunk.subarray(0, Math.min(LOAD_CHUNK, to - at));
      readSource(this.sourceFd, piece, at, r.sourcePath);
      blankRanges(r.avoid, piece, at);
      this.loader.add(piece, at);
    }
    return scanSourceRange(this.index, from, to, before);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    if (this.sourceFd >= 0) fs.closeSync(this.sourceFd);
    this.fd = -1;
    this.sourceFd = -1;
  }
}

/** Source bytes are read in pieces of this size (a multiple of 4096). */
const LOAD_CHUNK = 4 * 1024 * 1024;

/** Reads all of `into` from `position` of the source; a short read means the file shrank. */
function readSource(fd: number, into: Buffer, position: number, file: string): void {
  const got = readFullyAt(fd, into, position);
  if (got < into.length) {
    throw new MenderDeltaError(`source (old image) ${file} ended at byte ${position + got}: was it truncated while being read?`);
  }
}

export function runEncodeWorker(request: EncodeWindowsRequest, port: MessagePort): Promise<void> {
  const runner = new EncodeJobRunner(request);
  return serveJobs<EncodeJob>(port, (job) => runner.run(job), () => runner.close());
}
