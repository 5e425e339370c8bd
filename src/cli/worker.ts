/**
 * The program every worker thread runs, and the registry of the tasks it offers. build.mjs bundles
 * this file on its own and embeds the text in each program (a SEA can only start workers from
 * source text: `new Worker(code, { eval: true })`). A new kind of task is added here.
 */
import { parentPort, workerData } from "node:worker_threads";
import { runXzPartWorker, type XzPartRequest } from "../compress/xz-part-worker";
import { runEncodeWorker, type EncodeWindowsRequest } from "../vcdiff/encoder/encode-worker";
import { runPlanFileWorker, type PlanFileRequest } from "../generator/mbdf/plan-file-worker";
import { runSelfTestTask, type SelfTestRequest } from "../workers/selftest-task";
import { serveTask, type TaskRegistry } from "../workers/task";

type WorkerRequest = SelfTestRequest | EncodeWindowsRequest | XzPartRequest | PlanFileRequest;

const TASKS: TaskRegistry<WorkerRequest> = {
  selftest: runSelfTestTask,
  "vcdiff-encode": runEncodeWorker,
  "xz-part": runXzPartWorker,
  "plan-file": runPlanFileWorker,
};

serveTask(TASKS, workerData as WorkerRequest, parentPort!);
