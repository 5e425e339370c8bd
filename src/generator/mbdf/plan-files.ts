/**
 * Plans every changed file (plan-file.ts) on worker threads, each file on the first free one, or
 * here when one thread is asked for. Planning is most of a file-aware delta's time (suffix arrays,
 * approximate and executable-aware diffs of each changed file) and the files are independent, so
 * it scales with the cores; the results do not depend on the thread count.
 */
import os from "node:os";
import { WorkerLanes } from "../../workers/worker-lanes";
import { type Changed, type FilePlanOptions, type PlannedFile, planChangedFile } from "./plan-file";
import type { PlanFileJob, PlanFileReply, PlanFileRequest } from "./plan-file-worker";

/**
 * At most this many planner threads: one holds up to ~10 bytes per byte of the largest file it
 * diffs (a 16 MiB file: about 200 MiB), so more would cost a build host more memory than it saves time.
 */
const MAX_PLANNERS = 4;

/** Lets the event loop run: the VCDIFF estimates' worker replies are answered between files. */
const yieldToOthers = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The planned record of each of `changed` (same order). Each file's two versions are moved to the
 * thread that plans it: `changed`'s `old` and `neu` are unusable afterwards.
 */
export async function planChangedFiles(changed: Changed[], options: FilePlanOptions, threads?: number): Promise<PlannedFile[]> {
  const wanted = threads ?? Math.min(8, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  const lanes = Math.min(wanted, MAX_PLANNERS, changed.length);
  const results: PlannedFile[] = new Array<PlannedFile>(changed.length);
  if (lanes <= 1) {
    for (let k = 0; k < changed.length; k++) {
      results[k] = planChangedFile(changed[k]!, options);
      await yieldToOthers();
    }
    return results;
  }
  // The largest files first: the last ones to finish are then small, and the threads end together.
  const order = changed.map((_, k) => k).sort((a, b) => weight(changed[b]!) - weight(changed[a]!));
  const request: PlanFileRequest = { task: "plan-file", executableDiffs: options.executableDiffs };
  const workers = new WorkerLanes<PlanFileJob, PlanFileReply>(request, lanes, "planner worker");
  let next = 0;
  const lane = async (l: number): Promise<void> => {
    while (next < order.length) {
      const k = order[next++]!;
      const change = changed[k]!;
      const reply = await workers.call(l, { type: "plan", change }, ownBuffers(change.old, change.neu));
      if (reply.type === "planned") results[k] = { planned: reply.planned, debug: reply.debug };
    }
  };
  try {
    await Promise.all(Array.from({ length: lanes }, (_, l) => lane(l)));
  } finally {
    workers.close();
  }
  return results;
}

const weight = (c: Changed): number => c.old.length + c.neu.length;

/** The arrays' buffers when each array is the whole of its own buffer (those can be moved). */
function ownBuffers(...arrays: Uint8Array[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && !out.includes(a.buffer)) out.push(a.buffer);
  return out;
}
