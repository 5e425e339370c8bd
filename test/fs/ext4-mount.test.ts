/**
 * The proof that volatileRanges is complete: a real ext4 image is attached to a loop device and
 * mounted read-write a few times while doing what a running system does (a log grows, files are
 * created and deleted under /var and /home, files are read and touched). Every 4 KiB block that
 * changed (each filesystem block, with 1 KiB blocks: a 4 KiB page can hold a directory block next
 * to file data) must lie inside the volatile ranges of the original image, except the data blocks
 * of the file appended in place. Needs root (loop devices, mount).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { readExt4Layout, volatileRanges } from "../../src/fs/ext4";
import { FileBlockSource } from "../../src/io/file-source";
import { needRoot, needTools } from "../helpers/peers";
import { debugfsStat, mkfs } from "./ext4-oracle";

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.error?.message}`);
  return r.stdout.trim();
}

/** sha256 of every `unit` bytes of `file`. */
function hashes(file: string, unit: number): string[] {
  const data = fs.readFileSync(file);
  const out: string[] = [];
  for (let o = 0; o < data.length; o += unit) out.push(createHash("sha256").update(data.subarray(o, o + unit)).digest("hex"));
  return out;
}

/** One boot's worth of a running system's writes; `cycle` numbers the files it creates. */
function liveSystem(mnt: string, cycle: number): void {
  const at = (p: string) => path.join(mnt, p);
  fs.appendFileSync(at("var/log/syslog"), `cycle ${cycle}: ${"service started\n".repeat(300)}`);
  for (const p of ["usr/bin/foo", "etc/bar", "home/user/notes"]) fs.readFileSync(at(p));
  fs.utimesSync(at("etc/bar"), new Date(), new Date());
  fs.chmodSync(at("etc/hostname"), 0o600);
  fs.mkdirSync(at(`var/cache/c${cycle}`), { recursive: true });
  for (let i = 0; i < 200; i++) fs.writeFileSync(at(`var/cache/c${cycle}/entry-${i}`), `${cycle}-${i}\n`.repeat(i));
  fs.writeFileSync(at(`home/user/download-${cycle}`), Buffer.alloc(3 * 1024 * 1024, cycle));
  fs.writeFileSync(at(`var/tmp/tmp-${cycle}`), "x");
  fs.renameSync(at(`var/tmp/tmp-${cycle}`), at(`var/tmp/moved-${cycle}`));
  fs.symlinkSync(`/var/cache/c${cycle}/entry-1-with-a-long-target-name-that-needs-a-block-${"y".repeat(40)}`, at(`home/user/link-${cycle}`));
  if (cycle > 0) {
    fs.rmSync(at(`var/cache/c${cycle - 1}`), { recursive: true });
    fs.rmSync(at(`home/user/download-${cycle - 1}`));
  }
}

for (const options of [["-t", "ext4", "-b", "4096"], ["-t", "ext3", "-b", "1024"]]) {
test(`a read-write mount changes nothing outside the volatile ranges but the appended log's blocks (mke2fs ${options.join(" ")})`, (t) => {
  if (!needRoot(t, "loop devices and mount")) return;
  if (!needTools(t, "mke2fs", "debugfs", "losetup", "mount", "umount")) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ext4-mount-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, "root");
  for (const d of ["etc", "usr/bin", "var/log", "var/cache", "var/tmp", "home/user"]) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.writeFileSync(path.join(root, "etc/bar"), "bar\n");
  fs.writeFileSync(path.join(root, "etc/hostname"), "device\n");
  fs.writeFileSync(path.join(root, "usr/bin/foo"), Buffer.alloc(500_000, 7));
  fs.writeFileSync(path.join(root, "home/user/notes"), "notes\n".repeat(2000));
  fs.writeFileSync(path.join(root, "var/log/syslog"), "boot\n".repeat(1001));
  const image = path.join(dir, "rootfs.img");
  mkfs(image, root, 256, options);

  const src = new FileBlockSource(image);
  const layout = readExt4Layout(src)!;
  const unit = Math.min(4096, layout.blockSize);
  const before = hashes(image, unit);
  const volatile = volatileRanges(src, layout);
  src.close();
  // The appended file's data blocks may change in place (its last block gets the new lines).
  const syslog = debugfsStat(image, ["/var/log/syslog"], dir)[0]!.data;
  const allowed = syslog.map((b): [number, number] => [b * layout.blockSize, (b + 1) * layout.blockSize]);

  const mnt = path.join(dir, "mnt");
  fs.mkdirSync(mnt);
  const loop = sh("losetup", ["--find", "--show", image]);
  let mounted = false;
  try {
    for (let cycle = 0; cycle < 4; cycle++) {
      sh("mount", ["-t", "ext4", "-o", "rw", loop, mnt]);
      mounted = true;
      liveSystem(mnt, cycle);
      sh("sync", []);
      sh("umount", [mnt]);
      mounted = false;
    }
  } finally {
    if (mounted) spawnSync("umount", [mnt]);
    spawnSync("losetup", ["-d", loop]);
  }

  const after = hashes(image, unit);
  const covering = [...volatile, ...allowed];
  const outside: number[] = [];
  let changed = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] === after[i]) continue;
    changed++;
    if (!covering.some(([s, e]) => s <= i * unit && (i + 1) * unit <= e)) outside.push((i * unit) / layout.blockSize);
  }
  assert.ok(changed > 100, `the mounts changed ${changed} blocks`);
  assert.deepEqual(outside.slice(0, 20), [], `${outside.length} changed blocks outside the volatile ranges`);
});
}
