/**
 * The size cost of deltas for read-write roots (`--root-mount rw`) against those for read-only
 * roots (`ro`) and stock xdelta3, on the same pairs, in the same invocation.
 *   npx tsx test/bench/read-write-root.ts      (or: npm run bench -- read-write-root)
 *
 * Per pair: the generator with --root-mount ro and rw (the built x86_64 binary, --json), and
 * `xdelta3 -e -S lzma -A` (stock, the payload alone). Printed: Artifact sizes, rw/ro and rw/stock,
 * the FROM bytes rw may not read (ext4 metadata, directories, free space, file slack), the bytes
 * the delta reads and its read-set digest. Pairs: lib/pairs.ts.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { corpusPairs, generatedPair, GENERATOR, MIB, timed, type Pair } from "./lib/pairs";

interface RootMountJson {
  artifactSize: number;
  rootMount: { filesystem?: string; avoidedBytes: number; readBytes?: number; readRanges?: number; readSetBytes?: number };
  timeMs: { encode: number };
}

function generate(pair: Pair, mount: "ro" | "rw", out: string): RootMountJson & { wall: number } {
  // VCDIFF: the figures docs/read-write-root.md gives are the VCDIFF delta's.
  const r = timed(GENERATOR, ["--json", "--delta-format", "vcdiff", "--root-mount", mount, "-o", out, pair.fromArtifact, pair.toArtifact], [pair.fromArtifact, pair.toArtifact]);
  return { ...(JSON.parse(r.stdout) as RootMountJson), wall: r.wall };
}

function bench(pair: Pair, work: string): void {
  const dir = fs.mkdtempSync(path.join(work, "run-"));
  const ro = generate(pair, "ro", path.join(dir, "ro.mender"));
  const rw = generate(pair, "rw", path.join(dir, "rw.mender"));
  const stock = path.join(dir, "stock.vcdiff");
  const x = spawnSync("xdelta3", ["-e", "-S", "lzma", "-A", "-f", "-s", pair.fromImage, pair.toImage, stock]);
  if (x.status !== 0) throw new Error(`xdelta3 failed: ${x.stderr}`);
  const stockSize = fs.statSync(stock).size;
  const image = fs.statSync(pair.fromImage).size;
  const kib = (n: number): string => `${(n / 1024).toFixed(1).padStart(9)} KiB`;
  const m = rw.rootMount;
  process.stdout.write(
    `\n${pair.name}: FROM ${(image / MIB).toFixed(0)} MiB\n` +
      `  ro     delta Artifact ${kib(ro.artifactSize)}  encode ${(ro.timeMs.encode / 1000).toFixed(1)} s\n` +
      `  rw     delta Artifact ${kib(rw.artifactSize)}  encode ${(rw.timeMs.encode / 1000).toFixed(1)} s; ` +
      `FROM not read: ${(m.avoidedBytes / MIB).toFixed(1)} MiB (${m.filesystem ?? "not ext4"}); reads ${((m.readBytes ?? 0) / MIB).toFixed(1)} MiB ` +
      `in ${m.readRanges ?? 0} ranges; read-set digest ${kib(m.readSetBytes ?? 0)}\n` +
      `  stock  xdelta3 -e -S lzma -A payload ${kib(stockSize)}\n` +
      `  ratios: rw/ro ${(rw.artifactSize / ro.artifactSize).toFixed(3)}, rw/stock ${(rw.artifactSize / stockSize).toFixed(3)}, ro/stock ${(ro.artifactSize / stockSize).toFixed(3)}\n`,
  );
}

function main(): void {
  if (!fs.existsSync(GENERATOR)) {
    process.stderr.write(`bench read-write-root: ${GENERATOR} is missing; build it: node build.mjs --arch x86_64 --no-archive --quiet\n`);
    process.exit(1);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-bench-rw-"));
  try {
    for (const pair of [...corpusPairs(), generatedPair(work)]) bench(pair, work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main();
