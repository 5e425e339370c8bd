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
 *   stock  `xdelta3 -e -S lzma -A -s FROM.img TO.img` wrapped by `mender-artifact write module-image`
 *   full   TO's rootfs-image Artifact
 * Times are wall seconds and CPU seconds (user + system, from /usr/bin/time) of one run each; the
 * machine is shared, so CPU time is the steadier number.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ourDeltaArtifact, stockDeltaArtifact } from "./lib/delta-artifacts";
import { corpusPairs, generatedPair, GENERATOR, MIB, type Pair, type Timed } from "./lib/pairs";

function bench(pair: Pair, work: string): void {
  const dir = fs.mkdtempSync(path.join(work, "run-"));
  const ours = path.join(dir, "ours.mender");
  const { time: oursTime, summary } = ourDeltaArtifact(pair, ours, ["--delta-format", "vcdiff"]);
  const phases = summary.timeMs;
  const { artifact: stock, time: stockTime } = stockDeltaArtifact(pair, path.join(dir, "stock"));

  const oursSize = fs.statSync(ours).size;
  const stockSize = fs.statSync(stock).size;
  const fullSize = fs.statSync(pair.toArtifact).size;
  const kib = (n: number): string => `${(n / 1024).toFixed(1).padStart(10)} KiB`;
  const t = (x: Timed): string => `${x.wall.toFixed(1).padStart(6)} s wall ${x.cpu.toFixed(1).padStart(6)} s CPU`;
  process.stdout.write(
    `\n${pair.name}: images ${(fs.statSync(pair.fromImage).size / MIB).toFixed(0)} -> ${(fs.statSync(pair.toImage).size / MIB).toFixed(0)} MiB\n` +
      `  ours   delta Artifact ${kib(oursSize)}  ${t(oursTime)}   (read+check inputs ${(phases.read / 1000).toFixed(1)} s, encode ${(phases.encode / 1000).toFixed(1)} s, write ${(phases.write / 1000).toFixed(1)} s)\n` +
      `  stock  delta Artifact ${kib(stockSize)}  ${t(stockTime)}   (xdelta3 -e -S lzma -A + mender-artifact write module-image)\n` +
      `  full   TO Artifact    ${kib(fullSize)}\n` +
      `  ratios: ours/stock size ${(oursSize / stockSize).toFixed(3)}, ours/full size ${(oursSize / fullSize).toFixed(4)}, ` +
      `stock/full size ${(stockSize / fullSize).toFixed(4)}; ours/stock time ${(oursTime.wall / stockTime.wall).toFixed(2)} wall, ${(oursTime.cpu / stockTime.cpu).toFixed(2)} CPU\n`,
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
  try {
    for (const pair of [...corpusPairs(), generatedPair(work)]) bench(pair, work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main();
