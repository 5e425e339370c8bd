/**
 * The xz part task of the worker program: a worker compresses the parts it is sent, one at a time
 * and in order, each answered with its LZMA2 chunks (bytes moved back, not copied).
 */
import type { MessagePort } from "node:worker_threads";
import { encodeXzPart, type XzPartSettings } from "./xz-part.js";
import { serveJobs } from "../workers/task.js";

export interface XzPartRequest {
  task: "xz-part";
  settings: XzPartSettings;
}

/** `input` holds the part's `history` bytes, then the part itself. */
export type XzPartJob = { type: "part"; input: Uint8Array; history: number } | { type: "close" };
export type XzPartReply = { type: "part"; chunks: Uint8Array } | { type: "error"; message: string };

export function runXzPartWorker(request: XzPartRequest, port: MessagePort): Promise<void> {
  return serveJobs<XzPartJob>(port, (job) => {
    const chunks = encodeXzPart(job.input, job.history, request.settings);
    const reply: XzPartReply = { type: "part", chunks };
    return { reply, transfer: [chunks.buffer as ArrayBuffer] };
  });
}
