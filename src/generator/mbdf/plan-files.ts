/**
 * Plans every changed file (plan-file.ts) on worker threads, each file on the first free one, or
 * here when one thread is asked for. Planning is most of a file-aware delta's time (suffix arrays,
 * approximate and executable-aware diffs of each changed file) and the files are independent, so
 * it scales with the cores; the results do not depend on the thread count.
 */
import os from "node:os";
import { WorkerLanes } from "../../workers/worker-lanes";
import type { BcjArch } from "../../compress/bcj";
import { filteredPieceSizes } from "./literal-size";
import { type Changed, type FilePlanOptions, type PlannedFile, planChangedFile } from "./plan-file";
import type { PlanFileJob, PlanFileReply, PlanFileRequest } from "./plan-file-worker";

/**
 * At most this many planner threads: one holds up to ~10 bytes per byte of the largest file it
 * diffs (a 16 MiB file: about 200 MiB), so more would cost a build host more memory than it saves time.
 */
const MAX_PLANNERS = 4;

/** Lets the event loop run: the VCDIFF estimates' worker replies are answered between files. */
const yieldToOthers = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A new executable whose pieces are to be estimated as filtered LITERAL records (literal-size.ts). */
export interface LiteralJob {
  filter: BcjArch;
  /** Reads its bytes (when a thread is free for it: they are not all held at once). */
  read(): Uint8Array;
}

export interface PlannedFiles {
  /** The planned record of each changed file (same order). */
  planned: PlannedFile[];
  /** Per LiteralJob (same order): each piece's estimated LITERAL record size. */
  literalSizes: number[][];
}

/**
 * The planned record of each of `changed`, and the LITERAL estimates of each of `literals` in
 * pieces of `pieceSize`. Each file's two versions are moved to the thread that plans it:
 * `changed`'s `old` and `neu` are unusable afterwards.
 */
export async function planChangedFiles(
  changed: Changed[], options: FilePlanOptions, threads?: number, literals: readonly LiteralJob[] = [], pieceSize = 1 << 20,
): Promise<PlannedFiles> {
  const wanted = threads ?? Math.min(8, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  const lanes = Math.min(wanted, MAX_PLANNERS, changed.length + literals.length);
  const results: PlannedFile[] = new Array<PlannedFile>(changed.length);
  const literalSizes: number[][] = new Array<number[]>(literals.length);
  if (lanes <= 1) {
    for (let k = 0; k < changed.length; k++) {
      results[k] = planChangedFile(changed[k]!, options);
      await yieldToOthers();
    }
    for (let k = 0; k < literals.length; k++) {
      literalSizes[k] = filteredPieceSizes(literals[k]!.read(), literals[k]!.filter, pieceSize);
      await yieldToOthers();
    }
    return { planned: results, literalSizes };
  }
  // The largest files first: the last ones to finish are then small, and the threads end together.
  // The new executables' estimates come after the files (indices from changed.length on): each is
  // quick next to a large file's plan, so they fill the threads' ends.
  const order = changed.map((_, k) => k).sort((a, b) => weight(changed[b]!) - weight(changed[a]!));
  for (let k = 0; k < literals.length; k++) order.push(changed.length + k);
  const request: PlanFileRequest = { task: "plan-file", executableDiffs: options.executableDiffs };
  const workers = new WorkerLanes<PlanFileJob, PlanFileReply>(request, lanes, "planner worker");
  let next = 0;
  const lane = async (l: number): Promise<void> => {
    while (next < order.length) {
      const k = order[next++]!;
      if (k >= changed.length) {
        const job = literals[k - changed.length]!;
        const bytes = job.read();
        const reply = await workers.call(l, { type: "literal-sizes", bytes, filter: job.filter, pieceSize }, ownBuffers(bytes));
        if (reply.type === "literal-sizes") literalSizes[k - changed.length] = reply.sizes;
        continue;
      }
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
  return { planned: results, literalSizes };
}

const weight = (c: Changed): number => c.old.length + c.neu.length;

/** The arrays' buffers when each array is the whole of its own buffer (those can be moved). */
function ownBuffers(...arrays: Uint8Array[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && !out.includes(a.buffer)) out.push(a.buffer);
  return out;
}
