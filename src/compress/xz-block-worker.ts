/**
 * The xz block task of the worker program: a worker compresses the blocks it is sent, one at a
 * time and in order, each answered with its xz block (bytes moved back, not copied).
 */
import type { MessagePort } from "node:worker_threads";
import { encodeXzBlock, type XzBlock, type XzBlockSettings } from "./xz-block.js";
import { serveJobs } from "../workers/task.js";

export interface XzBlockRequest {
  task: "xz-block";
  settings: XzBlockSettings;
}

export type XzBlockJob = { type: "block"; data: Uint8Array } | { type: "close" };
export type XzBlockReply = ({ type: "block" } & XzBlock) | { type: "error"; message: string };

export function runXzBlockWorker(request: XzBlockRequest, port: MessagePort): Promise<void> {
  return serveJobs<XzBlockJob>(port, (job) => {
    const block = encodeXzBlock(job.data, request.settings);
    const reply: XzBlockReply = { type: "block", ...block };
    return { reply, transfer: [block.bytes.buffer as ArrayBuffer] };
  });
}
