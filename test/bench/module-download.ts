/**
 * The Update Module's Download (source hash with O_DIRECT, streaming decode into the inactive
 * partition, skip-unchanged writes, target hash, fsync, O_DIRECT read-back) next to the stock
 * pipeline without any of those checks: `xdelta3 -d -s ACTIVE DELTA INACTIVE`, as ratios.
 *   npx tsx test/bench/module-download.ts [SIZE_MIB]    (default 128; or: npm run bench -- module-download)
 * Uses $DIST (default dist)/x86_64/mender-binary-delta when built, else the bundled source. Times are wall and CPU
 * seconds (user + system) and peak RSS of one run each (best of 2); the machine is shared.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createCipheriv } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { downloadStreaming, makeFileDevice, moduleCommand, sha256File } from "../device/fixtures";

const MIB = 1 << 20;
const BLOCK = 64 * 1024;
const RUNS = 2;

function randomBytes(n: number, seed: number): Buffer {
  return createCipheriv("aes-256-ctr", Buffer.alloc(32, seed), Buffer.alloc(16)).update(Buffer.alloc(n));
}

/** An image with data and free space, and a release that moves some blocks and rewrites others. */
function makePair(dir: string, mib: number): [string, string] {
  const old = randomBytes(mib * MIB, 1);
  old.fill(0, Math.floor(old.length * 0.7));
  const neu = Buffer.from(old);
  const blocks = old.length / BLOCK;
  for (let i = 0; i < blocks * 0.7; i += 37) randomBytes(BLOCK, 2 + (i % 200)).copy(neu, i * BLOCK);
  old.copy(neu, 8 * MIB, 20 * MIB, 28 * MIB); // a moved extent
  const a = path.join(dir, "old.img");
  const b = path.join(dir, "new.img");
  fs.writeFileSync(a, old);
  fs.writeFileSync(b, neu);
  return [a, b];
}

interface Run {
  wall: number;
  cpu: number;
  rssMiB: number;
}

function parseTime(stderr: string): Run {
  const line = stderr.trim().split("\n").pop()!;
  const [e, u, s, m] = line.split(" ").map(Number);
  return { wall: e!, cpu: u! + s!, rssMiB: m! / 1024 };
}

function better(a: Run | undefined, b: Run): Run {
  return !a ? b : { wall: Math.min(a.wall, b.wall), cpu: Math.min(a.cpu, b.cpu), rssMiB: Math.min(a.rssMiB, b.rssMiB) };
}

function line(name: string, r: Run, ref?: Run): string {
  const ratio = ref
    ? `   wall x${(r.wall / ref.wall).toFixed(2)}  cpu x${(r.cpu / ref.cpu).toFixed(2)}  rss x${(r.rssMiB / ref.rssMiB).toFixed(2)}`
    : "";
  return `${name.padEnd(44)} wall ${r.wall.toFixed(2)} s  cpu ${r.cpu.toFixed(2)} s  rss ${r.rssMiB.toFixed(0)} MiB${ratio}`;
}

async function main(): Promise<void> {
  const mib = Number(process.argv[2] ?? 128);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-bench-module-"));
  try {
    const [oldImg, newImg] = makePair(dir, mib);
    const delta = path.join(dir, "new.img.delta");
    execFileSync("xdelta3", ["-e", "-S", "lzma", "-A", "-s", oldImg, newImg, delta]);
    const built = path.join(process.env.DIST ?? path.join(__dirname, "..", "..", "dist"), "x86_64", "mender-binary-delta");
    const module = fs.existsSync(built) ? [built] : moduleCommand();
    const sumNew = sha256File(newImg);
    console.log(`image ${mib} MiB, delta ${(fs.statSync(delta).size / MIB).toFixed(2)} MiB, module ${module.join(" ")}`);

    let stock: Run | undefined;
    let ours: Run | undefined;
    for (let i = 0; i < RUNS; i++) {
      const target = path.join(dir, "stock.out");
      fs.writeFileSync(target, Buffer.alloc(0));
      const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", "xdelta3", "-d", "-f", "-s", oldImg, delta, target], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`xdelta3 failed: ${r.stderr}`);
      stock = better(stock, parseTime(r.stderr));

      const dev = makeFileDevice(path.join(dir, `dev${i}`), oldImg, {
        sourceChecksum: sha256File(oldImg),
        targetChecksum: sumNew,
        metaData: { delta_algorithm: "xdelta3", rootfs_file_size: mib * MIB },
      }, mib * MIB);
      const result = await downloadStreaming(dev.tree, dev.env, { name: "new.img.delta", data: fs.readFileSync(delta) }, false, [
        "/usr/bin/time",
        "-f",
        "%e %U %S %M",
        ...module,
      ]);
      if (result.status !== 0) throw new Error(`module Download failed: ${result.stderr}`);
      if (sha256File(dev.partB, mib * MIB) !== sumNew) throw new Error("module wrote the wrong image");
      ours = better(ours, parseTime(result.stderr));
      fs.rmSync(path.join(dir, `dev${i}`), { recursive: true, force: true });
    }
    const idle = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", ...module, "SupportsRollback", dir], { encoding: "utf8" });
    console.log("ratios against the stock pipeline (no source check, no target verification):");
    console.log(line("  peer: xdelta3 -d -s ACTIVE DELTA INACTIVE", stock!));
    console.log(line("  mender-binary-delta Download", ours!, stock));
    console.log(line("  (mender-binary-delta answering a query: runtime alone)", parseTime(idle.stderr)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
