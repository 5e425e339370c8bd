/**
 * Fuzz worker thread: runs inputs one after the other and tells the watchdog in the main thread,
 * through shared memory, which input it is on and since when. The main thread terminates it when
 * one input takes too long (a hang) and starts a new worker after that input.
 */
import { parentPort, workerData } from "node:worker_threads";
import { MenderDeltaError } from "../../src/errors";
import { fuzzInput } from "./inputs";
import { PropertyViolation, runTarget, type TargetName } from "./targets";

export interface WorkerJob {
  target: TargetName;
  /** Mutation mode: the valid inputs and the run's seed; inputs first .. first+count-1. */
  seeds: Uint8Array[];
  seed: number;
  first: number;
  count: number;
  /** Replay mode (instead of mutation): run exactly these inputs, numbered from `first`. */
  inputs?: Uint8Array[];
  source?: Uint8Array;
  verifyKey?: string;
  xzOracle?: boolean;
  /** Int32 [0]: index of the input running (-1 idle); Float64 [1]: Date.now() when it started. */
  progress: SharedArrayBuffer;
  /** Scratch directory, made and removed by the main thread (a stopped worker cannot clean up). */
  scratch: string;
}

export interface Finding {
  index: number;
  kind: "crash" | "violation" | "hang";
  message: string;
  input: Uint8Array;
}

/** One message per input, so the main thread's tally survives a worker it has to stop. */
export interface InputResult {
  type: "result";
  index: number;
  /** "accepted", or the class name of the typed error. */
  outcome: string;
  /** Replay mode: the typed error's message. */
  message?: string;
  finding?: Finding;
  ms: number;
}

async function main(job: WorkerJob): Promise<void> {
  const current = new Int32Array(job.progress, 0, 1);
  const startedAt = new Float64Array(job.progress, 8, 1);
  const scratch = job.scratch;
  try {
    const count = job.inputs ? job.inputs.length : job.count;
    for (let k = 0; k < count; k++) {
      const index = job.first + k;
      const input = job.inputs ? job.inputs[k]! : fuzzInput(job.target, job.seeds, job.seed, index);
      const t0 = Date.now();
      startedAt[0] = t0;
      Atomics.store(current, 0, index);
      const result: InputResult = { type: "result", index, outcome: "accepted", ms: 0 };
      try {
        await runTarget(job.target, input, index, { source: job.source, scratch, verifyKey: job.verifyKey, xzOracle: job.xzOracle });
      } catch (err) {
        if (err instanceof PropertyViolation) {
          result.outcome = "violation";
          result.finding = { index, kind: "violation", message: err.message, input: input.slice() };
        } else if (err instanceof MenderDeltaError) {
          result.outcome = err.constructor.name;
          if (job.inputs) result.message = err.message;
        } else {
          result.outcome = "crash";
          const message = err instanceof Error ? (err.stack ?? err.message) : `non-Error thrown: ${String(err)}`;
          result.finding = { index, kind: "crash", message, input: input.slice() };
        }
      }
      result.ms = Date.now() - t0;
      parentPort!.postMessage(result);
    }
  } finally {
    Atomics.store(current, 0, -1);
  }
}

main(workerData as WorkerJob).then(
  () => parentPort!.postMessage({ type: "done" }),
  (err: unknown) => parentPort!.postMessage({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
);
