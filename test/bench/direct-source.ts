/**
 * The device's O_DIRECT source against buffered reads of the same file, as ratios (issue 10: the
 * active partition is read with O_DIRECT; that must not cost more than buffered reads).
 *   npx tsx test/bench/direct-source.ts [SIZE_MIB]     (default 64; or: npm run bench -- direct-source)
 *
 * On a generated image pair (SIZE MiB, 64 KiB blocks of pseudo-random data, the new release with
 * blocks moved around so copies read the source out of order, plus rewritten blocks):
 *   hash    sha256 of the whole image: our O_DIRECT reader (1 MiB blocks) vs a buffered read vs `sha256sum`
 *   decode  our decoder on an `xdelta3 -e -S lzma -A` delta with the O_DIRECT source vs the buffered
 *           FileBlockSource (the same block size), and `xdelta3 -d` as the peer
 * Times: wall seconds and CPU seconds (user + system), best of 3. Buffered reads run from a warm page
 * cache after the first run, O_DIRECT reads always go to the disk, so wall time favours buffered.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { hashDevicePrefix } from "../../src/device/source-check";
import { openDirectSource } from "../../src/io/direct-source";
import { FileBlockSource } from "../../src/io/file-source";
import type { BlockSource, TargetSink } from "../../src/io/interfaces";
import { decodeVcdiff } from "../../src/vcdiff/decoder/decode";

const MIB = 1 << 20;
const BLOCK = 64 * 1024;
const RUNS = 3;

function randomBytes(n: number, seed: number): Buffer {
  const key = Buffer.alloc(32, seed);
  return createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

function makePair(dir: string, mib: number): [string, string] {
  const blocks = (mib * MIB) / BLOCK;
  const old = randomBytes(mib * MIB, 1);
  old.fill(0, Math.floor(old.length * 0.8)); // free space
  const neu = Buffer.alloc(old.length);
  // New release: blocks shifted by a rotating stride (out-of-order copies), every 16th block rewritten.
  for (let i = 0; i < blocks; i++) {
    const from = (i * 7) % blocks;
    old.copy(neu, i * BLOCK, from * BLOCK, from * BLOCK + BLOCK);
    if (i % 16 === 0) randomBytes(BLOCK, 2 + (i % 200)).copy(neu, i * BLOCK);
  }
  const a = path.join(dir, "old.img");
  const b = path.join(dir, "new.img");
  fs.writeFileSync(a, old);
  fs.writeFileSync(b, neu);
  return [a, b];
}

interface Timing {
  wall: number;
  cpu: number;
}

async function best(fn: () => Promise<void> | void): Promise<Timing> {
  let result: Timing = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await fn();
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    result = { wall: Math.min(result.wall, wall), cpu: Math.min(result.cpu, cpu) };
  }
  return result;
}

function peer(cmd: string, args: string[]): Timing {
  let result: Timing = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < RUNS; i++) {
    const out = spawnSync("/usr/bin/time", ["-f", "%e %U %S", cmd, ...args], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
    const [e, u, s] = out.stderr.trim().split("\n").pop()!.split(" ").map(Number);
    result = { wall: Math.min(result.wall, e!), cpu: Math.min(result.cpu, u! + s!) };
  }
  return result;
}

function bufferedHash(file: string): void {
  const src = new FileBlockSource(file, { blockSize: MIB });
  const h = createHash("sha256");
  const block = src.allocateBlock();
  for (let i = 0; i * MIB < src.size; i++) h.update(block.subarray(0, src.readBlock(i, block)));
  src.close();
  h.digest();
}

const nullSink: TargetSink = { write() {}, finish() {} };

/** A decode from `source`, whose block size is the decoder's longest read. */
async function decodeWith(source: BlockSource, delta: string): Promise<void> {
  await decodeVcdiff(fs.createReadStream(delta) as AsyncIterable<Uint8Array>, source, nullSink);
  source.close();
}

/** Drops this one file from the page cache (GNU dd iflag=nocache), so a buffered read goes to the disk. */
function dropCache(file: string): void {
  execFileSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
}

function line(name: string, t: Timing, ref?: Timing): string {
  const ratio = ref ? `   wall x${(t.wall / ref.wall).toFixed(2)}  cpu x${(t.cpu / ref.cpu).toFixed(2)}` : "";
  return `${name.padEnd(34)} wall ${t.wall.toFixed(3)} s  cpu ${t.cpu.toFixed(3)} s${ratio}`;
}

async function main(): Promise<void> {
  const mib = Number(process.argv[2] ?? 64);
  // Not tmpfs: O_DIRECT must reach a real block device for the comparison to mean anything.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-bench-direct-"));
  try {
    const [oldImg, newImg] = makePair(dir, mib);
    const delta = path.join(dir, "new.delta");
    execFileSync("xdelta3", ["-e", "-S", "lzma", "-A", "-s", oldImg, newImg, delta]);
    const probe = openDirectSource(oldImg);
    const direct = probe.isDirect;
    probe.close();
    console.log(`image ${mib} MiB, delta ${(fs.statSync(delta).size / MIB).toFixed(2)} MiB, O_DIRECT ${direct ? "in use" : "REFUSED by this filesystem (fallback measured)"}`);

    const hb = await best(() => bufferedHash(oldImg));
    const hd = await best(async () => void (await hashDevicePrefix(oldImg, mib * MIB)));
    const hp = peer("sha256sum", [oldImg]);
    console.log("hash (ratios against buffered):");
    console.log(line("  buffered (FileBlockSource 1 MiB)", hb));
    console.log(line("  O_DIRECT (hashDevicePrefix)", hd, hb));
    console.log(line("  peer: sha256sum", hp, hb));

    const db = await best(() => decodeWith(new FileBlockSource(oldImg, { blockSize: BLOCK }), delta));
    const dc = await best(() => {
      dropCache(oldImg);
      return decodeWith(new FileBlockSource(oldImg, { blockSize: BLOCK }), delta);
    });
    const dp = peer("xdelta3", ["-d", "-f", "-s", oldImg, delta, "/dev/null"]);
    console.log("decode (ratios against the buffered source, cold page cache: what a device sees after boot):");
    console.log(line("  buffered source, cold cache", dc));
    console.log(line("  buffered source, warm cache", db, dc));
    for (const bs of [64 * 1024, 256 * 1024, MIB]) {
      const dd = await best(() => decodeWith(openDirectSource(oldImg, { blockSize: bs }), delta));
      console.log(line(`  O_DIRECT source, ${bs / 1024} KiB blocks`, dd, dc));
    }
    console.log(line("  peer: xdelta3 -d (warm cache)", dp, dc));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
