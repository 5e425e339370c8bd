/**
 * Hostile deltas against the decoder's memory and time (test/reliability/hostile-deltas.ts makes
 * them): the program runs as the Update Module through a whole Download on a simulated device
 * (or as `apply`), and each case checks the outcome, the exit code, the message and, with the built
 * binary, the peak RSS (GNU time's maxrss, the process's VmHWM) against the budget: 160 MiB on any
 * delta. The binary's own pages are dropped from the page cache before each run (as on a device,
 * where it is read from storage; freshly written files can map larger and inflate RSS).
 *
 * Time: the scattered-copy deltas would keep the old decoder re-reading the source for hours; the
 * spawn timeout (120 s) only stops a hang, the cases take seconds.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { needTools } from "../helpers/peers";
import { ROOT } from "../helpers/targets";
import { copyOfBuiltProgram } from "./built-binary";
import { dropCached, type MeasuredRun, measuredDownload, sourceReadsPerByte, splitMaxrss, TIME_FORMAT } from "./measured-download";
import { type CraftedPair, largestWindow, memoryBomb, MiB, noSourceChecksumMismatch, pageScatteredCopies, pseudoRandom, scatteredCopies } from "./hostile-deltas";

/** Peak RSS allowed on any delta (docs/reliability.md#hostile-deltas-memory-and-time). */
const HOSTILE_BUDGET_MIB = 160;

let work = "";
let program: string | null = null;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-hostile-deltas-"));
  program = copyOfBuiltProgram(work);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

function command(): { cmd: string[]; built: boolean } {
  if (program) return { cmd: [program], built: true };
  const loader = path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs");
  return { cmd: [process.execPath, "--import", `file://${loader}`, path.join(ROOT, "src", "cli", "device.ts")], built: false };
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

interface Outcome {
  status: number | null;
  stderr: string;
  peakMiB: number;
  seconds: number;
}

let devices = 0;

/** A whole Download of `pair.delta` with A holding `pair.source`; B must end up as `pair.target` when that is given. */
async function download(pair: CraftedPair, decoderArguments?: string): Promise<MeasuredRun> {
  const dir = path.join(work, `device-${++devices}`);
  fs.mkdirSync(dir, { recursive: true });
  const image = path.join(dir, "running.img");
  fs.writeFileSync(image, pair.source);
  return measuredDownload(
    dir,
    {
      image,
      delta: pair.delta,
      targetChecksum: sha256(pair.target ?? Buffer.from("no valid target")),
      targetBytes: pair.target?.length ?? 16 * MiB,
      decoderArguments,
    },
    command().cmd,
  );
}

function apply(pair: CraftedPair): Outcome {
  const dir = path.join(work, `apply-${++devices}`);
  fs.mkdirSync(dir, { recursive: true });
  const [source, delta, target] = ["source", "delta", "target"].map((f) => path.join(dir, f)) as [string, string, string];
  fs.writeFileSync(source, pair.source);
  fs.writeFileSync(delta, pair.delta);
  if (program) dropCached(program);
  const t0 = Date.now();
  const r = spawnSync("/usr/bin/time", ["-f", TIME_FORMAT, ...command().cmd, "apply", "--source", source, "--delta", delta, "--target", target], {
    encoding: "utf8",
    timeout: 120_000,
  });
  const { rest, peakMiB } = splitMaxrss(r.stderr);
  return { status: r.status, stderr: rest, peakMiB, seconds: (Date.now() - t0) / 1000 };
}

/** The outcome's one error line (the module's stderr may hold log lines before it). */
function errorLine(o: Outcome): string {
  const lines = o.stderr.trim().split("\n").filter((l) => /error/i.test(l));
  assert.equal(lines.length, 1, `expected one error line, got:\n${o.stderr}`);
  assert.doesNotMatch(o.stderr, /^\s+at /m, "a stack trace");
  return lines[0]!;
}

function checkMemory(t: TestContext, what: string, o: Outcome): void {
  process.stdout.write(`hostile deltas: ${what}: exit ${o.status}, peak RSS ${o.peakMiB.toFixed(1)} MiB, ${o.seconds.toFixed(1)} s\n`);
  if (!command().built) {
    t.diagnostic(`SKIPPED: peak RSS of ${what} not checked (no built binary; tsx adds its own memory)`);
    return;
  }
  assert.ok(o.peakMiB <= HOSTILE_BUDGET_MIB, `${what}: peak RSS ${o.peakMiB.toFixed(1)} MiB is above the ${HOSTILE_BUDGET_MIB} MiB budget`);
}

const tools = ["xz", "/usr/bin/time", "dd", "fw_printenv", "fw_setenv"];

test("LZMA memory bomb: a 64 MiB window whose sections expand to 135 MB each is refused before anything is decompressed", async (t) => {
  if (!needTools(t, ...tools)) return;
  const pair = { source: pseudoRandom(MiB, 1), delta: memoryBomb("lzma", 64 * MiB), target: null };
  assert.ok(pair.delta.length < 64 * 1024, `the bomb is ${pair.delta.length} bytes`);
  const dl = await download(pair);
  assert.equal(dl.status, 1);
  assert.match(errorLine(dl), /target window of 67108864 bytes exceeds the limit of 16777216 bytes/);
  checkMemory(t, `Download, LZMA bomb, 64 MiB window (${pair.delta.length}-byte delta)`, dl);
  // apply accepts 64 MiB windows: there the section budget refuses it.
  const ap = apply(pair);
  assert.equal(ap.status, 1);
  assert.match(errorLine(ap), /compressed data section declares 135266304 decoded bytes, more than plausible for this window \(67108864\)/);
  checkMemory(t, "apply, LZMA bomb, 64 MiB window", ap);
});

for (const kind of ["lzma", "djw"] as const) {
  test(`${kind.toUpperCase()} memory bomb in a 16 MiB window: the declared sizes are refused before decompression`, async (t) => {
    if (!needTools(t, ...tools)) return;
    const pair = { source: pseudoRandom(MiB, 2), delta: memoryBomb(kind, 16 * MiB), target: null };
    const dl = await download(pair);
    assert.equal(dl.status, 1);
    assert.match(errorLine(dl), /invalid delta at window 0 .*compressed data section declares 135266304 decoded bytes, more than plausible for this window \(16777216\)/);
    checkMemory(t, `Download, ${kind.toUpperCase()} bomb, 16 MiB window (${pair.delta.length}-byte delta)`, dl);
  });
}

test("the largest window the budget lets through (valid: 16 MiB, LZMA sections of 16 MiB with 8 MiB dictionaries, a full source cache) stays within the budget", async (t) => {
  if (!needTools(t, ...tools)) return;
  const pair = largestWindow();
  // A 16 MiB -B in decoder_arguments: the module keeps its own cache size all the same.
  const dl = await download(pair, "-B16777216");
  assert.equal(dl.status, 0, dl.stderr);
  assert.match(dl.stderr, /new image verified/);
  assert.ok(fs.readFileSync(dl.partB).subarray(0, pair.target!.length).equals(pair.target!), "B holds the delta's output");
  checkMemory(t, `Download, largest window (${pair.delta.length}-byte delta)`, dl);
});

test("scattered 64-byte copies over 300 source blocks (more than the cache holds) complete in source order", async (t) => {
  if (!needTools(t, ...tools)) return;
  const pair = scatteredCopies(64, 300, 64);
  const dl = await download(pair);
  assert.equal(dl.status, 0, dl.stderr);
  assert.match(dl.stderr, /new image verified/);
  const perByte = sourceReadsPerByte(dl.stderr);
  assert.ok(perByte !== undefined, dl.stderr);
  // In instruction order every copy would read a 256 KiB block: 1M copies, 256 GiB. Sorted, a
  // batch of 2^17 copies reads the 300 pages they need (0.15 bytes per byte written).
  assert.ok(perByte <= 1, `read ${perByte} source bytes per byte written`);
  checkMemory(t, `Download, scattered 64-byte copies, 64 MiB target (${pair.delta.length}-byte delta, ${perByte} source bytes read per byte)`, dl);
});

test("scattered 4-byte copies that would read the source thousands of times over are refused within the read budget", async (t) => {
  if (!needTools(t, ...tools)) return;
  // 19,200 pages (75 MiB): each batch of 2^17 copies needs all of them, 75 MiB of reads per 512 KiB of output.
  const pair = pageScatteredCopies(19_200);
  const dl = await download(pair);
  assert.equal(dl.status, 1);
  assert.match(
    errorLine(dl),
    /refusing the delta at window 0 .*: its copies are scattered so widely that it has read \d+ bytes of the source for the first 16777216 bytes of output, more than the limit of 16 bytes per output byte plus 268435456/,
  );
  checkMemory(t, `Download, page-scattered 4-byte copies, 16 MiB target (${pair.delta.length}-byte delta)`, dl);
});

test("a checksum mismatch in a window that copies nothing from the source is a corrupt delta (exit 1), not a wrong source (exit 3)", async (t) => {
  if (!needTools(t, ...tools)) return;
  const pair = noSourceChecksumMismatch();
  const ap = apply(pair);
  assert.equal(ap.status, 1, ap.stderr);
  assert.match(errorLine(ap), /invalid delta at window 1 .*target window checksum mismatch .* in a window that copies nothing from the source\. Likely cause: the delta file is damaged/);
  const dl = await download(pair);
  assert.equal(dl.status, 1);
  // The first window's bytes were still in the partition writer's frame: nothing reached B.
  assert.match(errorLine(dl), /failed after 0 bytes of \S+mmcblk0p3: invalid delta at window 1 .*copies nothing from the source/);
  assert.doesNotMatch(dl.stderr, /source partition differs/);
});
