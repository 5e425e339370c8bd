/**
 * Resource bounds: the device program has the same peak RSS on a 512 MiB and on a 2 GiB image,
 * measured twice per image: running `mender-binary-delta apply` (the decoder path: decodeVcdiff +
 * block source + sequential sink), and running as the Update Module through a whole Download (the
 * source check hashing the active partition, the delta streamed through the client's FIFOs, the
 * partition writer, the read-back). Memory is one window, the section buffers, the source block
 * cache and the writer's frames, never the image. The images are sparse files with scattered
 * 4 KiB changes; the deltas are made by stock `xdelta3 -e` (level 0, no secondary compression: the
 * fastest encoding of 2 GiB). Peak RSS is the kernel's maxrss of the process (GNU time), which is
 * its VmHWM.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { needTools } from "../helpers/peers";
import { binaryPath, HOST_TARGET, ROOT } from "../helpers/targets";
import { Rng } from "../vcdiff/helpers";
import { INITIAL_BOOT_ENV, downloadStreaming, makeBootEnv, makeTree } from "../device/fixtures";
import { copyOfBuiltProgram } from "./built-binary";

const MiB = 1 << 20;
const CHUNK = 4096;
/** Generous absolute ceiling; the real check is that 4x the image does not mean more memory. */
const RSS_CEILING_MIB = 256;
/** The 2 GiB run may use at most this much more than the 512 MiB run (allocator noise). */
const RSS_SLACK_MIB = 24;

/** A sparse file of `size` bytes with random 4 KiB chunks at the given offsets. */
function writeSparse(file: string, size: number, chunks: { offset: number; data: Uint8Array }[]): void {
  const fd = fs.openSync(file, "w");
  try {
    fs.ftruncateSync(fd, size);
    for (const c of chunks) fs.writeSync(fd, c.data, 0, c.data.length, c.offset);
  } finally {
    fs.closeSync(fd);
  }
}

function scatteredChunks(rng: Rng, size: number, count: number): { offset: number; data: Uint8Array }[] {
  return Array.from({ length: count }, () => ({ offset: rng.below(size / CHUNK) * CHUNK, data: rng.bytes(CHUNK) }));
}

/** Where the new image is written: tmpfs when there is room (no disk traffic on a shared machine). */
function targetDir(fallback: string): string {
  try {
    const s = fs.statfsSync("/dev/shm");
    if (s.bavail * s.bsize > 3 * 1024 * MiB) return fs.mkdtempSync("/dev/shm/mbd-rss-");
  } catch {
    // no /dev/shm
  }
  return fallback;
}

let builtCopy: string | null | undefined;

/** The built host binary when there is one (as in `npm test`), else the source through tsx. */
function deviceCommand(work: string): { cmd: string[]; what: string } {
  if (builtCopy === undefined) builtCopy = copyOfBuiltProgram(work);
  if (builtCopy) return { cmd: [builtCopy], what: `${path.relative(ROOT, binaryPath(HOST_TARGET, "mender-binary-delta"))} (a copy)` };
  const loader = path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs");
  return { cmd: [process.execPath, "--import", `file://${loader}`, path.join(ROOT, "src", "cli", "device.ts")], what: "tsx src/cli/device.ts" };
}

interface Measured {
  sizeMiB: number;
  deltaBytes: number;
  peakMiB: number;
  seconds: number;
}

/** An old and a new sparse image of `sizeMiB` and the xdelta3 delta between them. */
interface ImagePair {
  sizeMiB: number;
  oldImage: string;
  newImage: string;
  delta: string;
}

function makePair(work: string, sizeMiB: number, seed: number): ImagePair {
  const size = sizeMiB * MiB;
  const rng = new Rng(seed);
  const oldChunks = scatteredChunks(rng, size, 64);
  const pair = { sizeMiB, oldImage: path.join(work, `old-${sizeMiB}`), newImage: path.join(work, `new-${sizeMiB}`), delta: path.join(work, `delta-${sizeMiB}`) };
  writeSparse(pair.oldImage, size, oldChunks);
  writeSparse(pair.newImage, size, [...oldChunks, ...scatteredChunks(rng, size, 64)]);
  const enc = spawnSync("xdelta3", ["-e", "-0", "-S", "none", "-f", "-s", pair.oldImage, pair.newImage, pair.delta], { encoding: "utf8" });
  assert.equal(enc.status, 0, `xdelta3 -e failed: ${enc.stderr}`);
  return pair;
}

function maxrssMiB(stderr: string): number {
  const m = /MAXRSS_KIB=(\d+)/.exec(stderr);
  assert.ok(m, `no maxrss in: ${stderr}`);
  return Number(m[1]) / 1024;
}

function sha256OfFile(file: string): string {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(4 * MiB);
  const fd = fs.openSync(file, "r");
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

function measureApply(work: string, outDir: string, pair: ImagePair): Measured {
  const target = path.join(outDir, `applied-${pair.sizeMiB}`);
  try {
    const { cmd } = deviceCommand(work);
    const t0 = Date.now();
    const r = spawnSync("/usr/bin/time", ["-f", "MAXRSS_KIB=%M", ...cmd, "apply", "--source", pair.oldImage, "--delta", pair.delta, "--target", target], {
      encoding: "utf8",
      timeout: 300_000,
    });
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(r.status, 0, `apply failed (${r.status}): ${r.stderr}`);
    assert.equal(fs.statSync(target).size, pair.sizeMiB * MiB);
    assert.equal(spawnSync("cmp", ["-s", target, pair.newImage]).status, 0, `the applied ${pair.sizeMiB} MiB image differs from the new image`);
    return { sizeMiB: pair.sizeMiB, deltaBytes: fs.statSync(pair.delta).size, peakMiB: maxrssMiB(r.stderr), seconds };
  } finally {
    fs.rmSync(target, { force: true });
  }
}

/**
 * The Update Module's Download on a simulated device: partition A holds the old image, B (on
 * tmpfs when there is room) is empty, the delta arrives through stream-next and a FIFO as the
 * client sends it. The module checks A against the old image's sha256 and verifies B against the
 * new image's (both computed here), so exit 0 means B holds the new image.
 */
async function measureDownload(work: string, outDir: string, pair: ImagePair): Promise<Measured> {
  const device = path.join(work, `device-${pair.sizeMiB}`);
  const targetDir = path.join(outDir, `device-${pair.sizeMiB}`);
  try {
    fs.mkdirSync(targetDir, { recursive: true });
    const partA = path.join(device, "mmcblk0p2");
    const partB = path.join(targetDir, "mmcblk0p3");
    fs.mkdirSync(device, { recursive: true });
    fs.linkSync(pair.oldImage, partA);
    fs.writeFileSync(partB, "");
    fs.truncateSync(partB, pair.sizeMiB * MiB);
    const conf = path.join(device, "mender-binary-delta.conf");
    fs.writeFileSync(conf, JSON.stringify({ RootfsPartA: partA, RootfsPartB: partB }));
    const bootEnv = makeBootEnv(path.join(device, "env"), INITIAL_BOOT_ENV);
    const tree = path.join(device, "tree");
    makeTree(tree, {
      sourceChecksum: sha256OfFile(pair.oldImage),
      targetChecksum: sha256OfFile(pair.newImage),
      metaData: { delta_algorithm: "xdelta3", rootfs_file_size: pair.sizeMiB * MiB },
    });
    const env = { ...process.env, PATH: `${bootEnv.binDir}:${process.env.PATH}`, MENDER_BINARY_DELTA_CONF: conf, MENDER_BINARY_DELTA_TEST_ROOT: partA };
    const { cmd } = deviceCommand(work);
    const t0 = Date.now();
    const r = await downloadStreaming(tree, env, { name: "rootfs.delta", data: fs.readFileSync(pair.delta) }, false, ["/usr/bin/time", "-f", "MAXRSS_KIB=%M", ...cmd]);
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(r.status, 0, `Download failed (${r.status}): ${r.stderr}`);
    assert.match(r.stderr, /new image verified/);
    return { sizeMiB: pair.sizeMiB, deltaBytes: fs.statSync(pair.delta).size, peakMiB: maxrssMiB(r.stderr), seconds };
  } finally {
    fs.rmSync(device, { recursive: true, force: true });
    fs.rmSync(targetDir, { recursive: true, force: true });
  }
}

/** Both measurements must stay under the ceiling, and 4x the image may not mean more memory. */
function report(what: string, small: Measured, large: Measured): void {
  for (const m of [small, large]) {
    process.stdout.write(
      `resource bounds: ${what}, ${m.sizeMiB} MiB image, ${m.deltaBytes}-byte delta: peak RSS ${m.peakMiB.toFixed(1)} MiB, ${m.seconds.toFixed(1)} s\n`,
    );
  }
  process.stdout.write(
    `resource bounds: ${what}: 4x the image size changes peak RSS by ${(large.peakMiB - small.peakMiB).toFixed(1)} MiB (allowed ${RSS_SLACK_MIB} MiB; ceiling ${RSS_CEILING_MIB} MiB)\n`,
  );
}

function checkBounds(what: string, small: Measured, large: Measured): void {
  assert.ok(small.peakMiB < RSS_CEILING_MIB && large.peakMiB < RSS_CEILING_MIB, `${what}: peak RSS above the ceiling`);
  assert.ok(large.peakMiB - small.peakMiB <= RSS_SLACK_MIB, `${what}: peak RSS grows with the image size`);
}

test("peak RSS is the same for a 512 MiB and a 2 GiB image (apply, and a whole Download as the Update Module)", async (t) => {
  if (!needTools(t, "xdelta3", "/usr/bin/time", "cmp", "fw_printenv", "fw_setenv")) return;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-rss-"));
  const out = targetDir(work);
  try {
    const apply: Measured[] = [];
    const download: Measured[] = [];
    for (const [sizeMiB, seed] of [
      [512, 512],
      [2048, 2048],
    ] as const) {
      const pair = makePair(work, sizeMiB, seed);
      try {
        apply.push(measureApply(work, out, pair));
        download.push(await measureDownload(work, out, pair));
      } finally {
        for (const f of [pair.oldImage, pair.newImage, pair.delta]) fs.rmSync(f, { force: true });
      }
    }
    const { what } = deviceCommand(work);
    report(`${what} apply`, apply[0]!, apply[1]!);
    report(`${what} Download (Update Module)`, download[0]!, download[1]!);
    checkBounds("apply", apply[0]!, apply[1]!);
    checkBounds("Download", download[0]!, download[1]!);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    if (out !== work) fs.rmSync(out, { recursive: true, force: true });
  }
});
