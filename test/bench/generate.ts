/**
 * The generator against the "stock" pipeline and the full Artifact, as ratios.
 *   npx tsx test/bench/generate.ts          (or: npm run bench -- generate)
 *
 * Pairs: the corpus pairs A (A1-minbase -> A2-ssh) and B (A1-minbase -> B2-upgrade) from
 * test/bench/corpus/make-corpus.sh, found through $CORPUS or ~/.cache/mbd-corpus, when they exist;
 * always a generated pair: a 64 MiB ext4 image holding a package tree taken from this checkout
 * (typescript), and a release 2 that upgrades it (a patched file, a removed one, a new package: fflate).
 *
 * Per pair:
 *   ours   the built mender-binary-delta-generator, FROM.mender TO.mender -> delta Artifact, with
 *          --delta-format vcdiff: this bench follows the VCDIFF encoder and xz writer against their
 *          peer (the file-aware format's figures are `npm run bench -- formats`)
 *   default  the same generator with its default settings (the file-aware format, a read-write
 *          root's read set): what a user gets, held to issue #18's generator goals on the corpus
 *          pairs: wall time <= 2x stock's, peak RSS <= 4x stock's, Artifact <= 0.97x the best peer
 *   stock  `xdelta3 -e -S lzma -A -s FROM.img TO.img` wrapped by `mender-artifact write module-image`
 *   best peer  HDiffPatch `hdiffz -m-6` (native format) + `xz -9` (lib/hdiffpatch.ts finds or builds
 *          hdiffz; without it the size goal says "not measured")
 *   full   TO's rootfs-image Artifact
 * Times are wall seconds and CPU seconds (user + system, from /usr/bin/time) of one run each; the
 * machine is shared, so CPU time is the steadier number.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ourDeltaArtifact, stockDeltaArtifact } from "./lib/delta-artifacts";
import { findHdiffz, hdiffzNativeXz, hdiffzVersion } from "./lib/hdiffpatch";
import { corpusPairs, generatedPair, GENERATOR, MIB, type Pair, type Timed } from "./lib/pairs";

/** Issue #18's generator goals, for the default settings against stock and the best peer. */
const GOALS = { wall: 2.0, rss: 4.0, size: 0.97 };

function verdict(value: number, goal: number): string {
  return `${value.toFixed(3).padStart(7)}x  goal <= ${goal.toFixed(2)}x  ${value <= goal ? "PASS" : "MISS"}`;
}

function bench(pair: Pair, work: string, hdiffz: string | null, goals: boolean): void {
  const dir = fs.mkdtempSync(path.join(work, "run-"));
  const ours = path.join(dir, "ours.mender");
  const { time: oursTime, summary } = ourDeltaArtifact(pair, ours, ["--delta-format", "vcdiff"]);
  const phases = summary.timeMs;
  const { artifact: stock, time: stockTime } = stockDeltaArtifact(pair, path.join(dir, "stock"));
  const byDefault = ourDeltaArtifact(pair, path.join(dir, "default.mender"));
  const peer = hdiffz ? hdiffzNativeXz(hdiffz, pair.fromImage, pair.toImage, path.join(dir, "hdiffpatch")) : undefined;

  const oursSize = fs.statSync(ours).size;
  const stockSize = fs.statSync(stock).size;
  const fullSize = fs.statSync(pair.toArtifact).size;
  const kib = (n: number): string => `${(n / 1024).toFixed(1).padStart(10)} KiB`;
  const t = (x: Timed): string => `${x.wall.toFixed(1).padStart(6)} s wall ${x.cpu.toFixed(1).padStart(6)} s CPU ${x.peakMiB.toFixed(0).padStart(5)} MiB peak`;
  const defaultSize = fs.statSync(byDefault.artifact).size;
  const peerSize = peer ? fs.statSync(peer.file).size : undefined;
  process.stdout.write(
    `\n${pair.name}: images ${(fs.statSync(pair.fromImage).size / MIB).toFixed(0)} -> ${(fs.statSync(pair.toImage).size / MIB).toFixed(0)} MiB\n` +
      `  ours   delta Artifact ${kib(oursSize)}  ${t(oursTime)}   (read+check inputs ${(phases.read / 1000).toFixed(1)} s, encode ${(phases.encode / 1000).toFixed(1)} s, write ${(phases.write / 1000).toFixed(1)} s)\n` +
      `  stock  delta Artifact ${kib(stockSize)}  ${t(stockTime)}   (xdelta3 -e -S lzma -A + mender-artifact write module-image)\n` +
      `  full   TO Artifact    ${kib(fullSize)}\n` +
      `  ratios: ours/stock size ${(oursSize / stockSize).toFixed(3)}, ours/full size ${(oursSize / fullSize).toFixed(4)}, ` +
      `stock/full size ${(stockSize / fullSize).toFixed(4)}; ours/stock time ${(oursTime.wall / stockTime.wall).toFixed(2)} wall, ${(oursTime.cpu / stockTime.cpu).toFixed(2)} CPU\n` +
      `  default delta Artifact ${kib(defaultSize)}  ${t(byDefault.time)}   (the generator's defaults: ${byDefault.summary.delta.mbdf ? "file-aware" : "VCDIFF"} payload, read-write root)\n` +
      (peer && peerSize !== undefined ? `  best peer              ${kib(peerSize)}  ${t(peer.time)}   (HDiffPatch hdiffz -m-6 + xz -9, a bare file)\n` : ""),
  );
  if (!goals) return;
  process.stdout.write(
    `  issue #18, default settings:\n` +
      `    generator wall time / stock      ${verdict(byDefault.time.wall / stockTime.wall, GOALS.wall)}\n` +
      `    generator peak RSS / stock       ${verdict(byDefault.time.peakMiB / stockTime.peakMiB, GOALS.rss)}\n` +
      (peerSize !== undefined
        ? `    Artifact / best peer             ${verdict(defaultSize / peerSize, GOALS.size)}\n`
        : `    Artifact / best peer             not measured (no hdiffz)\n`),
  );
}

function main(): void {
  if (!fs.existsSync(GENERATOR)) {
    process.stderr.write(`bench generate: ${GENERATOR} is missing; build it: node build.mjs --arch x86_64 --no-archive --quiet\n`);
    process.exit(1);
  }
  for (const tool of ["xdelta3", "mender-artifact", "mke2fs"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status !== 0) {
      process.stderr.write(`bench generate: needs ${tool}\n`);
      process.exit(1);
    }
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-bench-gen-"));
  const hdiffz = findHdiffz();
  process.stdout.write(hdiffz.path ? `best peer: ${hdiffzVersion(hdiffz.path)}, ${hdiffz.path} (${hdiffz.how})\n` : `best peer not measured: ${hdiffz.how}\n`);
  try {
    for (const pair of corpusPairs()) bench(pair, work, hdiffz.path, true);
    // The generated pair is too small for the goals (the runtime's start-up is most of a run).
    bench(generatedPair(work), work, hdiffz.path, false);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main();
