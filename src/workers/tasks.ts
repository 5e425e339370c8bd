/**
 * The registry of work a worker thread can do. Each task is a function of its request; it posts its
 * results on the port. New tasks (the encoder's window jobs) are added here.
 */
import { createHash } from "node:crypto";
import type { MessagePort } from "node:worker_threads";
import { gzipSync } from "fflate";
import { runEncodeWorker, type EncodeWindowsRequest } from "../vcdiff/encode-worker";

export interface SelfTestRequest {
  task: "selftest";
  payload: Uint8Array;
}

export type WorkerRequest = SelfTestRequest | EncodeWindowsRequest;

export interface SelfTestReply {
  type: "result";
  sha256: string;
  gzip: Uint8Array;
}

export async function runWorkerTask(request: WorkerRequest, port: MessagePort): Promise<void> {
  switch (request.task) {
    case "selftest": {
      // Exercises what real tasks need: receiving bytes, a bundled dependency, node:crypto, replying.
      const reply: SelfTestReply = {
        type: "result",
        sha256: createHash("sha256").update(request.payload).digest("hex"),
        gzip: gzipSync(request.payload, { level: 6, mtime: 0 }),
      };
      port.postMessage(reply);
      return;
    }
    case "vcdiff-encode":
      return runEncodeWorker(request, port);
    default:
      throw new Error(`unknown worker task ${JSON.stringify((request as { task: unknown }).task)}`);
  }
}
