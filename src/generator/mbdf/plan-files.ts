/**
 * Plans every changed file (plan-file.ts) on worker threads, each file on the first free one, or
 * here when one thread is asked for; the new executables' LITERAL estimates and the new
 * compressed files' rebuild checks run on the same threads after the files. Planning is most of
 * a file-aware delta's time (suffix arrays, approximate and executable-aware diffs of each
 * changed file) and the files are independent, so it scales with the cores; the results do not
 * depend on the thread count.
 */
import os from "node:os";
import { WorkerLanes } from "../../workers/worker-lanes";
import type { BcjArch } from "../../compress/bcj";
import { filteredPieceSizes } from "./literal-size";
import { type Changed, type FilePlanOptions, type PlannedFile, planChangedFile, redeflateOf } from "./plan-file";
import type { RedeflateRecord } from "../../delta/mbdf/writer";
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

/** A new compressed file (no old version), to be checked for an exact rebuild (plan-file.ts redeflateOf). */
export interface RebuildJob {
  /** Reads its bytes (when a thread is free for it). */
  read(): Uint8Array;
}

/** What beside the changed files the planner threads work out. */
export interface PlanExtras {
  /** New executables, estimated in pieces of `pieceSize` (default 1 MiB). */
  literals?: readonly LiteralJob[];
  pieceSize?: number;
  /**
   * New compressed files: GNU gzip's -9 run over each to check its rebuild (pair B: 239 files,
   * 0.7 s, which held the main thread before the planner threads started).
   */
  rebuilds?: readonly RebuildJob[];
}

export interface PlannedFiles {
  /** The planned record of each changed file (same order). */
  planned: PlannedFile[];
  /** Per LiteralJob (same order): each piece's estimated LITERAL record size. */
  literalSizes: number[][];
  /** Per RebuildJob (same order): its REDEFLATE record (a LITERAL content), or undefined when it is not rebuilt exactly. */
  rebuilt: (RedeflateRecord | undefined)[];
}

/**
 * The planned record of each of `changed`, and what `extras` asks for. Each file's two versions
 * are moved to the thread that plans it: `changed`'s `old` and `neu` are unusable afterwards.
 */
export async function planChangedFiles(
  changed: Changed[], options: FilePlanOptions, threads?: number, extras: PlanExtras = {},
): Promise<PlannedFiles> {
  const { literals = [], pieceSize = 1 << 20, rebuilds = [] } = extras;
  const wanted = threads ?? Math.min(8, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  const lanes = Math.min(wanted, MAX_PLANNERS, changed.length + literals.length + rebuilds.length);
  const results: PlannedFile[] = new Array<PlannedFile>(changed.length);
  const literalSizes: number[][] = new Array<number[]>(literals.length);
  const rebuilt: (RedeflateRecord | undefined)[] = new Array<RedeflateRecord | undefined>(rebuilds.length);
  if (lanes <= 1) {
    for (let k = 0; k < changed.length; k++) {
      results[k] = planChangedFile(changed[k]!, options);
      await yieldToOthers();
    }
    for (let k = 0; k < literals.length; k++) {
      literalSizes[k] = filteredPieceSizes(literals[k]!.read(), literals[k]!.filter, pieceSize);
      await yieldToOthers();
    }
    for (let k = 0; k < rebuilds.length; k++) {
      rebuilt[k] = redeflateOf(undefined, rebuilds[k]!.read(), []);
      await yieldToOthers();
    }
    return { planned: results, literalSizes, rebuilt };
  }
  // The largest files first: the last ones to finish are then small, and the threads end together.
  // The new executables' estimates and the rebuild checks come after the files (indices from
  // changed.length on): each is quick next to a large file's plan, so they fill the threads' ends.
  const order = changed.map((_, k) => k).sort((a, b) => weight(changed[b]!) - weight(changed[a]!));
  for (let k = 0; k < literals.length + rebuilds.length; k++) order.push(changed.length + k);
  const request: PlanFileRequest = { task: "plan-file", executableDiffs: options.executableDiffs };
  const workers = new WorkerLanes<PlanFileJob, PlanFileReply>(request, lanes, "planner worker");
  let next = 0;
  /** The first rebuild check's job index (after the files and the new executables). */
  const firstRebuild = changed.length + literals.length;
  const lane = async (l: number): Promise<void> => {
    while (next < order.length) {
      const k = order[next++]!;
      if (k >= firstRebuild) {
        const bytes = rebuilds[k - firstRebuild]!.read();
        const reply = await workers.call(l, { type: "rebuild", bytes }, ownBuffers(bytes));
        if (reply.type === "rebuilt") rebuilt[k - firstRebuild] = reply.record;
        continue;
      }
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
  return { planned: results, literalSizes, rebuilt };
}

const weight = (c: Changed): number => c.old.length + c.neu.length;

/** The arrays' buffers when each array is the whole of its own buffer (those can be moved). */
function ownBuffers(...arrays: Uint8Array[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && !out.includes(a.buffer)) out.push(a.buffer);
  return out;
}
