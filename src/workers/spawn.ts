import { Worker } from "node:worker_threads";
import path from "node:path";
import type { TaskRequest } from "./task";

// Replaced by build.mjs with the bundled text of the worker program, src/cli/worker.ts.
declare const __WORKER_SRC__: string;

let devSource: string | undefined;

/**
 * The worker's source text. In a built program it is embedded; when running from the source tree
 * (tests), it is bundled on first use with the same esbuild settings, so both paths run the same
 * eval-worker code.
 */
function workerSource(): string {
  // Written as a typeof test on purpose: esbuild folds it and drops this branch (and its
  // require of esbuild) from the built program.
  if (typeof __WORKER_SRC__ === "undefined") {
    if (devSource !== undefined) return devSource;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require("esbuild") as typeof import("esbuild");
    const result = esbuild.buildSync({
      entryPoints: [path.join(__dirname, "..", "cli", "worker.ts")],
      bundle: true, platform: "node", format: "cjs", target: "node20", write: false, logLevel: "silent",
    });
    devSource = result.outputFiles[0]!.text;
    return devSource;
  }
  return __WORKER_SRC__;
}

/** Starts a worker thread running one task. Buffers in `transfer` are moved, not copied. */
export function startWorker(request: TaskRequest, transfer: ArrayBuffer[] = []): Worker {
  return new Worker(workerSource(), { eval: true, workerData: request, transferList: transfer });
}

/** Runs a task that answers with exactly one message and resolves with it. */
export function runTask<T>(request: TaskRequest, transfer: ArrayBuffer[] = []): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const worker = startWorker(request, transfer);
    let settled = false;
    worker.once("message", (msg: { type: string; message?: string }) => {
      settled = true;
      void worker.terminate();
      if (msg.type === "error") reject(new Error(`worker task ${request.task} failed: ${msg.message}`));
      else resolve(msg as T);
    });
    worker.once("error", (err) => { settled = true; reject(err); });
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`worker task ${request.task} exited with code ${code} before answering`));
    });
  });
}
