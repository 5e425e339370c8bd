/**
 * Delta updates on a device whose root filesystem is mounted read-write, with the real Mender 3.4
 * client (loop devices; the running root mounted read-write in the client's namespace).
 *
 * Release N "runs" read-write for a while: logs appended, files created and deleted under /var and
 * /home, files read (atimes), remounted several times. Its partition then differs from N's image,
 * yet the delta N -> N+1 made with `--root-mount rw` installs, B equals N+1 byte for byte, commit
 * records it. N+1 runs read-write too and the reverse delta brings N back onto A. A binary that
 * N+1 keeps, modified in place, is refused before anything is written, naming the file; a delta
 * made for a read-only root is refused on the drifted device as before.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needRoot, needTools } from "../helpers/peers";
import { generate, providesOf, rootfsArtifact } from "../generator/fixtures";
import { ClientSandbox } from "./client-sandbox";
import { makeImagePartitions, sha256Direct, sha256File } from "./fixtures";

const IMAGE_MIB = 16;
const PART_BYTES = 20 << 20;
const TOOLS = ["mender", "mender-artifact", "fw_printenv", "fw_setenv", "mke2fs", "losetup", "unshare", "mount"];

/** Deterministic bytes (a "binary"): the same seed gives the same file in every release. */
function bytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    // Mostly low-entropy, like code: runs of a few values with some noise.
    out[i] = (x & 0x0f) < 11 ? (i >> 6) & 0xff : x >>> 24;
  }
  return out;
}

/** Release `n` of a small root filesystem; N+1 patches two binaries, adds one, edits /etc. */
function makeRelease(dir: string, n: number): string {
  const tree = path.join(dir, `tree-${n}`);
  const files: Record<string, Buffer | string> = {
    "etc/os-release": `NAME=Test\nVERSION_ID=${n}\n`,
    "etc/hostname": "device\n",
    "var/log/messages": "boot 0: kernel started\n".repeat(40),
    "home/user/.profile": "export PATH=/usr/bin:/bin\n",
  };
  for (let i = 0; i < 12; i++) files[`usr/bin/tool${i}`] = bytes(100 + i, 180_000 + i * 7000);
  for (let i = 0; i < 6; i++) files[`usr/lib/lib${i}.so`] = bytes(200 + i, 300_000);
  for (let i = 0; i < 40; i++) files[`usr/share/doc/pkg${i}/README`] = `package ${i}\n`.repeat(50 + i);
  if (n === 2) {
    for (const name of ["usr/bin/tool3", "usr/lib/lib1.so"]) {
      const b = Buffer.from(files[name] as Buffer);
      for (let k = 0; k < 40; k++) b[(k * 4099) % b.length] = b[(k * 4099) % b.length]! ^ 0x5a;
      files[name] = b;
    }
    files["usr/bin/newtool"] = bytes(999, 90_000);
  }
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(tree, name)), { recursive: true });
    fs.writeFileSync(path.join(tree, name), content);
  }
  fs.mkdirSync(path.join(tree, "var", "cache"), { recursive: true });
  fs.mkdirSync(path.join(tree, "tmp"), { recursive: true });
  const image = path.join(dir, `rootfs-v${n}.ext4`);
  execFileSync("truncate", ["-s", `${IMAGE_MIB}M`, image]);
  execFileSync("mke2fs", ["-q", "-t", "ext4", "-F", "-d", tree, "-U", `11111111-2222-3333-4444-55555555555${n}`, "-E", "hash_seed=11111111-2222-3333-4444-555555555555", image], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: "1600000000" },
  });
  return image;
}

/** What a running system does to its root: logs, caches, user files, reads, remounts (each a live() call). */
const RUNNING = [
  `echo "$(date) sshd: session opened" >> "$ROOT/var/log/messages"
   head -c 300000 /dev/urandom > "$ROOT/var/cache/index.db"
   mkdir -p "$ROOT/home/user/work" && head -c 50000 /dev/urandom > "$ROOT/home/user/work/notes"
   cat "$ROOT"/usr/bin/tool* > /dev/null; cat "$ROOT"/etc/* > /dev/null`,
  `for i in 1 2 3 4 5; do echo "$(date) cron[$i]: job done" >> "$ROOT/var/log/messages"; done
   rm -f "$ROOT/var/cache/index.db"; head -c 120000 /dev/urandom > "$ROOT/var/cache/index2.db"
   touch "$ROOT/etc/hostname"; ls -lR "$ROOT/usr" > /dev/null; cat "$ROOT"/usr/lib/* > /dev/null`,
  `rm -rf "$ROOT/home/user/work"; head -c 700000 /dev/urandom > "$ROOT/tmp/upload.bin"
   echo "$(date) shutdown" >> "$ROOT/var/log/messages"`,
];

let work = "";
let sb: ClientSandbox | undefined;
let rel: { v1: string; v2: string; r1: string; r2: string; sum1: string; sum2: string; bytes: number } | undefined;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-rw-root-"));
  if (process.getuid?.() !== 0 || !TOOLS.every((t) => ["/usr/bin", "/usr/sbin", "/sbin", "/bin"].some((d) => fs.existsSync(path.join(d, t))))) return;
  const v1 = makeRelease(work, 1);
  const v2 = makeRelease(work, 2);
  rel = {
    v1, v2, sum1: sha256File(v1), sum2: sha256File(v2), bytes: fs.statSync(v1).size,
    r1: rootfsArtifact(path.join(work, "release-1.mender"), v1, "release-1"),
    r2: rootfsArtifact(path.join(work, "release-2.mender"), v2, "release-2"),
  };
  const partA = path.join(work, "partA.img");
  const partB = path.join(work, "partB.img");
  makeImagePartitions(partA, partB, v1, PART_BYTES);
  sb = new ClientSandbox(path.join(work, "sb"), [partA, partB]);
  sb.rootMode = "rw";
});

after(() => {
  sb?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function usable(t: Parameters<typeof needRoot>[0]): [ClientSandbox, NonNullable<typeof rel>] | undefined {
  if (!needRoot(t, "loop devices, mounts and mount namespaces") || !needTools(t, ...TOOLS)) return undefined;
  assert.ok(sb && rel, "sandbox and releases set up");
  return [sb, rel];
}

/** Runs the device for a while on its booted partition; returns that partition's sha256 over the image's bytes. */
function runFor(s: ClientSandbox, loop: string, bytes: number): string {
  for (const script of RUNNING) s.live(script);
  return sha256Direct(loop, bytes);
}

test("read-write root: N runs read-write, delta N->N+1 installs and commits, B = N+1; N+1 runs, the reverse delta restores N", async (t) => {
  const u = usable(t);
  if (!u) return;
  const [s, r] = u;
  s.reset();
  let res = s.mender("install", s.artifact("release-1", { type: "noop-module", provides: await providesOf(r.r1) }));
  assert.equal(res.status, 0, res.log);

  const drifted = runFor(s, s.loops[0], r.bytes);
  assert.notEqual(drifted, r.sum1, "running read-write changed partition A (else this test proves nothing)");

  const d12 = path.join(work, "delta-1-2-rw.mender");
  const summary = await generate({ output: d12, rootMount: "rw" }, r.r1, r.r2);
  assert.equal(summary.rootMount.filesystem, "ext4");
  t.diagnostic(`delta 1->2 (rw): ${summary.artifactSize} bytes; reads ${summary.rootMount.readBytes} bytes in ${summary.rootMount.readRanges} ranges, digest ${summary.rootMount.readSetBytes} bytes`);

  res = s.mender("install", d12);
  assert.equal(res.status, 0, res.log);
  assert.match(res.log, /the active partition \S+ differs from the delta's source in [1-9]\d* of \d+ 1 MiB chunks .* the \d+ ranges \(\d+ bytes\) the delta reads are all intact: installing/);
  assert.equal(sha256Direct(s.loops[1], r.bytes), r.sum2, "B holds release 2 byte for byte");
  assert.deepEqual(s.env(), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" });
  s.reboot();
  res = s.mender("commit");
  assert.equal(res.status, 0, res.log);
  assert.equal(s.provides().get("rootfs-image.checksum"), r.sum2);

  // N+1 runs read-write from B; the reverse delta (made for rw too) rebuilds N onto A.
  assert.notEqual(runFor(s, s.loops[1], r.bytes), r.sum2);
  const d21 = path.join(work, "delta-2-1-rw.mender");
  await generate({ output: d21, rootMount: "rw" }, r.r2, r.r1);
  res = s.mender("install", d21);
  assert.equal(res.status, 0, res.log);
  assert.equal(sha256Direct(s.loops[0], r.bytes), r.sum1, "A holds release 1 byte for byte");
  s.reboot();
  res = s.mender("commit");
  assert.equal(res.status, 0, res.log);
  assert.equal(s.provides().get("rootfs-image.checksum"), r.sum1);
});

test("read-write root: a binary N+1 keeps, modified in place, is refused before a byte is written, naming it; a delta for a read-only root is refused", async (t) => {
  const u = usable(t);
  if (!u) return;
  const [s, r] = u;
  // A fresh device at N: A rewritten with N's image.
  s.reset();
  const fd = fs.openSync(s.loops[0], "r+");
  fs.writeSync(fd, fs.readFileSync(r.v1), 0, r.bytes, 0);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  let res = s.mender("install", s.artifact("release-1", { type: "noop-module", provides: await providesOf(r.r1) }));
  assert.equal(res.status, 0, res.log);
  runFor(s, s.loops[0], r.bytes);
  const d12 = path.join(work, "delta-1-2-rw.mender");
  if (!fs.existsSync(d12)) await generate({ output: d12, rootMount: "rw" }, r.r1, r.r2);
  const d12ro = path.join(work, "delta-1-2-ro.mender");
  await generate({ output: d12ro, rootMount: "ro" }, r.r1, r.r2);

  const refused = (artifact: string, message: RegExp): void => {
    // (A itself changes: the client's namespace mounts it read-write, as the device runs.)
    const b = sha256Direct(s.loops[1]);
    s.bootEnv.takeSetBatches();
    const out = s.mender("install", artifact);
    assert.equal(out.status, 1, out.log);
    assert.match(out.log, message);
    assert.equal(sha256Direct(s.loops[1]), b, "not a byte written to B");
    assert.deepEqual(s.bootEnv.takeSetBatches(), [], "boot environment never written");
    assert.equal(s.env().mender_boot_part, "2");
    assert.equal(s.provides().get("rootfs-image.checksum"), r.sum1);
  };
  refused(d12ro, /carries no read set/);

  // tool7 is the same in N and N+1: the delta copies it from A. Patch it in place.
  s.live(`printf 'PATCHED' | dd of="$ROOT/usr/bin/tool7" bs=1 seek=70000 conv=notrunc status=none`);
  refused(d12, /1 of \d+ ranges the delta reads changed on the active partition .* they belong to \/usr\/bin\/tool7 \(partition bytes /);
});
