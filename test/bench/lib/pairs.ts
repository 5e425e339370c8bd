/**
 * The image pairs the generator benchmarks run on, and how they time a command.
 *
 * Pairs: the corpus pairs A (A1-minbase -> A2-ssh) and B (A1-minbase -> B2-upgrade) from
 * test/bench/corpus/make-corpus.sh, found through $CORPUS or ~/.cache/mbd-corpus, when they exist;
 * pair U (A1-minbase -> B2-upgrade of a corpus made with B_EXTRA=apt: the same packages upgraded,
 * nothing added, a security update) through $CORPUS_U or ~/.cache/mbd-corpus-u;
 * pair U-arm64 (F1-arm64-minbase -> F2-arm64-upgrade of a corpus made with ARM_ARCH=arm64: the same
 * security update for arm64, unpacked without running its binaries) through $CORPUS_ARM or
 * ~/.cache/mbd-corpus-arm;
 * always a generated pair: a 64 MiB ext4 image holding a package tree taken from this checkout
 * (typescript), and a release 2 that upgrades it (a patched file, a removed one, a new package: fflate).
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..", "..");
export const GENERATOR = path.join(ROOT, "dist", "x86_64", "mender-binary-delta-generator");
export const MIB = 1 << 20;

export interface Pair {
  name: string;
  fromArtifact: string;
  toArtifact: string;
  fromImage: string;
  toImage: string;
}

export interface Timed {
  wall: number;
  cpu: number;
  /** The process's peak resident set (GNU time's maxrss: its largest process, not a sum of them). */
  peakMiB: number;
  stdout: string;
}

/**
 * Puts the machine's memory in the same state before a timed run: dirty pages written out and, as
 * root, the page cache dropped and then `inputs` read back in, so that every program starts with
 * its inputs cached and nothing else. Otherwise what earlier steps left (a Download's 512 MiB
 * partition, a generator's scratch images) lands on whichever program runs next, as write-back
 * and reclaim: measured on pair U, the same generator run took 9.1 s first and 7.1-7.3 s right
 * after, with twice the system time, and the formats bench, which makes the MBDF Artifact first,
 * charged it to MBDF (U-arm64 12.9 s; 9.6 s from a quiet start). Inputs are read back rather
 * than left cold because the peers read raw images (1 GiB) where ours reads Artifacts (about
 * 100 MB): cold inputs would tilt every ratio toward ours.
 */
function settle(inputs: readonly string[]): void {
  spawnSync("sync", { stdio: "ignore" });
  if (inputs.length === 0) return;
  try {
    fs.writeFileSync("/proc/sys/vm/drop_caches", "3");
  } catch {
    return; // not root (or no procfs): the dirty pages at least are written out
  }
  const chunk = Buffer.allocUnsafe(MIB);
  for (const file of inputs) {
    const fd = fs.openSync(file, "r");
    try {
      while (fs.readSync(fd, chunk, 0, chunk.length, null) > 0);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * Runs a command under /usr/bin/time, after settle(inputs) (`inputs`: the files it reads, to be
 * cached when it starts); returns wall and CPU seconds and peak RSS.
 */
export function timed(cmd: string, args: string[], inputs: readonly string[] = []): Timed {
  settle(inputs);
  const r = spawnSync("/usr/bin/time", ["-f", "TIME %e %U %S %M", cmd, ...args], { encoding: "utf8", maxBuffer: 64 * MIB });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`no timing from /usr/bin/time: ${r.stderr}`);
  return { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), peakMiB: Number(m[4]) / 1024, stdout: r.stdout };
}

/** Steps run one after the other, as one: times added, the highest peak RSS. */
export function sequence(steps: Timed[]): Timed {
  return {
    wall: steps.reduce((t, s) => t + s.wall, 0),
    cpu: steps.reduce((t, s) => t + s.cpu, 0),
    peakMiB: Math.max(...steps.map((s) => s.peakMiB)),
    stdout: "",
  };
}

function copyTree(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true, dereference: true });
}

function mkext4(tree: string, image: string, mib: number): void {
  fs.rmSync(image, { force: true });
  execFileSync("truncate", ["-s", `${mib}M`, image]);
  execFileSync("mke2fs", ["-q", "-t", "ext4", "-F", "-d", tree, "-U", "3f1e5b2a-6c4d-4e8f-9a0b-1c2d3e4f5a6b", "-E", "hash_seed=0b5e8a4c-2f7d-4a1e-8c3b-9d6f0e2a4b7c", image], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: "1767225600", LC_ALL: "C" },
  });
}

function rootfsArtifact(image: string, name: string, out: string): void {
  fs.rmSync(out, { force: true });
  execFileSync("mender-artifact", ["write", "rootfs-image", "-t", "qemux86-64", "-n", name, "-f", image, "-o", out], { stdio: "ignore" });
}

/** A generated pair: typescript's package as release 1; release 2 patches, removes and adds files. */
export function generatedPair(work: string): Pair {
  const t1 = path.join(work, "tree-1");
  const t2 = path.join(work, "tree-2");
  copyTree(path.join(ROOT, "node_modules", "typescript"), path.join(t1, "usr", "lib", "typescript"));
  fs.mkdirSync(path.join(t1, "etc"), { recursive: true });
  fs.writeFileSync(path.join(t1, "etc", "os-release"), 'NAME="Bench"\nVERSION_ID="1"\n');
  copyTree(t1, t2);
  fs.writeFileSync(path.join(t2, "etc", "os-release"), 'NAME="Bench"\nVERSION_ID="2"\n');
  const lib = path.join(t2, "usr", "lib", "typescript", "lib");
  const big = fs.readdirSync(lib).filter((f) => f.endsWith(".js")).map((f) => path.join(lib, f)).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
  // A "security fix": a few edits spread over the largest file.
  const text = fs.readFileSync(big[0]!, "utf8").split("\n");
  for (let i = 100; i < text.length; i += Math.floor(text.length / 25)) text[i] = `/* patched */ ${text[i]}`;
  fs.writeFileSync(big[0]!, text.join("\n"));
  fs.rmSync(big[1]!);
  copyTree(path.join(ROOT, "node_modules", "fflate"), path.join(t2, "usr", "lib", "fflate"));
  const img = (n: number): string => path.join(work, `bench-${n}`, "rootfs.ext4");
  for (const n of [1, 2]) fs.mkdirSync(path.dirname(img(n)), { recursive: true });
  mkext4(t1, img(1), 64);
  mkext4(t2, img(2), 64);
  const a1 = path.join(work, "bench-1.mender");
  const a2 = path.join(work, "bench-2.mender");
  rootfsArtifact(img(1), "bench-1", a1);
  rootfsArtifact(img(2), "bench-2", a2);
  return { name: "generated (64 MiB ext4, package upgrade)", fromArtifact: a1, toArtifact: a2, fromImage: img(1), toImage: img(2) };
}

/** The corpus of pairs A and B. */
export const CORPUS = process.env.CORPUS ?? path.join(os.homedir(), ".cache", "mbd-corpus");
/** The corpus of pair U: make-corpus.sh with B_EXTRA=apt, so B2-upgrade adds no package. */
export const CORPUS_U = process.env.CORPUS_U ?? path.join(os.homedir(), ".cache", "mbd-corpus-u");
/** The corpus of pair U-arm64: make-corpus.sh with ARM_ARCH=arm64, which makes that pair alone. */
export const CORPUS_ARM = process.env.CORPUS_ARM ?? path.join(os.homedir(), ".cache", "mbd-corpus-arm");

/** A corpus pair: its Artifacts and images when all four exist, else null. */
export function corpusPair(corpus: string, name: string, from: string, to: string): Pair | null {
  const art = (n: string): string => path.join(corpus, "artifacts", `${n}.mender`);
  const img = (n: string): string => path.join(corpus, "images", `${n}.ext4`);
  if (![art(from), art(to), img(from), img(to)].every((f) => fs.existsSync(f))) return null;
  return { name: `corpus ${name}`, fromArtifact: art(from), toArtifact: art(to), fromImage: img(from), toImage: img(to) };
}

/** A corpus pair's name and its FROM and TO image names. */
export type CorpusPairName = readonly [name: string, from: string, to: string];
export const PAIR_A: CorpusPairName = ["A (minbase -> +ssh)", "A1-minbase", "A2-ssh"];
export const PAIR_B: CorpusPairName = ["B (minbase -> upgrade)", "A1-minbase", "B2-upgrade"];
export const PAIR_U: CorpusPairName = ["U (minbase -> security update)", "A1-minbase", "B2-upgrade"];
export const PAIR_U_ARM64: CorpusPairName = ["U-arm64 (arm64 minbase -> security update)", "F1-arm64-minbase", "F2-arm64-upgrade"];

export function corpusPairs(): Pair[] {
  const pairs = [PAIR_A, PAIR_B].map((p) => corpusPair(CORPUS, ...p)).filter((p): p is Pair => p !== null);
  if (pairs.length === 0) process.stdout.write(`(no corpus pairs under ${CORPUS}; test/bench/corpus/make-corpus.sh makes them)\n`);
  return pairs;
}

