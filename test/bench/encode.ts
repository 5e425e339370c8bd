/**
 * Our VCDIFF encoder next to the peer delta tools on rootfs image pairs, as ratios.
 *   npx tsx test/bench/encode.ts [--no-zstd] [--threads N] [--level N]   (or: npm run bench -- encode)
 *
 * Pairs: the corpus pairs A (A1-minbase -> A2-ssh) and B (A1-minbase -> B2-upgrade) from
 * test/bench/corpus/make-corpus.sh, found through $CORPUS or ~/.cache/mbd-corpus, when they exist;
 * otherwise two generated ext4 pairs built from this machine's files (test/vcdiff/ext4-pair.ts,
 * cached in ~/.cache/mbd-bench-encode):
 *   update   python3.11 + perl + docs (~200 MB) in 320 MiB: scripts patched, shared objects rebuilt,
 *            docs deleted, a new package; block allocation shifts by small amounts.
 *   upgrade  the same plus gcc (120 MB) in 400 MiB, and the upgrade also drops gcc: every file
 *            after it moves by ~120 MB (what defeats a 64 MiB source window).
 *
 * Per pair, each tool's delta size as it would ship (ours: + xz -9 as the Artifact carries it, gzip -9
 * shown too; stock xdelta3: its own LZMA secondary; zstd: its own), encode wall and CPU seconds
 * (user + system, all threads) and peak RSS from /usr/bin/time. Our encoder runs as one esbuild
 * bundle under plain node, as the shipped program does. The machine is shared: compare within a run.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { encodeVcdiff } from "../../src/vcdiff/encoder/encode";
import { makeExt4Pair, type Ext4PairSpec } from "../vcdiff/ext4-pair";

const ROOT = path.resolve(__dirname, "..", "..");

interface Pair { name: string; from: string; to: string }
interface Run { bytes: number; wall: number; cpu: number; rssMiB: number; note?: string }

async function child(args: string[]): Promise<void> {
  const [from, to, out, threads, level] = args as [string, string, string, string, string];
  const stats = await encodeVcdiff(from, to, out, { threads: Number(threads), level: Number(level) });
  console.log(JSON.stringify(stats));
}

function timed(cmd: string[], what: string): { wall: number; cpu: number; rssMiB: number; stdout: string } {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", ...cmd], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr.slice(-2000)}`);
  const [wall, user, sys, rss] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number) as [number, number, number, number];
  return { wall, cpu: user + sys, rssMiB: rss / 1024, stdout: r.stdout };
}

function size(file: string): number {
  return fs.statSync(file).size;
}

function compressed(file: string, tool: "xz" | "gzip"): number {
  const args = tool === "xz" ? ["-9", "-T1", "-c", file] : ["-9", "-c", file];
  const r = spawnSync(tool, args, { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${tool} failed`);
  return r.stdout.length;
}

function checkDecodes(pair: Pair, delta: string, work: string): void {
  const out = path.join(work, "check.out");
  const r = spawnSync("sh", ["-c", `xdelta3 -d -f -s "$1" "$2" "$3" && cmp "$3" "$4"`, "sh", pair.from, delta, out, pair.to], { encoding: "utf8" });
  fs.rmSync(out, { force: true });
  if (r.status !== 0) throw new Error(`our delta for ${pair.name} does not decode with xdelta3 -d: ${r.stderr}${r.stdout}`);
}

function bundleSelf(work: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  const common = { bundle: true, platform: "node" as const, format: "cjs" as const, target: "node20", logLevel: "warning" as const, absWorkingDir: ROOT };
  const worker = esbuild.buildSync({ ...common, entryPoints: ["src/cli/worker.ts"], write: false });
  const outfile = path.join(work, "encode-bench.cjs");
  esbuild.buildSync({
    ...common, entryPoints: [__filename], outfile, external: ["esbuild"],
    define: { __WORKER_SRC__: JSON.stringify(worker.outputFiles[0]!.text) },
  });
  return outfile;
}

function pairs(): Pair[] {
  const corpus = process.env.CORPUS ?? path.join(os.homedir(), ".cache", "mbd-corpus");
  const img = (n: string): string => path.join(corpus, "images", n);
  if (fs.existsSync(img("A1-minbase.ext4")) && fs.existsSync(img("A2-ssh.ext4")) && fs.existsSync(img("B2-upgrade.ext4"))) {
    return [
      { name: "A (corpus)", from: img("A1-minbase.ext4"), to: img("A2-ssh.ext4") },
      { name: "B (corpus)", from: img("A1-minbase.ext4"), to: img("B2-upgrade.ext4") },
    ];
  }
  const cache = path.join(os.homedir(), ".cache", "mbd-bench-encode");
  const specs: [string, Ext4PairSpec][] = [
    ["update", { base: ["/usr/lib/python3.11", "/usr/share/perl", "/usr/share/doc"], added: "/usr/share/perl5", imageSize: "320M" }],
    ["upgrade", { base: ["/usr/lib/gcc", "/usr/lib/python3.11", "/usr/share/perl", "/usr/share/doc"], removed: ["/usr/lib/gcc"], added: "/usr/share/perl5", imageSize: "400M" }],
  ];
  return specs.map(([name, spec]) => {
    const dir = path.join(cache, name);
    const from = path.join(dir, "v1.ext4"), to = path.join(dir, "v2.ext4");
    if (!fs.existsSync(to)) {
      process.stdout.write(`generating the ${name} pair in ${dir} ...\n`);
      fs.mkdirSync(dir, { recursive: true });
      makeExt4Pair(dir, spec);
    }
    return { name: `${name} (generated)`, from, to };
  });
}

function fmt(r: Run): string {
  return `${(r.bytes / 1e6).toFixed(3).padStart(9)} MB ${r.wall.toFixed(1).padStart(7)} s ${r.cpu.toFixed(1).padStart(7)} s ${r.rssMiB.toFixed(0).padStart(6)} MiB`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--child") return child(argv.slice(1));
  const opt = (name: string, dflt: string): string => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1]! : dflt; };
  const withZstd = !argv.includes("--no-zstd");
  const threads = opt("--threads", String(Math.min(8, os.availableParallelism())));
  const level = opt("--level", "6");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-encode-"));
  try {
    const bundle = bundleSelf(work);
    for (const pair of pairs()) {
      const imageBytes = size(pair.to);
      process.stdout.write(`\npair ${pair.name}: ${path.basename(pair.from)} -> ${path.basename(pair.to)}, ${(imageBytes / 1e6).toFixed(0)} MB images\n`);
      const runs = new Map<string, Run>();

      const ours = path.join(work, "ours.vcdiff");
      const o = timed([process.execPath, bundle, "--child", pair.from, pair.to, ours, threads, level], "our encoder");
      checkDecodes(pair, ours, work);
      const stats = JSON.parse(o.stdout.trim().split("\n").pop()!) as { deltaSize: number };
      runs.set(`ours (level ${level}, ${threads} threads) + xz -9`, { ...o, bytes: compressed(ours, "xz"), note: `raw ${stats.deltaSize}` });
      runs.set("ours + gzip -9", { ...o, bytes: compressed(ours, "gzip") });

      const stock = path.join(work, "stock.vcdiff");
      const s = timed(["xdelta3", "-e", "-f", "-S", "lzma", "-A=", "-s", pair.from, pair.to, stock], "xdelta3 -e");
      runs.set("xdelta3 -e -S lzma (stock, Mender)", { ...s, bytes: size(stock) });

      const x9 = path.join(work, "x9.vcdiff");
      const x = timed(["xdelta3", "-e", "-9", "-f", "-S", "none", "-B", String(imageBytes), "-s", pair.from, pair.to, x9], "xdelta3 -e -9");
      runs.set("xdelta3 -e -9 -S none -B <image> + xz -9", { ...x, bytes: compressed(x9, "xz") });

      if (withZstd) {
        const z = path.join(work, "z.zst");
        const zr = timed(["zstd", "-q", "-f", "-19", "--long=31", "-T1", `--patch-from=${pair.from}`, pair.to, "-o", z], "zstd --patch-from");
        runs.set("zstd -19 --long=31 --patch-from", { ...zr, bytes: size(z) });
      }

      process.stdout.write(`${"tool".padEnd(44)} ${"delta".padStart(12)} ${"wall".padStart(9)} ${"cpu".padStart(9)} ${"peak RSS".padStart(10)}\n`);
      for (const [name, r] of runs) process.stdout.write(`${name.padEnd(44)} ${fmt(r)}${r.note ? `  (${r.note})` : ""}\n`);
      const our = [...runs.values()][0]!;
      const peers = [...runs.entries()].filter(([n]) => !n.startsWith("ours"));
      const bestPeer = Math.min(...peers.map(([, r]) => r.bytes));
      for (const [name, r] of peers) {
        process.stdout.write(`  ours / ${name}: size ${(our.bytes / r.bytes).toFixed(3)}x, wall ${(our.wall / r.wall).toFixed(2)}x, cpu ${(our.cpu / r.cpu).toFixed(2)}x\n`);
      }
      process.stdout.write(`  ours / best peer: size ${(our.bytes / bestPeer).toFixed(3)}x\n`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
