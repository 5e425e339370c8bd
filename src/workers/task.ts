/**
 * What a worker thread runs: a task, named by `request.task`, that posts its answers on the port.
 * This room knows no task by name; the worker program (src/cli/worker.ts) registers the ones it
 * offers, so task modules depend on workers/ and never the other way round.
 */
import type { MessagePort } from "node:worker_threads";

/** A task's request: its kind plus its own fields, passed to the worker as `workerData`. */
export interface TaskRequest {
  readonly task: string;
}

export type TaskHandler<R extends TaskRequest> = (request: R, port: MessagePort) => void | Promise<void>;

/** One handler for each kind of request in the union `R`. */
export type TaskRegistry<R extends TaskRequest> = { [K in R["task"]]: TaskHandler<Extract<R, { task: K }>> };

/**
 * Runs the task `request` names on this worker thread. A failure (or an unknown task) is answered
 * as `{ type: "error", message }`, which runTask turns into a rejection on the main thread.
 */
export function serveTask<R extends TaskRequest>(registry: TaskRegistry<R>, request: R, port: MessagePort): void {
  Promise.resolve()
    .then(() => {
      const handler = (registry as unknown as Record<string, TaskHandler<R> | undefined>)[request.task];
      if (!Object.hasOwn(registry, request.task) || handler === undefined) {
        throw new Error(`unknown worker task ${JSON.stringify(request.task)}`);
      }
      return handler(request, port);
    })
    .catch((err: unknown) => {
      port.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
    });
}

/**
 * Serves the jobs that arrive on `port`, one at a time, in order, until `{ type: "close" }`: each
 * answered with what `handle` returns (its `transfer` buffers moved, not copied), a throw with
 * `{ type: "error", message }` (the lanes then reject, workers/worker-lanes.ts). `onClose` runs
 * before the port closes. Resolves when closed.
 */
export function serveJobs<J extends { type: string }>(
  port: MessagePort,
  handle: (job: Exclude<J, { type: "close" }>) => { reply: unknown; transfer?: ArrayBuffer[] },
  onClose?: () => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    port.on("message", (job: J) => {
      if (job.type === "close") {
        onClose?.();
        port.close();
        resolve();
        return;
      }
      try {
        const { reply, transfer } = handle(job as Exclude<J, { type: "close" }>);
        port.postMessage(reply, transfer ?? []);
      } catch (err) {
        port.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
      }
    });
  });
}
