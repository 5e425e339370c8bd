/**
 * The module driven by the real Mender 3.4 client (standalone install/commit/rollback), with loop
 * devices as partitions, the running one mounted read-only (ext4 with a journal: buffered reads of
 * it differ from the image), and a file-backed U-Boot environment.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needRoot, needTools } from "../helpers/peers";
import { execFileSync, spawnSync } from "node:child_process";
import { ClientSandbox, DEVICE_TYPE } from "./client-sandbox";
import { MULTI_LINE_SCRIPT, ROOT, addAwkwardVariables, makeDelta, makeExt4, makeImagePartitions, moduleCommand, sha256Direct, sha256File } from "./fixtures";

const PART_BYTES = 6 << 20;
let work: string;
let sb: ClientSandbox | undefined;
let sum1: string;
let sum2: string;
let imageBytes: number;
let delta12: string;
let delta21: string;
let ready = false;

const TOOLS = ["mender", "mender-artifact", "fw_printenv", "fw_setenv", "xdelta3", "mke2fs", "losetup", "unshare", "mount"];
const CLEARS = ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"];

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-client-"));
  if (process.getuid?.() !== 0) return;
  const v1 = path.join(work, "v1.ext4");
  const v2 = path.join(work, "v2.ext4");
  makeExt4(v1, 1);
  makeExt4(v2, 2);
  fs.mkdirSync(path.join(work, "d12"));
  fs.mkdirSync(path.join(work, "d21"));
  // Payload names as Mender's tooling makes them: <target image>.delta
  delta12 = path.join(work, "d12", "v2.ext4.delta");
  delta21 = path.join(work, "d21", "v1.ext4.delta");
  makeDelta(v1, v2, delta12);
  makeDelta(v2, v1, delta21);
  sum1 = sha256File(v1);
  sum2 = sha256File(v2);
  imageBytes = fs.statSync(v1).size;
  const partA = path.join(work, "partA.img");
  const partB = path.join(work, "partB.img");
  makeImagePartitions(partA, partB, v1, PART_BYTES);
  sb = new ClientSandbox(path.join(work, "sb"), [partA, partB]);
  ready = true;
});

after(() => {
  sb?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function usable(t: import("node:test").TestContext): ClientSandbox | undefined {
  if (!needRoot(t, "loop devices, mounts and mount namespaces") || !needTools(t, ...TOOLS)) return undefined;
  assert.ok(ready && sb, "sandbox set up");
  return sb;
}

function meta(): object {
  return { delta_algorithm: "xdelta3", rootfs_file_size: imageBytes };
}

function seed(s: ClientSandbox, sum: string, version: string): void {
  const seedArt = s.artifact(`seed-${version}`, {
    type: "noop-module",
    provides: [`rootfs-image.checksum:${sum}`, `rootfs-image.version:${version}`],
  });
  const r = s.mender("install", seedArt);
  assert.equal(r.status, 0, r.log);
}

function deltaArtifact(s: ClientSandbox, name: string, file: string, from: string, to: string, extra: { deviceType?: string } = {}): string {
  return s.artifact(name, {
    file,
    depends: [`rootfs-image.checksum:${from}`],
    provides: [`rootfs-image.checksum:${to}`, `rootfs-image.version:${name}`],
    clears: CLEARS,
    meta: meta(),
    ...extra,
  });
}

const INITIAL_ENV = { mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0", bootcount: "0" };

/** `mender install`, which must succeed and leave the environment booting partition `n` with the update pending. */
function installSwitchingTo(s: ClientSandbox, artifact: string, n: 2 | 3): void {
  const r = s.mender("install", artifact);
  assert.equal(r.status, 0, r.log);
  assert.deepEqual(s.env(), { mender_boot_part: String(n), mender_boot_part_hex: String(n), upgrade_available: "1", bootcount: "0" });
}

test("real client: install -> env switched, commit -> provides; delta back to v1; rollback restores env", (t) => {
  const s = usable(t);
  if (!s) return;
  s.reset();
  seed(s, sum1, "release-1");
  assert.equal(s.provides().get("rootfs-image.checksum"), sum1);

  const art12 = deltaArtifact(s, "release-2", delta12, sum1, sum2);
  let r = s.mender("install", art12);
  assert.equal(r.status, 0, r.log);
  assert.deepEqual(s.bootEnv.takeSetBatches(), ["-s -: mender_boot_part=3;mender_boot_part_hex=3;upgrade_available=1;bootcount=0"]);
  assert.deepEqual(s.env(), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" });
  assert.equal(sha256Direct(s.loops[1], imageBytes), sum2, "inactive partition holds the new image");
  assert.match(r.log, /active partition matches the delta's source/);

  s.reboot();
  r = s.mender("commit");
  assert.equal(r.status, 0, r.log);
  assert.equal(s.env().upgrade_available, "0");
  let p = s.provides();
  assert.equal(p.get("rootfs-image.checksum"), sum2);
  assert.equal(p.get("rootfs-image.version"), "release-2");
  assert.equal(p.get("artifact_name"), "release-2");

  // And back: v2 (now running from B, mounted read-only) -> v1 onto A.
  installSwitchingTo(s, deltaArtifact(s, "release-1b", delta21, sum2, sum1), 2);
  s.reboot();
  r = s.mender("commit");
  assert.equal(r.status, 0, r.log);
  p = s.provides();
  assert.equal(p.get("rootfs-image.checksum"), sum1);
  assert.equal(sha256Direct(s.loops[0], imageBytes), sum1);

  // Install, then roll back before rebooting: env restored, provides unchanged.
  r = s.mender("install", art12);
  assert.equal(r.status, 0, r.log);
  s.bootEnv.takeSetBatches();
  r = s.mender("rollback");
  assert.equal(r.status, 0, r.log);
  assert.deepEqual(s.bootEnv.takeSetBatches(), ["-s -: mender_boot_part=2;mender_boot_part_hex=2;upgrade_available=0"]);
  assert.deepEqual({ ...s.env(), bootcount: "0" }, INITIAL_ENV);
  assert.equal(s.provides().get("rootfs-image.checksum"), sum1);
});

test("real client: a U-Boot environment with a multi-line script, '=' in a value, an empty value, nearly full -> install+commit, install+rollback", (t) => {
  const s = usable(t);
  if (!s) return;
  s.reset();
  const extra = addAwkwardVariables(s.bootEnv);
  assert.equal(extra.get("mender_bootscript"), MULTI_LINE_SCRIPT);
  const kept = (when: string) => {
    const now = s.bootEnv.read();
    for (const [k, v] of extra) assert.equal(now.get(k), v, `${k} kept after ${when}`);
  };
  seed(s, sum1, "release-1");

  installSwitchingTo(s, deltaArtifact(s, "release-2", delta12, sum1, sum2), 3);
  assert.equal(sha256Direct(s.loops[1], imageBytes), sum2);
  kept("install");
  s.reboot();
  let r = s.mender("commit");
  assert.equal(r.status, 0, r.log);
  assert.equal(s.env().upgrade_available, "0");
  assert.equal(s.provides().get("rootfs-image.checksum"), sum2);
  kept("commit");

  // v2 (running from B) -> v1 onto A, then rolled back after the reboot into A.
  installSwitchingTo(s, deltaArtifact(s, "release-1b", delta21, sum2, sum1), 2);
  s.reboot();
  r = s.mender("rollback");
  assert.equal(r.status, 0, r.log);
  assert.deepEqual({ ...s.env(), bootcount: "0" }, { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "0", bootcount: "0" });
  assert.equal(s.provides().get("rootfs-image.checksum"), sum2, "the rolled-back release is not recorded");
  kept("rollback");
});

function expectRefused(s: ClientSandbox, artifact: string, message: RegExp): void {
  const activeBefore = sha256Direct(s.loops[0]);
  const r = s.mender("install", artifact);
  assert.equal(r.status, 1, r.log);
  assert.match(r.log, message);
  assert.deepEqual(s.env(), INITIAL_ENV, "boot environment unchanged");
  assert.deepEqual(s.bootEnv.takeSetBatches(), [], "fw_setenv never called");
  assert.equal(sha256Direct(s.loops[0]), activeBefore, "active partition unchanged");
  assert.equal(s.provides().get("rootfs-image.checksum"), sum1);
}

test("real client: wrong source, corrupted delta, truncated delta, other device type -> refused, device unchanged", (t) => {
  const s = usable(t);
  if (!s) return;
  s.reset();
  seed(s, sum1, "release-1");

  const bad = fs.readFileSync(delta12);
  for (let i = 300; i < bad.length; i += 61) bad[i]! ^= 0x55;
  fs.mkdirSync(path.join(work, "corrupt"), { recursive: true });
  const corrupt = path.join(work, "corrupt", "v2.ext4.delta");
  fs.writeFileSync(corrupt, bad);
  expectRefused(s, deltaArtifact(s, "corrupt", corrupt, sum1, sum2), /applying v2\.ext4\.delta failed/);

  fs.mkdirSync(path.join(work, "short"), { recursive: true });
  const short = path.join(work, "short", "v2.ext4.delta");
  fs.writeFileSync(short, fs.readFileSync(delta12).subarray(0, Math.floor(fs.statSync(delta12).size * 0.6)));
  expectRefused(s, deltaArtifact(s, "short", short, sum1, sum2), /applying v2\.ext4\.delta failed/);

  expectRefused(s, deltaArtifact(s, "otherdev", delta12, sum1, sum2, { deviceType: "other-device" }), /other-device/);

  // U-Boot could not save its environment at boot (canary unset): nothing may be written.
  s.bootEnv.set({ mender_check_saveenv_canary: "1" });
  expectRefused(s, deltaArtifact(s, "release-2", delta12, sum1, sum2), /mender_saveenv_canary check/);
  s.bootEnv.set({ mender_check_saveenv_canary: "0" });

  // One byte of the running partition changed (in the image's free space), behind the mount's back.
  const offset = imageBytes - 4096 * 3;
  const fd = fs.openSync(s.loops[0], "r+");
  const saved = Buffer.alloc(1);
  fs.readSync(fd, saved, 0, 1, offset);
  try {
    fs.writeSync(fd, Buffer.from([saved[0]! ^ 0xff]), 0, 1, offset);
    fs.fsyncSync(fd);
    const before = sha256Direct(s.loops[1]);
    expectRefused(s, deltaArtifact(s, "release-2", delta12, sum1, sum2), /not the image this delta was made from.*read-only/);
    assert.equal(sha256Direct(s.loops[1]), before, "nothing written to the inactive partition either");
  } finally {
    fs.writeSync(fd, saved, 0, 1, offset);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
});

test("real client: module SIGKILLed during Download -> install fails cleanly, the retry succeeds", (t) => {
  const s = usable(t);
  if (!s) return;
  const killLog = path.join(work, "kills.log");
  fs.rmSync(killLog, { force: true });
  const real = `${moduleCommand().map((c) => `'${c}'`).join(" ")} "$@"`;
  try {
    // Kill points: while hashing the source, while decoding into the target, while verifying it.
    for (const point of ["checking the active partition", "applying ", "wrote [0-9]* bytes"]) {
      s.reset();
      seed(s, sum1, "release-1");
      const marker = path.join(work, "kill-at");
      const stderr = path.join(work, "module.stderr");
      fs.writeFileSync(marker, point);
      fs.writeFileSync(
        path.join(s.modules, "mender-binary-delta"),
        `#!/bin/sh\nif [ "$1" = Download ] && [ -f '${marker}' ]; then\n` +
          `  p=$(cat '${marker}'); rm -f '${marker}'\n` +
          `  ${real} 2>'${stderr}' &\n  pid=$!\n` +
          `  while kill -0 $pid 2>/dev/null && ! grep -q "$p" '${stderr}'; do sleep 0.005; done\n` +
          `  kill -9 $pid 2>/dev/null && echo "killed at: $p" >> '${killLog}'\n` +
          `  wait $pid; rc=$?; cat '${stderr}' >&2; exit $rc\nfi\n` +
          `exec ${real}\n`,
        { mode: 0o755 },
      );
      const art = deltaArtifact(s, "release-2", delta12, sum1, sum2);
      const first = s.mender("install", art);
      if (first.status === 0) continue; // finished before the kill landed: nothing to show at this point
      assert.deepEqual(s.env(), INITIAL_ENV, "killed Download leaves the boot environment alone");
      const retry = s.mender("install", art);
      assert.equal(retry.status, 0, retry.log);
      assert.deepEqual(s.env(), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" });
      assert.equal(sha256Direct(s.loops[1], imageBytes), sum2);
    }
    const kills = fs.existsSync(killLog) ? fs.readFileSync(killLog, "utf8").trim().split("\n") : [];
    t.diagnostic(kills.join("; "));
    assert.ok(kills.length >= 2, `the module was killed during Download at least twice (${kills.join("; ")})`);
  } finally {
    s.setModule(moduleCommand());
  }
});

test("real client: a delta Artifact made by mender-binary-delta-generator from two rootfs-image Artifacts installs", (t) => {
  const s = usable(t);
  if (!s) return;
  s.reset();
  seed(s, sum1, "release-1");
  const from = path.join(work, "rootfs-1.mender");
  const to = path.join(work, "rootfs-2.mender");
  for (const [img, name, out] of [[path.join(work, "v1.ext4"), "release-1", from], [path.join(work, "v2.ext4"), "release-2", to]] as const) {
    execFileSync("mender-artifact", ["write", "rootfs-image", "-t", DEVICE_TYPE, "-n", name, "-f", img, "-o", out, "--no-progress"], { stdio: "ignore" });
  }
  const delta = path.join(work, "generated.mender");
  const gen = spawnSync(
    process.execPath,
    ["--import", "tsx", path.join(ROOT, "src", "cli", "generator.ts"), "-q", "-o", delta, from, to],
    { cwd: ROOT, encoding: "utf8" },
  );
  assert.equal(gen.status, 0, gen.stderr);

  let r = s.mender("install", delta);
  assert.equal(r.status, 0, r.log);
  assert.deepEqual(s.env(), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" });
  assert.equal(sha256Direct(s.loops[1], imageBytes), sum2);
  s.reboot();
  r = s.mender("commit");
  assert.equal(r.status, 0, r.log);
  const p = s.provides();
  assert.equal(p.get("rootfs-image.checksum"), sum2);
  assert.equal(p.get("rootfs-image.version"), "release-2");
  assert.equal(p.get("artifact_name"), "release-2");
});
