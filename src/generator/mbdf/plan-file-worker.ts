/**
 * The planner's worker task: plans the changed files it is sent (plan-file.ts), estimates the
 * pieces of new executables as filtered LITERAL records (literal-size.ts), and finds how new
 * compressed files are rebuilt (plan-file.ts redeflateOf), one job at a time, in the order they
 * come. Each file's bytes are moved to the worker, not copied; the record comes back with its
 * buffers moved too.
 */
import type { MessagePort } from "node:worker_threads";
import { type Changed, type FilePlanOptions, type PlannedFile, planChangedFile, redeflateOf } from "./plan-file";
import type { RedeflateRecord } from "../../delta/mbdf/writer";
import type { FileRecord } from "./plan-file";
import { filteredPieceSizes } from "./literal-size";
import type { BcjArch } from "../../compress/bcj";
import { serveJobs } from "../../workers/task";

export interface PlanFileRequest extends FilePlanOptions {
  task: "plan-file";
}

export type PlanFileJob =
  | { type: "plan"; change: Changed }
  | { type: "literal-sizes"; bytes: Uint8Array; filter: BcjArch; pieceSize: number }
  | { type: "rebuild"; bytes: Uint8Array }
  | { type: "close" };
export type PlanFileReply =
  | ({ type: "planned" } & PlannedFile)
  | { type: "literal-sizes"; sizes: number[] }
  | { type: "rebuilt"; record: RedeflateRecord | undefined }
  | { type: "error"; message: string };

/** The buffers of `record` that can be moved (each its own ArrayBuffer, listed once). */
export function recordBuffers(record: FileRecord): ArrayBuffer[] {
  const arrays: Uint8Array[] = [];
  if (record.kind === "approx") arrays.push(record.diff.control, record.diff.differences, record.diff.literals);
  else if (record.kind === "exec") arrays.push(record.exec.diff.control, record.exec.diff.differences, record.exec.diff.literals);
  else {
    const r = record.record;
    arrays.push(r.header, r.newContent);
    if (r.content.kind === "approx") arrays.push(r.content.diff.control, r.content.diff.differences, r.content.diff.literals);
  }
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer) buffers.add(a.buffer);
  return [...buffers];
}

export function runPlanFileWorker(request: PlanFileRequest, port: MessagePort): Promise<void> {
  return serveJobs<PlanFileJob>(port, (job) => {
    if (job.type === "literal-sizes") return { reply: { type: "literal-sizes", sizes: filteredPieceSizes(job.bytes, job.filter, job.pieceSize) } };
    if (job.type === "rebuild") {
      const record = redeflateOf(undefined, job.bytes, []);
      return { reply: { type: "rebuilt", record }, transfer: record ? recordBuffers({ kind: "redeflate", targetOffset: 0, length: 0, record }) : [] };
    }
    const planned = planChangedFile(job.change, request);
    const reply: PlanFileReply = { type: "planned", ...planned };
    return { reply, transfer: planned.planned ? recordBuffers(planned.planned.record) : [] };
  });
}
