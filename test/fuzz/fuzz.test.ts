/**
 * Bounded fuzzing of the untrusted parsers (VCDIFF decoder incl. DJW and LZMA secondary
 * compression, xz decoder, Artifact reader, MBDF decoder, ext4 reader) with fixed seeds, plus the replay of every saved
 * regression input. Properties, for every input: the only exceptions are MenderDeltaError
 * subclasses, no input runs longer than the time limit (a watchdog stops the worker), and no
 * consumer receives more bytes than the input declared. `npm run fuzz` runs longer.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { needTools } from "../helpers/peers";
import { describe, fuzz, loadRegressions, type FuzzReport } from "./harness";
import { fuzzInput } from "./inputs";
import { mutatedInput } from "./mutate";
import { mbdfSource } from "./mbdf-seeds";
import { makeSeeds, SEED_TOOLS, vcdiffSource } from "./seeds";
import type { TargetName } from "./targets";

/** Inputs per target: tens of thousands in total, about a minute on a busy 2-core machine. */
const BUDGET: Record<Exclude<TargetName, "harness-check">, number> = { vcdiff: 12000, xz: 8000, artifact: 4000, mbdf: 6000, ext4: 4000 };
const SEED = 20261125;
/**
 * Share of the mutated inputs that must end in a typed error: most, for the formats whose every
 * byte counts; a fifth for ext4, whose reader ignores most of what a point mutation of its
 * metadata hits (times, bitmaps, checksums, free counts): about 70 % of those images list fine.
 */
const MIN_TYPED_SHARE: Record<Exclude<TargetName, "harness-check">, number> = { vcdiff: 0.5, xz: 0.5, artifact: 0.5, mbdf: 0.5, ext4: 0.2 };
/** Generous: inputs take milliseconds; only a real hang gets near this on a loaded machine. */
const TIMEOUT_MS = 10_000;

function assertClean(target: TargetName, report: FuzzReport, what: string): void {
  const lines = report.findings.map((f) => `  ${f.kind} at input ${f.index}: ${f.message.split("\n").slice(0, 6).join("\n    ")}`);
  assert.equal(report.findings.length, 0, `${target} ${what}: ${report.findings.length} finding(s) (run 'npm run fuzz -- --target ${target} --seed ${SEED}' to save them):\n${lines.join("\n")}`);
}

test("fuzz harness: a hang, a foreign exception and an over-long output are each reported, and the run goes on", async () => {
  const inputs = [[0], [1], [0], [2], [3], [0]].map((b) => new Uint8Array(b));
  const report = await fuzz({ target: "harness-check", seeds: [], seed: 0, count: 0, inputs, timeoutMs: 500 });
  assert.equal(report.runs, 6);
  assert.equal(report.accepted, 3);
  assert.deepEqual(
    report.findings.map((f) => [f.index, f.kind]).sort(),
    [[1, "hang"], [3, "crash"], [4, "violation"]],
  );
  assert.match(report.findings.find((f) => f.kind === "crash")!.message, /TypeError/);
});

test("fuzz inputs: input (seed, index) is the same bytes every time, and building it leaves the seeds as they were (Buffer seeds too)", () => {
  const seeds = [Buffer.from("a seed that xz's stdout could be, as a Buffer"), new Uint8Array(300).fill(7), Buffer.alloc(0)];
  const before = seeds.map((s) => Buffer.from(s));
  for (let index = 0; index < 500; index++) {
    const first = mutatedInput(seeds, 99, index, { varints: index % 2 === 0 });
    const again = mutatedInput(seeds, 99, index, { varints: index % 2 === 0 });
    assert.ok(Buffer.from(first).equals(Buffer.from(again)), `input ${index} differs when built again`);
  }
  seeds.forEach((s, k) => assert.ok(Buffer.from(s).equals(before[k]!), `seed ${k} changed`));
});

test("fuzz inputs: the ext4 seeds are the same bytes every run, and so is each input built from them", async (t) => {
  if (!needTools(t, ...SEED_TOOLS.ext4)) return;
  const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
  const seeds = makeSeeds("ext4").seeds;
  // The clock's second changes between the two builds: times taken from it would show.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.deepEqual(makeSeeds("ext4").seeds.map(sha), seeds.map(sha), "seeds differ between two builds");
  const before = seeds.map(sha);
  for (let index = 0; index < 200; index++) {
    assert.equal(sha(fuzzInput("ext4", seeds, 99, index)), sha(fuzzInput("ext4", seeds, 99, index)), `input ${index} differs when built again`);
  }
  assert.deepEqual(seeds.map(sha), before, "a seed changed");
});

for (const target of ["vcdiff", "xz", "artifact", "mbdf", "ext4"] as const) {
  test(`fuzz ${target}: saved regression inputs replay cleanly`, async () => {
    const regressions = loadRegressions(target);
    const report = await fuzz({
      target,
      seeds: [],
      seed: 0,
      count: 0,
      inputs: regressions.map((r) => r.input),
      source: target === "vcdiff" ? vcdiffSource() : target === "mbdf" ? mbdfSource() : undefined,
      timeoutMs: TIMEOUT_MS,
    });
    process.stdout.write(`regressions ${target}: ${regressions.length} replayed, ${report.accepted} accepted, typed errors ${JSON.stringify(report.typed)}, max ${report.maxMs} ms\n`);
    assertClean(target, report, "regressions");
    assert.equal(report.runs, regressions.length);
  });

  test(`fuzz ${target}: ${BUDGET[target]} mutated inputs, seed ${SEED}`, async (t) => {
    if (!needTools(t, ...SEED_TOOLS[target])) return;
    const { seeds, source, verifyKey } = makeSeeds(target);
    // The unmutated seeds must decode: otherwise the fuzzer only exercises the first check.
    const valid = await fuzz({ target, seeds, seed: 0, count: 0, inputs: seeds, source, timeoutMs: TIMEOUT_MS });
    assertClean(target, valid, "seeds");
    // A seed may use a feature another part of the project has not wired in yet (then it still
    // serves as a mutation base for the parts before that feature); anything else must decode.
    const unwired = valid.rejections.filter((m) => /not available in this build/.test(m));
    for (const m of unwired) process.stdout.write(`NOTE ${target}: a valid seed is rejected: ${m}\n`);
    assert.equal(valid.accepted + unwired.length, seeds.length, `${target}: only ${valid.accepted} of ${seeds.length} valid seeds accepted: ${valid.rejections.join("; ")}`);

    const report = await fuzz({ target, seeds, seed: SEED, count: BUDGET[target], source, verifyKey, xzOracle: target === "xz", timeoutMs: TIMEOUT_MS });
    process.stdout.write(describe(target, report) + ` (${seeds.length} seeds, limit ${TIMEOUT_MS} ms)\n`);
    assertClean(target, report, "mutations");
    assert.equal(report.runs, BUDGET[target]);
    // Many inputs must reach an error path, a few must still be accepted: the mutations are neither
    // all trivially rejected nor all harmless.
    const typed = Object.values(report.typed).reduce((a, b) => a + b, 0);
    assert.ok(typed > report.runs * MIN_TYPED_SHARE[target], `only ${typed} typed errors`);
  });
}
