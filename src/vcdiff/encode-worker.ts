/**
 * The encoder's worker task. A worker answers jobs from the main thread one at a time, in order:
 * scan a source range for anchors, insert the anchors of its share of buckets, encode a window
 * (bytes moved back, not copied). Source and index are shared memory, never copied.
 */
import fs from "node:fs";
import type { MessagePort } from "node:worker_threads";
import type { MatchParams, WindowMatchStats } from "./match-window";
import { insertAnchors, scanSourceRange, SourceIndex, type SourceIndexShared } from "./source-index";
import { WindowEncoder } from "./window-encoder";

export interface EncodeWindowsRequest {
  task: "vcdiff-encode";
  index: SourceIndexShared;
  match: MatchParams;
  windowSize: number;
  checksum: boolean;
  targetPath: string;
}

export type EncodeJob =
  | { type: "scan"; from: number; to: number }
  | { type: "insert"; pairs: Uint32Array; count: number; part: number; parts: number }
  | { type: "window"; start: number; length: number }
  | { type: "close" };

export type EncodeReply =
  | { type: "scanned"; pairs: Uint32Array; count: number }
  | { type: "inserted" }
  | { type: "window"; bytes: Uint8Array; stats: WindowMatchStats }
  | { type: "error"; message: string };

/** Runs one job on this thread (workers and the single-thread path share it). */
export class EncodeJobRunner {
  private readonly index: SourceIndex;
  private encoder: WindowEncoder | undefined;
  private fd = -1;

  constructor(private readonly request: EncodeWindowsRequest) {
    this.index = new SourceIndex(request.index);
  }

  run(job: Exclude<EncodeJob, { type: "close" }>): { reply: EncodeReply; transfer: ArrayBuffer[] } {
    switch (job.type) {
      case "scan": {
        const list = scanSourceRange(this.index, job.from, job.to);
        return { reply: { type: "scanned", pairs: list.pairs, count: list.count }, transfer: [list.pairs.buffer as ArrayBuffer] };
      }
      case "insert":
        insertAnchors(this.index, [{ pairs: job.pairs, count: job.count }], job.part, job.parts);
        return { reply: { type: "inserted" }, transfer: [] };
      case "window": {
        const r = this.request;
        this.encoder ??= new WindowEncoder(r.index, r.match, r.windowSize, r.checksum);
        if (this.fd < 0) this.fd = fs.openSync(r.targetPath, "r");
        const { bytes, stats } = this.encoder.encode(this.fd, job.start, job.length);
        return { reply: { type: "window", bytes, stats }, transfer: [bytes.buffer as ArrayBuffer] };
      }
    }
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

export function runEncodeWorker(request: EncodeWindowsRequest, port: MessagePort): Promise<void> {
  const runner = new EncodeJobRunner(request);
  return new Promise<void>((resolve) => {
    port.on("message", (job: EncodeJob) => {
      if (job.type === "close") {
        runner.close();
        port.close();
        resolve();
        return;
      }
      try {
        const { reply, transfer } = runner.run(job);
        port.postMessage(reply, transfer);
      } catch (err) {
        const reply: EncodeReply = { type: "error", message: err instanceof Error ? err.message : String(err) };
        port.postMessage(reply);
      }
    });
  });
}
