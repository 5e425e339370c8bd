/**
 * The `selftest` task: exercises what real tasks need (receiving bytes, a bundled dependency,
 * node:crypto, replying), so `selftest` can prove a build runs its worker threads.
 */
import { createHash } from "node:crypto";
import type { MessagePort } from "node:worker_threads";
import { gzipSync } from "fflate";

export interface SelfTestRequest {
  task: "selftest";
  payload: Uint8Array;
}

export interface SelfTestReply {
  type: "result";
  sha256: string;
  gzip: Uint8Array;
}

export function runSelfTestTask(request: SelfTestRequest, port: MessagePort): void {
  const reply: SelfTestReply = {
    type: "result",
    sha256: createHash("sha256").update(request.payload).digest("hex"),
    gzip: gzipSync(request.payload, { level: 6, mtime: 0 }),
  };
  port.postMessage(reply);
}
