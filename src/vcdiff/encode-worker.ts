/**
 * The encoder's worker task: encodes the target windows the main thread sends, one reply per
 * window (bytes moved, not copied). Source and index are shared memory, never copied.
 */
import fs from "node:fs";
import type { MessagePort } from "node:worker_threads";
import type { MatchParams } from "./match-window";
import type { SourceIndexShared } from "./source-index";
import { WindowEncoder } from "./window-encoder";
import type { WindowMatchStats } from "./match-window";

export interface EncodeWindowsRequest {
  task: "vcdiff-encode";
  index: SourceIndexShared;
  match: MatchParams;
  windowSize: number;
  checksum: boolean;
  targetPath: string;
}

export type EncodeJob = { type: "window"; seq: number; start: number; length: number } | { type: "close" };
export type EncodeReply =
  | { type: "window"; seq: number; bytes: Uint8Array; stats: WindowMatchStats }
  | { type: "error"; message: string };

export function runEncodeWorker(request: EncodeWindowsRequest, port: MessagePort): Promise<void> {
  const encoder = new WindowEncoder(request.index, request.match, request.windowSize, request.checksum);
  const fd = fs.openSync(request.targetPath, "r");
  return new Promise<void>((resolve) => {
    port.on("message", (job: EncodeJob) => {
      if (job.type === "close") {
        fs.closeSync(fd);
        port.close();
        resolve();
        return;
      }
      try {
        const { bytes, stats } = encoder.encode(fd, job.start, job.length);
        const reply: EncodeReply = { type: "window", seq: job.seq, bytes, stats };
        port.postMessage(reply, [bytes.buffer as ArrayBuffer]);
      } catch (err) {
        const reply: EncodeReply = { type: "error", message: err instanceof Error ? err.message : String(err) };
        port.postMessage(reply);
      }
    });
  });
}
