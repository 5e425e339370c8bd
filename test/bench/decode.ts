/**
 * Decoder throughput and peak memory next to `xdelta3 -d` on the same delta, as ratios.
 *   npx tsx test/bench/decode.ts [A] [B] [SIZE_MIB ...]
 * Uses issue #18's corpus pairs, A (A1-minbase.ext4 -> A2-ssh.ext4) and B (A1-minbase.ext4 ->
 * B2-upgrade.ext4) from test/bench/corpus/make-corpus.sh, found through $CORPUS or
 * ~/.cache/mbd-corpus: those named, or, with no argument, each that exists. Otherwise (or with
 * sizes given: default 64 512) it generates sparse-ish image
 * pairs of each size: zero blocks (free space), text-like and random blocks, and a new release with
 * rewritten blocks and moved/duplicated extents. Each pair is encoded with stock `xdelta3 -e` (LZMA
 * secondary, as Mender's tooling does), with `-S none`, and by this project's encoder (what
 * `--delta-format vcdiff` puts in an Artifact, before the Artifact's xz). Issue #18's apply goals:
 * our decoder's CPU time at most 1.0x `xdelta3 -d`'s on the stock delta, at most 0.8x on ours.
 *
 * Throughput is output bytes per CPU second (user + system, best of 3; the machine is shared, so
 * wall time is noise): the decode call for ours (the runtime's ~0.05 s start-up excluded), the whole
 * process for xdelta3. Ours reads the delta file as the Update Module reads its payload (two
 * buffers in turn); xdelta3 reads it into its own buffers. Memory is the peak RSS of the decoding
 * process; ours is also shown above the runtime's idle RSS (same process setup, decoder loaded,
 * nothing decoded). Output goes to /dev/null.
 * The child runs on this node, and, for issue #18's ratios, also on the built Update Module's own
 * runtime and flags when the programs are built (the device's decoder is that one).
 */
import { spawnSync } from "node:child_process";
import { createCipheriv } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileBlockSource } from "../../src/io/file-source";
import type { TargetSink } from "../../src/io/interfaces";
import { readInReusedChunks } from "../../src/io/reused-chunks";
import { decodeVcdiff } from "../../src/vcdiff/decoder/decode";

const RUNS = 3;
const MIB = 1 << 20;

/** Child mode: decode once (or only load, with --idle) and print CPU seconds and peak RSS as JSON. */
async function child(args: string[]): Promise<void> {
  if (args[0] === "--idle") {
    console.log(JSON.stringify({ seconds: 0 }));
    return;
  }
  const [oldFile, deltaFile] = args as [string, string];
  const out = fs.openSync("/dev/null", "w");
  const sink: TargetSink = {
    write(data) {
      fs.writeSync(out, data);
    },
    finish() {},
  };
  const source = new FileBlockSource(oldFile);
  const t0 = process.cpuUsage();
  // The delta is read as the device reads its payload (two buffers in turn, src/io/reused-chunks.ts).
  const result = await decodeVcdiff(readInReusedChunks(deltaFile), source, sink);
  const used = process.cpuUsage(t0);
  source.close();
  console.log(JSON.stringify({ seconds: (used.user + used.system) / 1e6, bytes: result.targetBytes }));
}

interface Run {
  seconds: number;
  maxRssKiB: number;
}

/** The child runs as one esbuild bundle under plain node, like the shipped program (no tsx in its RSS). */
let childBundle = "";

/** A Node runtime to run the child with. */
interface Runtime {
  label: string;
  command: string[];
}

const HOST_RUNTIME: Runtime = { label: `node ${process.version}`, command: [process.execPath] };

/**
 * The runtime the built Update Module runs on: the Node the build embedded (its cached copy) with
 * the flags built into the program, as its `selftest` reports them. Undefined when the programs
 * are not built. The device's time is this one's; the host's node is shown too.
 */
async function moduleRuntime(): Promise<Runtime | undefined> {
  // Loaded by a computed path, as the encoder below: the child's bundle stays without it.
  const helpers = path.join(__dirname, "..", "helpers", "targets");
  const { binaryPath, cachedNodePath, HOST_TARGET } = (await import(helpers)) as typeof import("../helpers/targets");
  const program = binaryPath(HOST_TARGET, "mender-binary-delta");
  const node = cachedNodePath(HOST_TARGET);
  if (!fs.existsSync(program) || !fs.existsSync(node)) return undefined;
  const r = spawnSync(program, ["selftest"], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const report = JSON.parse(r.stdout) as { node: string; flags: string[] };
  return { label: `the Update Module's runtime, node ${report.node}${report.flags.map((f) => ` ${f}`).join("")}`, command: [node, ...report.flags] };
}

/**
 * Runs our decoder in a child under /usr/bin/time: Linux carries ru_maxrss across exec, so a child
 * spawned straight from this (large) process would report this process's peak as its own.
 */
function runOurs(runtime: Runtime, args: string[]): Run {
  const r = spawnSync("/usr/bin/time", ["-f", "%M", ...runtime.command, childBundle, "--child", ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`our decoder failed: ${r.stderr}`);
  const { seconds } = JSON.parse(r.stdout.trim().split("\n").pop()!) as Run;
  return { seconds, maxRssKiB: Number(r.stderr.trim().split("\n").pop()) };
}

function runXdelta3(oldFile: string, deltaFile: string): Run {
  const r = spawnSync("/usr/bin/time", ["-f", "%U %S %M", "sh", "-c", `xdelta3 -d -c -s '${oldFile}' '${deltaFile}' > /dev/null`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`xdelta3 -d failed: ${r.stderr}`);
  const [user, sys, rss] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number) as [number, number, number];
  return { seconds: user + sys, maxRssKiB: rss };
}

function best(run: () => Run): Run {
  let b: Run = { seconds: Infinity, maxRssKiB: 0 };
  for (let i = 0; i < RUNS; i++) {
    const r = run();
    b = { seconds: Math.min(b.seconds, r.seconds), maxRssKiB: Math.max(b.maxRssKiB, r.maxRssKiB) };
  }
  return b;
}

/** Deterministic fast pseudo-random bytes (AES-128-CTR over zeros). */
function randomStream(seed: number): (n: number) => Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  return (n) => cipher.update(Buffer.alloc(n));
}

const WORDS = Buffer.from(
  "usr lib share locale systemd kernel module firmware libc.so.6 /etc/ssh/sshd_config python3 ELF \x7fELF\x02\x01\x01 ".repeat(2000),
);

/** Writes an old/new image pair of `mib` MiB: ~35% zero blocks, text and random blocks; the new one changes ~3%. */
function generatePair(dir: string, mib: number): [string, string] {
  const oldFile = path.join(dir, `old-${mib}.img`);
  const newFile = path.join(dir, `new-${mib}.img`);
  const oldFd = fs.openSync(oldFile, "w");
  const newFd = fs.openSync(newFile, "w");
  const rnd = randomStream(mib);
  const chunkBytes = 4 * MIB;
  const recent: Buffer[] = []; // for "moved" extents: content from earlier in the image
  for (let off = 0; off < mib * MIB; off += chunkBytes) {
    const choice = rnd(chunkBytes / 4096 + 64);
    const old = Buffer.alloc(chunkBytes);
    for (let b = 0; b < chunkBytes / 4096; b++) {
      const kind = choice[b]! % 20;
      const at = b * 4096;
      if (kind < 7) continue; // free space: zeros
      if (kind < 14) {
        const from = (choice.readUInt16LE(b % 32) * 7) % (WORDS.length - 4096);
        WORDS.copy(old, at, from, from + 4096);
      } else {
        rnd(4096).copy(old, at);
      }
    }
    const neu = Buffer.from(old);
    // ~3% of the blocks rewritten (package updates), plus an occasional extent moved from earlier.
    for (let b = 0; b < chunkBytes / 4096; b++) if (choice[b]! >= 250) rnd(4096).copy(neu, b * 4096);
    if (recent.length > 0 && choice[choice.length - 1]! < 64) {
      const src = recent[choice[choice.length - 2]! % recent.length]!;
      src.copy(neu, (choice[choice.length - 3]! % 512) * 4096, 0, 256 * 1024);
    }
    recent.push(old.subarray(0, 256 * 1024));
    if (recent.length > 16) recent.shift();
    fs.writeSync(oldFd, old);
    fs.writeSync(newFd, neu);
  }
  fs.closeSync(oldFd);
  fs.closeSync(newFd);
  return [oldFile, newFile];
}

/** The corpus pairs of issue #18 (A1-minbase -> A2-ssh, -> B2-upgrade) whose images exist, by name. */
function corpusPairs(): Map<string, [string, string, string]> {
  const dir = process.env.CORPUS ?? path.join(os.homedir(), ".cache", "mbd-corpus");
  const pairs = new Map<string, [string, string, string]>();
  for (const [name, to] of [["A", "A2-ssh"], ["B", "B2-upgrade"]] as const) {
    for (const sub of ["", "images"]) {
      const a = path.join(dir, sub, "A1-minbase.ext4");
      const b = path.join(dir, sub, `${to}.ext4`);
      if (fs.existsSync(a) && fs.existsSync(b)) {
        pairs.set(name, [`corpus ${name} (A1-minbase -> ${to})`, a, b]);
        break;
      }
    }
  }
  return pairs;
}

async function encode(oldFile: string, newFile: string, deltaFile: string, flags: string[] | "ours"): Promise<void> {
  if (flags === "ours") {
    // Loaded by a computed path: the child's bundle (this file) stays without the encoder.
    const encoder = path.join(__dirname, "..", "..", "src", "vcdiff", "encoder", "encode");
    const { encodeVcdiff } = (await import(encoder)) as typeof import("../../src/vcdiff/encoder/encode");
    await encodeVcdiff(oldFile, newFile, deltaFile);
    return;
  }
  const r = spawnSync("xdelta3", ["-e", "-f", ...flags, "-s", oldFile, newFile, deltaFile], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`xdelta3 -e failed: ${r.stderr}`);
}

/** Issue #18: our CPU time / xdelta3 -d's on the same delta, at most this. */
const APPLY_GOALS: Record<string, number | undefined> = { "stock (LZMA)": 1.0, ours: 0.8 };

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const sizes = args.map(Number).filter((n) => n > 0);
  const named = args.filter((a) => !(Number(a) > 0));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-bench-decode-"));
  try {
    childBundle = path.join(dir, "decode-child.cjs");
    // esbuild stays out of the child (loaded here only), so the child's idle RSS is the runtime's.
    const { buildSync } = await import("esbuild");
    buildSync({ entryPoints: [__filename], bundle: true, platform: "node", format: "cjs", outfile: childBundle, logLevel: "error", external: ["esbuild"] });
    const pairs: [string, string, string][] = [];
    const corpus = corpusPairs();
    for (const name of named) {
      const pair = corpus.get(name);
      if (!pair) throw new Error(`no corpus pair ${name} (pairs: A, B; images from test/bench/corpus/make-corpus.sh in $CORPUS or ~/.cache/mbd-corpus)`);
      pairs.push(pair);
    }
    if (named.length === 0 && sizes.length === 0) pairs.push(...corpus.values());
    if (sizes.length > 0 || pairs.length === 0) {
      for (const mib of sizes.length > 0 ? sizes : [64, 512]) pairs.push([`generated ${mib} MiB`, ...generatePair(dir, mib)]);
    }
    const idle = runOurs(HOST_RUNTIME, ["--idle"]);
    const module = await moduleRuntime();
    console.log(`node ${process.version}, xdelta3 3.0.11; best of ${RUNS}, CPU time; idle RSS of our process ${(idle.maxRssKiB / 1024).toFixed(1)} MiB`);
    console.log(
      module
        ? `issue #18's ratios also with ${module.label}`
        : "the Update Module is not built (node build.mjs): its runtime is not measured, only this node",
    );
    for (const [label, oldFile, newFile] of pairs) {
      const size = fs.statSync(newFile).size;
      for (const [profile, flags] of [["stock (LZMA)", []], ["-S none", ["-S", "none"]], ["ours", "ours"]] as const) {
        const deltaFile = path.join(dir, "delta");
        await encode(oldFile, newFile, deltaFile, flags === "ours" ? "ours" : [...flags]);
        const deltaSize = fs.statSync(deltaFile).size;
        const o = best(() => runOurs(HOST_RUNTIME, [oldFile, deltaFile]));
        const x = best(() => runXdelta3(oldFile, deltaFile));
        const mbs = (s: number) => (size / 1e6 / s).toFixed(0);
        const mib = (k: number) => (k / 1024).toFixed(1);
        console.log(
          `${label}, ${profile}: delta ${(deltaSize / 1e6).toFixed(2)} MB -> ${(size / 1e6).toFixed(0)} MB | ` +
            `ours ${mbs(o.seconds)} MB/s, xdelta3 -d ${mbs(x.seconds)} MB/s, throughput ratio ${(x.seconds / o.seconds).toFixed(2)}x | ` +
            `peak RSS ours ${mib(o.maxRssKiB)} MiB (+${mib(o.maxRssKiB - idle.maxRssKiB)} over idle), xdelta3 ${mib(x.maxRssKiB)} MiB`,
        );
        const goal = APPLY_GOALS[profile];
        if (goal !== undefined) {
          const report = (runtime: Runtime, seconds: number): void => {
            const cpu = seconds / x.seconds;
            console.log(
              `  issue #18: our CPU / xdelta3 -d's on this delta ${cpu.toFixed(2)}x (${seconds.toFixed(2)} / ${x.seconds.toFixed(2)} s, ${runtime.label}), ` +
                `goal <= ${goal.toFixed(1)}x: ${cpu <= goal ? "PASS" : "MISS"}`,
            );
          };
          report(HOST_RUNTIME, o.seconds);
          if (module) report(module, best(() => runOurs(module, [oldFile, deltaFile])).seconds);
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--generate") {
  // Writes a pair for profiling by hand: --generate DIR MIB
  console.log(generatePair(process.argv[3]!, Number(process.argv[4])).join(" "));
} else if (process.argv[2] === "--child") {
  child(process.argv.slice(3)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
