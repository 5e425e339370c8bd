/**
 * Entry point of every worker thread. build.mjs bundles this file on its own and embeds the text in
 * the program (a SEA can only start workers from source text: `new Worker(code, { eval: true })`).
 * A worker runs one task, chosen by `workerData.task`, and answers through `parentPort`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { runWorkerTask, type WorkerRequest } from "./tasks";

const request = workerData as WorkerRequest;
Promise.resolve()
  .then(() => runWorkerTask(request, parentPort!))
  .catch((err: unknown) => {
    parentPort!.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
  });
