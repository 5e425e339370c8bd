/**
 * Resource bounds: the device program's decoder path (`mender-binary-delta apply`, the same
 * decodeVcdiff + block source + sequential sink the Update Module uses) has the same peak RSS on a
 * 512 MiB and on a 2 GiB image: memory is one window, the section buffers and the source block
 * cache, never the image. The images are sparse files with scattered 4 KiB changes; the deltas are
 * made by stock `xdelta3 -e` (level 0, no secondary compression: the fastest encoding of 2 GiB).
 * Peak RSS is the kernel's maxrss of the process (GNU time).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { needTools } from "../helpers/peers";
import { binaryPath, HOST_TARGET, ROOT } from "../helpers/targets";
import { Rng } from "../vcdiff/helpers";
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

function measure(work: string, outDir: string, sizeMiB: number, seed: number): Measured {
  const size = sizeMiB * MiB;
  const rng = new Rng(seed);
  const oldChunks = scatteredChunks(rng, size, 64);
  const oldImage = path.join(work, `old-${sizeMiB}`);
  const newImage = path.join(work, `new-${sizeMiB}`);
  const delta = path.join(work, `delta-${sizeMiB}`);
  const target = path.join(outDir, `applied-${sizeMiB}`);
  writeSparse(oldImage, size, oldChunks);
  writeSparse(newImage, size, [...oldChunks, ...scatteredChunks(rng, size, 64)]);
  const enc = spawnSync("xdelta3", ["-e", "-0", "-S", "none", "-f", "-s", oldImage, newImage, delta], { encoding: "utf8" });
  assert.equal(enc.status, 0, `xdelta3 -e failed: ${enc.stderr}`);
  try {
    const { cmd } = deviceCommand(work);
    const t0 = Date.now();
    const r = spawnSync("/usr/bin/time", ["-f", "MAXRSS_KIB=%M", ...cmd, "apply", "--source", oldImage, "--delta", delta, "--target", target], {
      encoding: "utf8",
      timeout: 300_000,
    });
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(r.status, 0, `apply failed (${r.status}): ${r.stderr}`);
    const m = /MAXRSS_KIB=(\d+)/.exec(r.stderr);
    assert.ok(m, `no maxrss in: ${r.stderr}`);
    assert.equal(fs.statSync(target).size, size);
    assert.equal(spawnSync("cmp", ["-s", target, newImage]).status, 0, `the applied ${sizeMiB} MiB image differs from the new image`);
    return { sizeMiB, deltaBytes: fs.statSync(delta).size, peakMiB: Number(m[1]) / 1024, seconds };
  } finally {
    for (const f of [oldImage, newImage, delta, target]) fs.rmSync(f, { force: true });
  }
}

test("decoder peak RSS is the same for a 512 MiB and a 2 GiB image", (t) => {
  if (!needTools(t, "xdelta3", "/usr/bin/time", "cmp")) return;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-rss-"));
  const out = targetDir(work);
  try {
    const small = measure(work, out, 512, 512);
    const large = measure(work, out, 2048, 2048);
    const { what } = deviceCommand(work);
    for (const m of [small, large]) {
      process.stdout.write(
        `resource bounds: ${what} apply, ${m.sizeMiB} MiB image, ${m.deltaBytes}-byte delta: peak RSS ${m.peakMiB.toFixed(1)} MiB, ${m.seconds.toFixed(1)} s\n`,
      );
    }
    process.stdout.write(
      `resource bounds: 4x the image size changes peak RSS by ${(large.peakMiB - small.peakMiB).toFixed(1)} MiB (allowed ${RSS_SLACK_MIB} MiB; ceiling ${RSS_CEILING_MIB} MiB)\n`,
    );
    assert.ok(small.peakMiB < RSS_CEILING_MIB && large.peakMiB < RSS_CEILING_MIB, "peak RSS above the ceiling");
    assert.ok(large.peakMiB - small.peakMiB <= RSS_SLACK_MIB, "peak RSS grows with the image size");
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    if (out !== work) fs.rmSync(out, { recursive: true, force: true });
  }
});
