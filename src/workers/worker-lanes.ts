/**
 * A fixed set of worker threads running one task, each a lane that answers its jobs in order (so
 * a caller that keeps track of which lane got what needs no job ids). The first failure of any
 * lane (an error reply, a crash, an early exit) rejects every waiting call and stops them all.
 */
import type { Worker } from "node:worker_threads";
import { startWorker } from "./spawn";
import type { TaskRequest } from "./task";

interface Waiting<R> {
  resolve: (reply: R) => void;
  reject: (err: Error) => void;
}

export class WorkerLanes<J, R extends { type: string }> {
  private readonly workers: Worker[] = [];
  private readonly waiting: Waiting<R>[][] = [];
  private failure: Error | undefined;
  private closed = false;

  /** `name` says which worker died in the exit error ("<name> exited with code N"). */
  constructor(request: TaskRequest, readonly lanes: number, name: string) {
    for (let i = 0; i < lanes; i++) {
      const worker = startWorker(request);
      const queue: Waiting<R>[] = [];
      worker.on("message", (reply: R & { message?: string }) => {
        const w = queue.shift();
        if (reply.type === "error") {
          const err = new Error(reply.message);
          w?.reject(err);
          this.fail(err);
        } else {
          w?.resolve(reply);
        }
      });
      worker.on("error", (err) => this.fail(err));
      worker.on("exit", (code) => { if (!this.closed) this.fail(new Error(`${name} exited with code ${code}`)); });
      this.workers.push(worker);
      this.waiting.push(queue);
    }
  }

  call(lane: number, job: J, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<R>((resolve, reject) => {
      this.waiting[lane]!.push({ resolve, reject });
      this.workers[lane]!.postMessage(job, transfer);
    });
  }

  private fail(err: Error): void {
    if (this.failure || this.closed) return;
    this.failure = err;
    for (const queue of this.waiting) for (const w of queue.splice(0)) w.reject(err);
    for (const worker of this.workers) void worker.terminate();
  }

  /** Asks every lane to finish (the task's `{ type: "close" }` job); after a failure there is none left. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.failure) return;
    for (const worker of this.workers) worker.postMessage({ type: "close" });
  }
}
