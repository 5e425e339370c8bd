/**
 * Our two delta formats side by side with the byte-level peers, and the goals issue #22 sets the
 * file-aware format (MBDF), PASS or MISS:
 *   npm run bench -- formats                   (every pair whose images exist)
 *   npx tsx test/bench/formats.ts [PAIR ...]   (PAIR: U, U-arm64, A, B, generated)
 *
 * Pairs: U (security update: $CORPUS_U or ~/.cache/mbd-corpus-u, a corpus made with B_EXTRA=apt),
 * U-arm64 (the same for arm64, no size goal: $CORPUS_ARM or ~/.cache/mbd-corpus-arm, a corpus made
 * with ARM_ARCH=arm64),
 * A and B ($CORPUS or ~/.cache/mbd-corpus; test/bench/corpus/make-corpus.sh makes both corpora; a
 * missing pair is skipped with the command that makes it), and the generated 64 MiB pair
 * (test/bench/lib/pairs.ts).
 *
 * Per pair, each made once:
 *   MBDF     the built generator, --delta-format mbdf, into a delta Artifact (xz, the default)
 *   VCDIFF   the same with --delta-format vcdiff
 *   MBDF without EXEC  the same with --delta-format mbdf --no-executable-diffs: what the
 *            executable-aware records save (issue #23), and what they cost the generator
 *   HDiffPatch  `hdiffz -m-6 FROM.img TO.img` (native format, uncompressed) then `xz -9`: a bare
 *            file, as issue #22's table measured it (lib/hdiffpatch.ts finds or builds hdiffz)
 *   xdelta3  `xdelta3 -e -S lzma -A` wrapped by `mender-artifact write module-image`, as Mender's
 *            tooling does (lib/delta-artifacts.ts)
 *   0.1.0    release 0.1.0's own generator (commit 71d2de1, "today's" when issue #22 was filed,
 *            lib/baseline-release.ts finds or builds it; BASELINE_DIST=none skips it): its VCDIFF
 *            Artifact, which its own module installs; the issue's time goals are against it
 * Both of ours are made with --root-mount ro, the device contract the peers' deltas have (the whole
 * active partition equals FROM); the default, rw, adds a read set (docs/read-write-root.md).
 * Times are wall and CPU seconds (user + system) from /usr/bin/time, peak RSS its maxrss, one run
 * each on a shared machine. Then the built Update Module installs each of our two payloads with the
 * Artifact's meta-data on a simulated device (test/reliability/measured-download.ts, the
 * module-download bench's Download), and 0.1.0's module its Artifact, three rounds with the
 * Artifacts taking turns (who goes first alternates): the lowest wall time, the highest peak RSS;
 * partition B must hold TO's image each time.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sha256File } from "../device/fixtures";
import { ourDeltaArtifact, stockDeltaArtifact, type GeneratorSummary, type MadeArtifact } from "./lib/delta-artifacts";
import { BASELINE_LABEL, findBaseline, type Baseline } from "./lib/baseline-release";
import { deltaPayload, moduleUnderTest, verifiedDownload, type DeviceRun } from "./lib/device-download";
import { formatRow, goalRows, summaryTable, type FormatFigures, type GoalPair, type PairFigures } from "./lib/format-goals";
import { findHdiffz, hdiffzNativeXz, hdiffzVersion } from "./lib/hdiffpatch";
import { CORPUS, CORPUS_ARM, CORPUS_U, corpusPair, generatedPair, GENERATOR, MIB, PAIR_A, PAIR_B, PAIR_U, PAIR_U_ARM64, type CorpusPairName, type Pair, type Timed } from "./lib/pairs";

const ROOT_MOUNT = ["--root-mount", "ro"];
/** A Download takes seconds and its wall time is the noisiest figure here: the best of three rounds. */
const DOWNLOAD_RUNS = 3;
const MAKE_CORPUS = "test/bench/corpus/make-corpus.sh";

interface Measured {
  name: string;
  figures: PairFigures;
}

const bytes = (n: number): string => `${n.toLocaleString("en-US").padStart(11)} B`;
const made = (t: Timed): string => `${t.wall.toFixed(1).padStart(7)} s ${t.cpu.toFixed(1).padStart(7)} s ${t.peakMiB.toFixed(1).padStart(7)} MiB`;
const device = (d: DeviceRun | undefined): string =>
  d ? `${d.wall.toFixed(1).padStart(7)} s ${d.cpu.toFixed(1).padStart(7)} s ${d.peakMiB.toFixed(1).padStart(7)} MiB` : "";

/** "51 vcdiff, 10 approx, ..." from the generator's summary of an MBDF delta, when it gives one. */
function records(s: GeneratorSummary): string {
  const kinds = Object.entries(s.delta.mbdf?.records ?? {}).filter(([, r]) => r.count > 0);
  return kinds.map(([kind, r]) => `${r.count} ${kind}`).join(", ");
}

/** Wall times of a format's Download runs, in run order ("1.52, 1.48, 1.61 s"), or "none" when all failed. */
const runs = (walls: number[]): string => (walls.length === 0 ? "none" : `${walls.map((w) => w.toFixed(2)).join(", ")} s`);

/** Measurements that failed (a generator or a Download): the run exits 1 after printing the rest. */
let failures = 0;

/**
 * The Downloads of each Artifact's payload by the module, DOWNLOAD_RUNS rounds, the Artifacts
 * taking turns within a round and the first of a round alternating (so that neither always runs
 * first, after the generators, or in a quieter moment of a shared machine): per Artifact the lowest wall and CPU time and the highest
 * peak RSS, as the module-download bench (undefined for one that failed, and why, printed), and
 * every run's wall time.
 */
async function downloads(
  artifacts: { label: string; artifact: string; module: string[] }[],
  pair: Pair,
  target: { checksum: string; bytes: number },
  dir: string,
): Promise<{ best: (DeviceRun | undefined)[]; walls: number[][] }> {
  const best: (DeviceRun | undefined)[] = artifacts.map(() => undefined);
  // Every run's wall time, in order: the spread shows what a ratio of the lowest ones can tell.
  const walls: number[][] = artifacts.map(() => []);
  const failed = artifacts.map(() => false);
  const payloads = await Promise.all(artifacts.map((a) => deltaPayload(a.artifact)));
  for (let i = 0; i < DOWNLOAD_RUNS; i++) {
    // Who goes first alternates: the first Download of a round runs measurably slower (the last
    // round's device files are still being freed), even for two Artifacts with the same payload.
    const order = artifacts.map((_, k) => k);
    if (i % 2 === 1) order.reverse();
    for (const k of order) {
      const { label, module } = artifacts[k]!;
      if (failed[k]) continue;
      try {
        const { delta, metaData } = payloads[k]!;
        const r = await verifiedDownload(dir, { image: pair.fromImage, delta, metaData, targetChecksum: target.checksum, targetBytes: target.bytes }, module);
        const b = best[k];
        best[k] = !b ? r : { wall: Math.min(b.wall, r.wall), cpu: Math.min(b.cpu, r.cpu), peakMiB: Math.max(b.peakMiB, r.peakMiB) };
        walls[k]!.push(r.wall);
      } catch (err) {
        process.stdout.write(`  ${label} Download FAILED: ${(err as Error).message.trim().split("\n").slice(-3).join(" / ")}\n`);
        failures++;
        failed[k] = true;
        best[k] = undefined;
      }
    }
  }
  return { best, walls };
}

/** The baseline release's generator, and its module as the Downloads run it; absent when not measured. */
interface BaselinePrograms {
  generator: string;
  module: string[];
}

async function bench(pair: Pair, goalPair: GoalPair | undefined, work: string, hdiffz: string | null, module: string[], baseline?: BaselinePrograms): Promise<Measured> {
  const dir = fs.mkdtempSync(path.join(work, "pair-"));
  try {
    process.stdout.write(
      `\n${pair.name}: images ${(fs.statSync(pair.fromImage).size / MIB).toFixed(0)} -> ${(fs.statSync(pair.toImage).size / MIB).toFixed(0)} MiB, ` +
        `TO's full Artifact ${fs.statSync(pair.toArtifact).size.toLocaleString("en-US")} B\n`,
    );
    const mbdf = ourDeltaArtifact(pair, path.join(dir, "mbdf.mender"), ["--delta-format", "mbdf", ...ROOT_MOUNT]);
    const vcdiff = ourDeltaArtifact(pair, path.join(dir, "vcdiff.mender"), ["--delta-format", "vcdiff", ...ROOT_MOUNT]);
    const withoutExec = ourDeltaArtifact(pair, path.join(dir, "mbdf-without-exec.mender"), ["--delta-format", "mbdf", "--no-executable-diffs", ...ROOT_MOUNT]);
    const hdp = hdiffz ? hdiffzNativeXz(hdiffz, pair.fromImage, pair.toImage, path.join(dir, "hdiffpatch")) : undefined;
    const stock = stockDeltaArtifact(pair, path.join(dir, "stock"));
    const release = baseline && ourDeltaArtifact(pair, path.join(dir, "release.mender"), ROOT_MOUNT, baseline.generator);

    const target = { checksum: sha256File(pair.toImage), bytes: fs.statSync(pair.toImage).size };
    const { best: [mbdfDevice, vcdiffDevice, releaseDevice], walls } = await downloads(
      [
        { label: "MBDF", artifact: mbdf.artifact, module },
        { label: "VCDIFF", artifact: vcdiff.artifact, module },
        ...(release ? [{ label: "0.1.0", artifact: release.artifact, module: baseline!.module }] : []),
      ],
      pair, target, path.join(dir, "device"),
    );

    const size = (f: string): number => fs.statSync(f).size;
    const ours = (a: MadeArtifact, d: DeviceRun | undefined): FormatFigures => ({ size: size(a.artifact), generatorWall: a.time.wall, device: d && { wall: d.wall, peakMiB: d.peakMiB } });
    const figures: PairFigures = {
      goalPair,
      mbdf: ours(mbdf, mbdfDevice),
      vcdiff: ours(vcdiff, vcdiffDevice),
      mbdfWithoutExec: ours(withoutExec, undefined),
      hdiffpatch: hdp && size(hdp.file),
      xdelta3: size(stock.artifact),
      baseline: release && ours(release, releaseDevice),
    };
    const line = (what: string, n: number | undefined, t: Timed | undefined, d?: DeviceRun): string =>
      `  ${what.padEnd(40)} ${n === undefined ? "not measured".padStart(13) : bytes(n)}  ${t ? made(t) : "".padEnd(33)}  ${device(d)}\n`;
    process.stdout.write(
      `  ${"".padEnd(40)} ${"size".padStart(13)}  ${"making it: wall, CPU, peak RSS".padEnd(33)}  device Download: wall, CPU, peak RSS\n` +
        line("ours, MBDF Artifact", figures.mbdf.size, mbdf.time, mbdfDevice) +
        line("ours, VCDIFF Artifact", figures.vcdiff.size, vcdiff.time, vcdiffDevice) +
        line("ours, MBDF without EXEC records", figures.mbdfWithoutExec?.size, withoutExec.time) +
        line("HDiffPatch hdiffz -m-6 + xz -9 (bare)", figures.hdiffpatch, hdp?.time) +
        line("xdelta3 -e -S lzma -A + mender-artifact", figures.xdelta3, stock.time) +
        (release ? line("0.1.0's VCDIFF Artifact, its module", figures.baseline?.size, release.time, releaseDevice) : "") +
        `  MBDF payload ${mbdf.summary.delta.size.toLocaleString("en-US")} B${records(mbdf.summary) ? `: ${records(mbdf.summary)}` : ""}; ` +
        `VCDIFF payload ${vcdiff.summary.delta.size.toLocaleString("en-US")} B\n` +
        goalRows(figures).map((r) => `${formatRow(r)}\n`).join("") +
        `  Download wall time of each run (the ratios above are of the lowest): MBDF ${runs(walls[0]!)}; VCDIFF ${runs(walls[1]!)}` +
        `${release ? `; 0.1.0 ${runs(walls[2]!)}` : ""}\n`,
    );
    return { name: pair.name, figures };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The corpus pairs in the order they run (the quick security updates first), each with the name that
 * picks it on the command line, its size goal (none for U-arm64: issue #23 only asks that it not
 * grow) and how to make it.
 */
const CORPUS_PAIRS: [string, GoalPair | undefined, string, CorpusPairName, string][] = [
  ["U", "U", CORPUS_U, PAIR_U, `CORPUS=${CORPUS_U} B_EXTRA=apt ${MAKE_CORPUS} (as root, ~4 min)`],
  ["U-arm64", undefined, CORPUS_ARM, PAIR_U_ARM64, `CORPUS=${CORPUS_ARM} ARM_ARCH=arm64 ${MAKE_CORPUS} (as root, ~4 min)`],
  ["A", "A", CORPUS, PAIR_A, `CORPUS=${CORPUS} ${MAKE_CORPUS} (as root, ~4 min)`],
  ["B", "B", CORPUS, PAIR_B, `CORPUS=${CORPUS} ${MAKE_CORPUS} (as root, ~4 min)`],
];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const known = [...CORPUS_PAIRS.map(([name]) => name), "generated"];
  const unknown = wanted.filter((w) => !known.includes(w));
  if (unknown.length > 0) {
    process.stderr.write(`bench formats: unknown pair ${unknown.join(", ")}; pairs: ${known.join(", ")}\n`);
    process.exit(2);
  }
  const want = (name: string): boolean => wanted.length === 0 || wanted.includes(name);
  if (!fs.existsSync(GENERATOR)) {
    process.stderr.write(`bench formats: ${GENERATOR} is missing; build it: node build.mjs --no-archive --quiet\n`);
    process.exit(1);
  }
  for (const tool of ["xdelta3", "mender-artifact", "mke2fs", "xz"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status !== 0) {
      process.stderr.write(`bench formats: needs ${tool}\n`);
      process.exit(1);
    }
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-bench-formats-"));
  const results: Measured[] = [];
  try {
    const hdiffz = findHdiffz();
    process.stdout.write(
      hdiffz.path ? `HDiffPatch: ${hdiffzVersion(hdiffz.path)}, ${hdiffz.path} (${hdiffz.how})\n` : `HDiffPatch: not measured: ${hdiffz.how}\n`,
    );
    const found: Baseline = findBaseline();
    const baseline = found.generator && found.module ? { generator: found.generator, module: moduleUnderTest(work, found.module) } : undefined;
    process.stdout.write(
      baseline
        ? `${BASELINE_LABEL}: ${found.generator} and its module (${found.how}); issue #22's time goals are against it\n`
        : `${BASELINE_LABEL}: not measured: ${found.how}; issue #22's time goals are judged against this build's VCDIFF instead\n`,
    );
    const module = moduleUnderTest(work);
    process.stdout.write(`generator: ${GENERATOR} ${ROOT_MOUNT.join(" ")}; module: ${module.join(" ")}; each made once, each Download run ${DOWNLOAD_RUNS} times, the Artifacts taking turns\n`);
    const pairs: [Pair, GoalPair | undefined][] = [];
    for (const [name, goal, corpus, names, make] of CORPUS_PAIRS) {
      if (!want(name)) continue;
      const pair = corpusPair(corpus, ...names);
      if (pair) pairs.push([pair, goal]);
      else process.stdout.write(`corpus ${names[0]}: skipped, its images are not under ${corpus}; make them: ${make}\n`);
    }
    if (want("generated")) pairs.push([generatedPair(work), undefined]);
    for (const [pair, goal] of pairs) {
      try {
        results.push(await bench(pair, goal, work, hdiffz.path, module, baseline));
      } catch (err) {
        process.stdout.write(`  FAILED: ${(err as Error).message.trim()}\n`);
        failures++;
      }
    }
    if (results.length > 0) process.stdout.write(`\nall pairs (sizes in bytes; HDiffPatch a bare .xz file, the others Artifacts):\n${summaryTable(results)}\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  if (failures > 0) {
    process.stderr.write(`bench formats: ${failures} measurement(s) failed\n`);
    process.exit(1);
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
