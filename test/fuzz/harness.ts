/**
 * Main-thread side of the fuzzer: runs a job in a worker thread (bundled with esbuild, like the
 * programs' own workers), watches it with a per-input deadline, and when an input hangs or kills
 * the worker, records it as a finding and continues with a new worker after it. Findings can be
 * written as regression files (test/fuzz/regressions/<target>/<sha256 prefix>.bin).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { fuzzInput } from "./inputs";
import type { TargetName } from "./targets";
import type { Finding, InputResult, WorkerJob } from "./worker";

export const REGRESSIONS_DIR = path.join(__dirname, "regressions");

let bundled: string | undefined;

function workerSource(): string {
  if (bundled === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require("esbuild") as typeof import("esbuild");
    const result = esbuild.buildSync({
      entryPoints: [path.join(__dirname, "worker.ts")],
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      write: false,
      logLevel: "silent",
    });
    bundled = result.outputFiles[0]!.text;
  }
  return bundled;
}

export interface FuzzJob {
  target: TargetName;
  seeds: Uint8Array[];
  seed: number;
  /** Number of mutated inputs (ignored when `inputs` is given). */
  count: number;
  /** Replay these inputs instead of mutating. */
  inputs?: Uint8Array[];
  source?: Uint8Array;
  verifyKey?: string;
  xzOracle?: boolean;
  /** Per-input time limit; longer is a hang. */
  timeoutMs: number;
}

export interface FuzzReport {
  runs: number;
  accepted: number;
  /** Typed errors by class name. */
  typed: Record<string, number>;
  /** Replay mode only: the typed errors' messages. */
  rejections: string[];
  findings: Finding[];
  maxMs: number;
  maxMsIndex: number;
}

export function emptyReport(): FuzzReport {
  return { runs: 0, accepted: 0, typed: {}, rejections: [], findings: [], maxMs: 0, maxMsIndex: -1 };
}

/** Runs the job to the end, restarting the worker after every hang or worker death. */
export async function fuzz(job: FuzzJob): Promise<FuzzReport> {
  const report = emptyReport();
  const count = job.inputs ? job.inputs.length : job.count;
  let next = 0;
  while (next < count) {
    const stopped = await runSegment(job, next, count - next, report);
    if (stopped === null) break;
    report.findings.push(stopped);
    report.runs++;
    next = stopped.index + 1;
  }
  return report;
}

function tally(report: FuzzReport, r: InputResult): void {
  report.runs++;
  if (r.outcome === "accepted") report.accepted++;
  else if (r.finding === undefined) report.typed[r.outcome] = (report.typed[r.outcome] ?? 0) + 1;
  if (r.message !== undefined) report.rejections.push(r.message);
  if (r.finding !== undefined) report.findings.push(r.finding);
  if (r.ms > report.maxMs) {
    report.maxMs = r.ms;
    report.maxMsIndex = r.index;
  }
}

/**
 * One worker from input `first` until the job is done (resolves null), or until it hangs or dies
 * on an input (resolves that input as a finding). Results are tallied into `report` as they come.
 */
function runSegment(job: FuzzJob, first: number, count: number, report: FuzzReport): Promise<Finding | null> {
  const progress = new SharedArrayBuffer(16);
  const current = new Int32Array(progress, 0, 1);
  const startedAt = new Float64Array(progress, 8, 1);
  current[0] = -1;
  const workerJob: WorkerJob = {
    target: job.target,
    seeds: job.seeds,
    seed: job.seed,
    first,
    count,
    inputs: job.inputs?.slice(first, first + count),
    source: job.source,
    verifyKey: job.verifyKey,
    xzOracle: job.xzOracle,
    progress,
    scratch: mkdtempSync(path.join(os.tmpdir(), `mbd-fuzz-${job.target}-`)),
  };
  const inputAt = (index: number): Uint8Array =>
    job.inputs ? job.inputs[index]! : fuzzInput(job.target, job.seeds, job.seed, index);

  return new Promise<Finding | null>((resolve, reject) => {
    const worker = new Worker(workerSource(), { eval: true, workerData: workerJob });
    let settled = false;
    let lastDone = first - 1;
    const finish = (): void => {
      settled = true;
      clearInterval(watchdog);
      void worker.terminate().finally(() => rmSync(workerJob.scratch, { recursive: true, force: true }));
    };
    const stop = (kind: Finding["kind"], message: string): void => {
      if (settled) return;
      finish();
      const running = Atomics.load(current, 0);
      // Died between inputs: blame the one after the last result.
      const index = running >= 0 ? running : lastDone + 1;
      resolve({ index, kind, message, input: inputAt(index) });
    };
    const watchdog = setInterval(() => {
      const index = Atomics.load(current, 0);
      if (index >= 0 && index > lastDone && Date.now() - startedAt[0]! > job.timeoutMs) {
        stop("hang", `input took longer than ${job.timeoutMs} ms (stopped)`);
      }
    }, 50);
    worker.on("message", (msg: InputResult | { type: "done" } | { type: "error"; message: string }) => {
      if (settled) return;
      if (msg.type === "result") {
        tally(report, msg);
        lastDone = msg.index;
        return;
      }
      finish();
      if (msg.type === "done") resolve(null);
      else reject(new Error(`fuzz worker failed outside any input: ${msg.message}`));
    });
    worker.once("error", (err) => stop("crash", `the worker died: ${err.stack ?? err.message}`));
    worker.once("exit", (code) => stop("crash", `the worker exited with code ${code}`));
  });
}

/** Writes each finding's input as a regression file; returns the paths written. */
export function saveRegressions(target: TargetName, findings: readonly Finding[]): string[] {
  const dir = path.join(REGRESSIONS_DIR, target);
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const f of findings) {
    const name = `${f.kind}-${createHash("sha256").update(f.input).digest("hex").slice(0, 16)}.bin`;
    const file = path.join(dir, name);
    if (!existsSync(file)) writeFileSync(file, f.input);
    written.push(file);
  }
  return written;
}

/** The saved regression inputs of a target, sorted by name. */
export function loadRegressions(target: TargetName): { name: string; input: Uint8Array }[] {
  const dir = path.join(REGRESSIONS_DIR, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith(".bin"))
    .sort()
    .map((name) => ({ name, input: new Uint8Array(readFileSync(path.join(dir, name))) }));
}

/** One line for test output and the CLI. */
export function describe(target: TargetName, r: FuzzReport): string {
  const typed = Object.entries(r.typed)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return (
    `fuzz ${target}: ${r.runs} inputs, ${r.accepted} accepted, typed errors: ${typed || "none"}; ` +
    `${r.findings.length} finding(s); max time per input ${r.maxMs} ms`
  );
}
