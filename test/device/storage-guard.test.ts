/**
 * The storage guard on real kernel objects: a disk image with a partition table made by sfdisk on a
 * partitioned loop device, loop devices stacked on it, another device node for the same numbers,
 * real mounts, hard links and bind mounts of image files. Every refusal leaves the bytes as they were.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needRoot, needTools } from "../helpers/peers";
import { openGuardedTarget, type ProtectedStorage } from "../../src/device/storage-guard";
import { MenderDeltaError } from "../../src/errors";
import { devMajor, devMinor } from "../../src/io/device-numbers";
import { ROOT, sha256Direct, sha256File } from "./fixtures";

const MiB = 1 << 20;
const SECTOR = 512;
/** Three 8 MiB partitions: p1 at 1 MiB, p2 at 9 MiB, p3 at 17 MiB of a 32 MiB disk. */
const PARTS = [2048, 18432, 34816];
const PART_SECTORS = 16384;
const ADVICE = "Fix the test.";

let work: string;
let disk: string | undefined;
const loops: string[] = [];
const mounts: string[] = [];

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8" }).trim();
}

function attach(...args: string[]): string {
  const dev = sh("losetup", ["-f", "--show", ...args]);
  loops.push(dev);
  return dev;
}

function mount(...args: string[]): string {
  const dir = fs.mkdtempSync(path.join(work, "mnt-"));
  execFileSync("mount", [...args, dir]);
  mounts.push(dir);
  return dir;
}

function unmount(dir: string): void {
  execFileSync("umount", [dir]);
  mounts.splice(mounts.indexOf(dir), 1);
}

function part(n: number): string {
  return `${disk}p${n}`;
}

/** The partitions appear once the kernel or, where it parses no partition tables, partx adds them. */
function waitForPartitions(dev: string): void {
  if (!fs.existsSync(`/sys/class/block/${path.basename(dev)}/${path.basename(dev)}p1`)) execFileSync("partx", ["-a", dev]);
  for (let i = 0; i < 200 && !PARTS.every((_, k) => fs.existsSync(`${dev}p${k + 1}`)); i++) spawnSync("sleep", ["0.01"]);
  assert.ok(PARTS.every((_, k) => fs.existsSync(`${dev}p${k + 1}`)), `partition nodes of ${dev}`);
}

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-guard-"));
  if (process.getuid?.() !== 0 || spawnSync("sh", ["-c", "command -v sfdisk && command -v partx && command -v mke2fs"]).status !== 0) return;
  const image = path.join(work, "disk.img");
  const data = Buffer.alloc(32 * MiB);
  for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i / 4096 + 1, i);
  fs.writeFileSync(image, data);
  execFileSync("sfdisk", ["-q", image], { input: `label: dos\n${PARTS.map((s) => `${s},${PART_SECTORS},83`).join("\n")}\n` });
  disk = attach("-P", image);
  waitForPartitions(disk);
});

after(() => {
  for (const m of mounts.reverse()) spawnSync("umount", [m]);
  if (disk) spawnSync("partx", ["-d", disk]);
  for (const l of loops.reverse()) spawnSync("losetup", ["-d", l]);
  fs.rmSync(work, { recursive: true, force: true });
});

function ready(t: import("node:test").TestContext): boolean {
  if (!needRoot(t, "loop devices and mounts") || !needTools(t, "sfdisk", "partx", "losetup", "mount", "mke2fs")) return false;
  assert.ok(disk, "partitioned loop device set up");
  return true;
}

/** Expects openGuardedTarget to refuse with `message`, without a byte of `target` changed. */
function refused(target: string, protect: ProtectedStorage[], message: RegExp): string {
  const before = sha256Direct(target);
  let error: unknown;
  try {
    fs.closeSync(openGuardedTarget(target, { protect, advice: ADVICE }).fd);
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof MenderDeltaError, `refused: ${String(error)}`);
  assert.match(error.message, message);
  assert.match(error.message, /nothing was written\. Fix the test\.$/);
  assert.ok(!error.message.includes("\n"), "one line");
  if (process.env.MBD_GUARD_DEBUG) process.stderr.write(`${error.message}\n`);
  assert.equal(sha256Direct(target), before, "target unchanged");
  return error.message;
}

const active = (): ProtectedStorage[] => [{ path: part(2), what: "the active partition" }];

test("guard: the whole disk, another node, a stacked loop device, an overlapping range: refused by what sysfs says (no mount, no kernel claim)", (t) => {
  if (!ready(t)) return;
  const p2Start = PARTS[1]! * SECTOR;
  const p2End = p2Start + PART_SECTORS * SECTOR;
  // The kernel's exclusive claim does not see any of these: nothing is mounted.
  const fd = fs.openSync(disk!, fs.constants.O_RDWR | fs.constants.O_EXCL);
  fs.closeSync(fd);

  let m = refused(disk!, active(), /^refusing to write \/dev\/loop\d+: it contains the active partition /);
  assert.match(m, new RegExp(`bytes 0-${32 * MiB - 1} to be written, ${p2Start}-${p2End - 1} in use`));

  const st = fs.statSync(part(2));
  const node = path.join(work, "other-node");
  execFileSync("mknod", [node, "b", String(devMajor(st.rdev)), String(devMinor(st.rdev))]);
  refused(node, active(), /it is the same storage as the active partition/);

  refused(attach(part(2)), active(), /it is the same storage as the active partition/);
  refused(attach("-o", String(p2Start + MiB), "--sizelimit", String(2 * MiB), path.join(work, "disk.img")), active(), /it lies inside the active partition/);
  m = refused(attach("-o", String(p2End - MiB), "--sizelimit", String(4 * MiB), path.join(work, "disk.img")), active(), /it overlaps the active partition/);
  assert.match(m, new RegExp(`bytes ${p2End - MiB}-${p2End + 3 * MiB - 1} to be written, ${p2Start}-${p2End - 1} in use`));
  // The whole disk from a stacked loop device's point of view: the active partition is on it too.
  refused(attach(disk!), active(), /it contains the active partition/);

  // A partition of its own is opened exclusively, and written through that descriptor.
  const g = openGuardedTarget(part(3), { protect: active(), advice: ADVICE });
  try {
    assert.equal(g.size, PART_SECTORS * SECTOR);
    assert.throws(() => fs.openSync(part(3), fs.constants.O_RDWR | fs.constants.O_EXCL), /EBUSY/, "the guard holds the kernel's claim");
    fs.writeSync(g.fd, Buffer.from("new image"), 0, 9, 0);
    fs.fsyncSync(g.fd);
  } finally {
    fs.closeSync(g.fd);
  }
  const readBack = execFileSync("dd", [`if=${part(3)}`, "bs=4096", "count=1", "iflag=direct", "status=none"]);
  assert.equal(readBack.subarray(0, 9).toString(), "new image");
});

test("guard: apply --target on a block device: the whole disk holding --source is refused (exit 1, one line, disk unchanged); a free partition is written", (t) => {
  if (!ready(t) || !needTools(t, "xdelta3")) return;
  const delta = path.join(work, "x.delta");
  const src = path.join(work, "src.img");
  const dst = path.join(work, "dst.img");
  fs.writeFileSync(src, Buffer.alloc(MiB, 1));
  fs.writeFileSync(dst, Buffer.alloc(MiB, 2));
  execFileSync("xdelta3", ["-e", "-f", "-s", src, dst, delta]);
  const before = sha256Direct(disk!);
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/device.ts", "apply", "--source", part(2), "--delta", delta, "--target", disk!], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^mender-binary-delta: error: refusing to write \/dev\/loop\d+: it contains the --source \/dev\/loop\d+p2 \(.*\); nothing was written\. Give a --target that nothing else uses\.\n$/);
  assert.equal(sha256Direct(disk!), before);
  // A partition nothing uses is written in place, through the guard's exclusive descriptor.
  const ok = spawnSync(process.execPath, ["--import", "tsx", "src/cli/device.ts", "apply", "--source", src, "--delta", delta, "--target", part(3)], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(sha256Direct(part(3), MiB), sha256File(dst));
});

test("guard: storage in use: the kernel's EBUSY for a mounted partition or its disk, mountinfo and /proc/swaps for a loop device over the same bytes", (t) => {
  if (!ready(t) || !needTools(t, "mkswap", "swapon", "swapoff")) return;
  execFileSync("mke2fs", ["-q", "-t", "ext4", "-F", part(3)]);
  // A loop device over the same bytes of the image file is mounted: the kernel claims the loop
  // device, not p3, so the exclusive open succeeds and only the mount table shows it.
  const p3Start = PARTS[2]! * SECTOR;
  const overP3 = attach("-o", String(p3Start), "--sizelimit", String(PART_SECTORS * SECTOR), path.join(work, "disk.img"));
  const dir2 = mount("-o", "ro", overP3);
  try {
    refused(part(3), [], new RegExp(`it is the same storage as ${overP3} mounted on ${dir2}`));
    refused(disk!, [], new RegExp(`it contains ${overP3} mounted on ${dir2}`));
    refused(path.join(work, "disk.img"), [], new RegExp(`it contains ${overP3} mounted on ${dir2}`));
    fs.closeSync(openGuardedTarget(part(1), { protect: [], advice: ADVICE }).fd);
  } finally {
    unmount(dir2);
  }
  // A loop device over p1's bytes as a swap area (8 MiB, for a moment): /proc/swaps names it.
  const swap = attach("-o", String(PARTS[0]! * SECTOR), "--sizelimit", String(PART_SECTORS * SECTOR), path.join(work, "disk.img"));
  execFileSync("mkswap", ["-q", swap]);
  execFileSync("swapon", [swap]);
  try {
    refused(part(1), [], new RegExp(`it is the same storage as the swap area ${swap}`));
    refused(swap, [], /the kernel reports it in use/);
  } finally {
    execFileSync("swapoff", [swap]);
  }
  // Last: a mount of p3 may live on in another process's copy of the mount namespace for a while.
  const dir = mount("-o", "ro", part(3));
  try {
    refused(part(3), [], /the kernel reports it in use \(an exclusive open failed with EBUSY/);
    refused(disk!, [], /the kernel reports it in use/);
  } finally {
    unmount(dir);
  }
});

test("guard: image files: a hard link, a bind mount, a loop device over the file are the same storage; another file is not", (t) => {
  if (!ready(t)) return;
  const a = path.join(work, "partA.img");
  fs.writeFileSync(a, Buffer.alloc(2 * MiB, 0xa5));
  const sum = sha256File(a);
  const link = path.join(work, "partB-link.img");
  fs.linkSync(a, link);
  const protect = [{ path: a, what: "the active partition" }];
  refused(link, protect, /it is the same storage as the active partition \(on .*partB-link\.img: bytes 0-2097151 to be written, 0-2097151 in use\)/);
  const bound = path.join(work, "partB-bind.img");
  fs.writeFileSync(bound, "");
  execFileSync("mount", ["--bind", a, bound]);
  mounts.push(bound);
  try {
    refused(bound, protect, /it is the same storage as the active partition/);
  } finally {
    unmount(bound);
  }
  refused(attach(a), protect, /it is the same storage as the active partition/);
  // The other way round: the active partition is a loop device, the target its backing file.
  refused(a, [{ path: loops[loops.length - 1]!, what: "the active partition" }], /it is the same storage as the active partition/);
  assert.equal(sha256File(a), sum);

  const other = path.join(work, "partB.img");
  fs.writeFileSync(other, Buffer.alloc(2 * MiB));
  const g = openGuardedTarget(other, { protect, advice: ADVICE });
  fs.closeSync(g.fd);
  assert.equal(g.size, 2 * MiB);
});
