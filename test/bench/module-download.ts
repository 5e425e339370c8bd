/**
 * The Update Module's Download (source hash with O_DIRECT, streaming decode into the inactive
 * partition, skip-unchanged writes, target hash, fsync, O_DIRECT read-back) next to the stock
 * pipeline without any of those checks, `xdelta3 -d -s ACTIVE DELTA INACTIVE`, on the same deltas:
 * this project's (the generator's encoder) and stock `xdelta3 -e -S lzma`, for each image size.
 * Then the hostile deltas of test/reliability/hostile-deltas.ts through the same Download, and
 * their worst peak RSS. Budgets (docs/reliability.md): 100 MiB for a normal Download, 160 MiB on
 * any delta.
 *   npx tsx test/bench/module-download.ts [SIZE_MIB ...]   (default 512 2048; or: npm run bench -- module-download)
 * Uses $DIST (default dist)/x86_64/mender-binary-delta when built, else the bundled source. Each
 * figure is one run of two: the lower wall and CPU time, the higher peak RSS. The module binary's
 * cached pages are dropped before each run (as on a device after boot).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sha256File } from "../device/fixtures";
import { largestWindow, memoryBomb, MiB, noSourceChecksumMismatch, pageScatteredCopies, pseudoRandom, scatteredCopies, type CraftedPair } from "../reliability/hostile-deltas";
import { measuredDownload, splitMaxrss, TIME_FORMAT } from "../reliability/measured-download";
import { moduleUnderTest, verifiedDownload } from "./lib/device-download";
import { encodeVcdiff } from "../../src/vcdiff/encoder/encode";

const RUNS = 2;
const BLOCK = 64 * 1024;
/** Bytes of each image that hold data; the rest is free space (zeros, sparse). */
const DATA_MIB = 192;

interface Run {
  wall: number;
  cpu: number;
  rssMiB: number;
  readsPerByte?: number;
}

/** An image with data and free space, and a release that rewrites some blocks and moves an extent. */
function makePair(dir: string, mib: number): [string, string] {
  const old = pseudoRandom(DATA_MIB * MiB, 1);
  old.fill(0, Math.floor(old.length * 0.7));
  const neu = Buffer.from(old);
  for (let i = 0; i < (old.length / BLOCK) * 0.7; i += 37) pseudoRandom(BLOCK, 2 + (i % 200)).copy(neu, i * BLOCK);
  old.copy(neu, 8 * MiB, 20 * MiB, 28 * MiB);
  const a = path.join(dir, "old.img");
  const b = path.join(dir, "new.img");
  for (const [file, data] of [[a, old], [b, neu]] as const) {
    fs.writeFileSync(file, data);
    fs.truncateSync(file, mib * MiB);
  }
  return [a, b];
}

function timed(cmd: string[]): Run {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", ...cmd], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr}`);
  const [e, u, s, m] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  return { wall: e!, cpu: u! + s!, rssMiB: m! / 1024 };
}

function merge(a: Run | undefined, b: Run): Run {
  return !a ? b : { wall: Math.min(a.wall, b.wall), cpu: Math.min(a.cpu, b.cpu), rssMiB: Math.max(a.rssMiB, b.rssMiB), readsPerByte: b.readsPerByte };
}

function line(name: string, r: Run, ref?: Run): string {
  const ratio = ref ? `   wall x${(r.wall / ref.wall).toFixed(2)}  rss x${(r.rssMiB / ref.rssMiB).toFixed(2)}` : "";
  const reads = r.readsPerByte !== undefined ? `  source read ${r.readsPerByte.toFixed(2)}x` : "";
  return `  ${name.padEnd(34)} wall ${r.wall.toFixed(2).padStart(6)} s  cpu ${r.cpu.toFixed(2).padStart(6)} s  peak RSS ${r.rssMiB.toFixed(1).padStart(6)} MiB${reads}${ratio}`;
}

async function moduleRun(dir: string, module: string[], image: string, delta: string, targetChecksum: string, targetBytes: number): Promise<Run> {
  const r = await verifiedDownload(dir, { image, delta: fs.readFileSync(delta), targetChecksum, targetBytes }, module);
  return { wall: r.wall, cpu: r.cpu, rssMiB: r.peakMiB, readsPerByte: r.readsPerByte };
}

async function normalDeltas(dir: string, module: string[], mib: number): Promise<void> {
  const [oldImg, newImg] = makePair(dir, mib);
  const sumNew = sha256File(newImg);
  const deltas: [string, string][] = [];
  const ours = path.join(dir, "ours.delta");
  await encodeVcdiff(oldImg, newImg, ours, { threads: 1 });
  deltas.push(["this project's delta", ours]);
  const stock = path.join(dir, "stock.delta");
  execFileSync("xdelta3", ["-e", "-S", "lzma", "-A", "-s", oldImg, newImg, stock]);
  deltas.push(["xdelta3 -e -S lzma delta", stock]);
  for (const [what, delta] of deltas) {
    process.stdout.write(`image ${mib} MiB (${DATA_MIB} MiB of data), ${what}: ${(fs.statSync(delta).size / MiB).toFixed(2)} MiB\n`);
    let peer: Run | undefined;
    let mod: Run | undefined;
    for (let i = 0; i < RUNS; i++) {
      const target = path.join(dir, "stock.out");
      fs.writeFileSync(target, "");
      peer = merge(peer, timed(["xdelta3", "-d", "-f", "-s", oldImg, delta, target]));
      fs.rmSync(target, { force: true });
      mod = merge(mod, await moduleRun(path.join(dir, `device-${i}`), module, oldImg, delta, sumNew, mib * MiB));
    }
    console.log(line("xdelta3 -d -s ACTIVE DELTA INACTIVE", peer!));
    console.log(line("mender-binary-delta Download", mod!, peer));
  }
  for (const f of [oldImg, newImg, ...deltas.map(([, d]) => d)]) fs.rmSync(f, { force: true });
}

async function hostileDeltas(dir: string, module: string[]): Promise<void> {
  const cases: [string, CraftedPair, string?][] = [
    ["LZMA bomb, 64 MiB window", { source: pseudoRandom(MiB, 1), delta: memoryBomb("lzma", 64 * MiB), target: null }],
    ["LZMA bomb, 16 MiB window", { source: pseudoRandom(MiB, 2), delta: memoryBomb("lzma", 16 * MiB), target: null }],
    ["DJW bomb, 16 MiB window", { source: pseudoRandom(MiB, 3), delta: memoryBomb("djw", 16 * MiB), target: null }],
    ["largest window within the budget", largestWindow(), "-B16777216"],
    ["scattered 64-byte copies, 64 MiB", scatteredCopies(64, 300, 64)],
    ["page-scattered 4-byte copies, 16 MiB", pageScatteredCopies(19_200)],
    ["no-source window, wrong checksum", noSourceChecksumMismatch()],
  ];
  console.log("hostile deltas (test/reliability/hostile-deltas.ts), one Download each:");
  let worst = { name: "", peak: 0 };
  for (const [i, [name, pair, args]] of cases.entries()) {
    const device = path.join(dir, `hostile-${i}`);
    fs.mkdirSync(device, { recursive: true });
    const image = path.join(device, "running.img");
    fs.writeFileSync(image, pair.source);
    const sum = createHash("sha256").update(pair.target ?? Buffer.from("no valid target")).digest("hex");
    const r = await measuredDownload(device, { image, delta: pair.delta, targetChecksum: sum, targetBytes: pair.target?.length ?? 16 * MiB, decoderArguments: args }, module);
    fs.rmSync(device, { recursive: true, force: true });
    const error = r.stderr.split("\n").find((l) => l.includes("error: ")) ?? "";
    const why = error.replace(/^.*?error: (applying \S+ failed after \d+ bytes of \S+: )?/, "");
    const outcome = r.status === 0 ? "installed" : `refused: ${why.slice(0, 110)}…`;
    console.log(`  ${name.padEnd(34)} ${(pair.delta.length / 1024).toFixed(0).padStart(6)} KiB delta  exit ${r.status}  ${r.seconds.toFixed(1).padStart(5)} s  peak RSS ${r.peakMiB.toFixed(1).padStart(6)} MiB  ${outcome}`);
    if (r.peakMiB > worst.peak) worst = { name, peak: r.peakMiB };
  }
  console.log(`  worst case: ${worst.peak.toFixed(1)} MiB (${worst.name}); budget 160 MiB`);
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-bench-module-"));
  try {
    const module = moduleUnderTest(dir);
    console.log(`module: ${module.join(" ")}; budgets: 100 MiB for a normal Download, 160 MiB on any delta`);
    const idle = spawnSync("/usr/bin/time", ["-f", TIME_FORMAT, ...module, "--version"], { encoding: "utf8" });
    console.log(`  runtime alone (--version): peak RSS ${splitMaxrss(idle.stderr).peakMiB.toFixed(1)} MiB`);
    for (const mib of sizes.length > 0 ? sizes : [512, 2048]) await normalDeltas(dir, module, mib);
    await hostileDeltas(dir, module);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
