/**
 * The Update Module called state by state on prepared file trees (as the client calls it), with
 * image files as partitions and a file-backed U-Boot environment through the real fw_printenv/fw_setenv.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { needRoot, needTools } from "../helpers/peers";
import {
  INITIAL_BOOT_ENV,
  downloadStreaming,
  makeDelta,
  makeFileDevice,
  makeReleasePair,
  runModuleSync,
  sha256File,
  startModule,
  type FileDevice,
  type TreeOptions,
} from "./fixtures";

const PART_BYTES = 5 << 20;
let work: string;
let v1: string;
let v2: string;
let delta: Buffer;
let sum1: string;
let sum2: string;
let imageBytes: number;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-protocol-"));
  v1 = path.join(work, "v1.ext4");
  v2 = path.join(work, "v2.ext4");
  if (!["mke2fs", "xdelta3", "fw_printenv", "fw_setenv"].every((t) => fs.existsSync(`/usr/bin/${t}`) || fs.existsSync(`/sbin/${t}`) || fs.existsSync(`/usr/sbin/${t}`))) return;
  ({ v1, v2, delta, sum1, sum2, imageBytes } = makeReleasePair(work));
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

type Device = FileDevice;

let count = 0;
function device(treeOptions: Partial<TreeOptions> = {}): Device {
  return makeFileDevice(path.join(work, `dev${++count}`), v1, {
    sourceChecksum: sum1,
    targetChecksum: sum2,
    metaData: { delta_algorithm: "xdelta3", rootfs_file_size: imageBytes },
    ...treeOptions,
  }, PART_BYTES);
}

function tools(t: import("node:test").TestContext): boolean {
  return needTools(t, "mke2fs", "xdelta3", "fw_printenv", "fw_setenv");
}

const envOf = (d: Device) => d.readEnv();

const INITIAL_ENV = INITIAL_BOOT_ENV;

test("queries: rollback Yes, reboot Automatic, file sizes Yes; unknown states print nothing", (t) => {
  if (!tools(t)) return;
  const d = device();
  assert.equal(runModuleSync("SupportsRollback", d.tree, d.env).stdout, "Yes\n");
  assert.equal(runModuleSync("NeedsArtifactReboot", d.tree, d.env).stdout, "Automatic\n");
  assert.equal(runModuleSync("ProvidePayloadFileSizes", d.tree, d.env).stdout, "Yes\n");
  for (const state of ["SomeFutureState", "Future_State2"]) {
    const unknown = runModuleSync(state, d.tree, d.env);
    assert.deepEqual([unknown.status, unknown.stdout, unknown.stderr], [0, "", ""], state);
  }
});

test("streaming Download applies the delta into the inactive partition; install, reboot, commit", async (t) => {
  if (!tools(t)) return;
  const d = device();
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: delta });
  assert.equal(dl.status, 0, dl.stderr);
  assert.equal(sha256File(d.partB, imageBytes), sum2);
  assert.equal(sha256File(d.partA, imageBytes), sum1);
  assert.deepEqual(envOf(d), INITIAL_ENV, "Download must not touch the boot environment");
  assert.match(dl.stderr, /new image verified/);

  assert.deepEqual(d.bootEnv.takeSetBatches(), []);
  const install = runModuleSync("ArtifactInstall", d.tree, d.env);
  assert.equal(install.status, 0, install.stderr);
  assert.deepEqual(envOf(d), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" });
  // One atomic batch, exactly the variables of the client's own dual-rootfs install.
  assert.deepEqual(d.bootEnv.takeSetBatches(), ["-s -: mender_boot_part=3;mender_boot_part_hex=3;upgrade_available=1;bootcount=0"]);

  // Commit before the reboot is refused: the new partition has not proven it boots.
  const early = runModuleSync("ArtifactCommit", d.tree, d.env);
  assert.equal(early.status, 1);
  assert.match(early.stderr, /ArtifactCommit: the device is not running the new partition \(it was not rebooted into it\); the client now rolls this update back/);

  d.boot(3);
  assert.equal(runModuleSync("ArtifactVerifyReboot", d.tree, d.env).status, 0);
  const commit = runModuleSync("ArtifactCommit", d.tree, d.env);
  assert.equal(commit.status, 0, commit.stderr);
  assert.deepEqual(d.bootEnv.takeSetBatches(), ["-s -: upgrade_available=0"]);
  assert.equal(envOf(d).upgrade_available, "0");
  assert.equal(envOf(d).mender_boot_part, "3");
  assert.equal(runModuleSync("Cleanup", d.tree, d.env).status, 0);
});

test("4.x client: DownloadWithFileSizes with sized stream-next lines and 4.x-formatted headers", async (t) => {
  if (!tools(t)) return;
  const d = device({ clientStyle: "4.x" });
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: delta }, true);
  assert.equal(dl.status, 0, dl.stderr);
  assert.equal(sha256File(d.partB, imageBytes), sum2);
});

test("4.x client: the declared payload size gives progress as a percentage of the payload", async (t) => {
  if (!tools(t)) return;
  // A target with 384 KiB of new random bytes: a delta of several read chunks.
  const v3 = path.join(work, "v3.ext4");
  const image = fs.readFileSync(v2);
  crypto.randomFillSync(image, 1 << 20, 384 << 10);
  fs.writeFileSync(v3, image);
  const big = path.join(work, "v3.ext4.delta");
  makeDelta(v1, v3, big);
  const data = fs.readFileSync(big);
  const d = device({ clientStyle: "4.x", targetChecksum: sha256File(v3) });
  const dl = await downloadStreaming(d.tree, d.env, { name: "v3.ext4.delta", data }, true);
  assert.equal(dl.status, 0, dl.stderr);
  assert.equal(sha256File(d.partB, imageBytes), sha256File(v3));
  const percents = [...dl.stderr.matchAll(/progress: (\d+)% of the payload \((\d+) of (\d+) bytes\)/g)];
  assert.ok(percents.length >= 3, dl.stderr);
  for (const [, percent, got, total] of percents) {
    assert.equal(Number(total), data.length);
    assert.equal(Number(percent), Math.floor((Number(got) * 100) / data.length));
  }
  assert.deepEqual(percents.at(-1)!.slice(1), ["100", String(data.length), String(data.length)]);
  assert.equal(percents.map((m) => Number(m[1])).join(), percents.map((m) => Number(m[1])).sort((a, b) => a - b).join(), "increasing");
  assert.doesNotMatch(dl.stderr, /bytes written\)/, "no target-based progress when the payload size is known");
});

/** Runs DownloadWithFileSizes with `declaredSize` on stream-next; the boot environment must stay and nothing may be verified. */
async function downloadDeclaring(declaredSize: number, data: Uint8Array = delta) {
  const d = device({ clientStyle: "4.x" });
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data, declaredSize }, true);
  assert.equal(dl.status, 1, dl.stderr);
  assert.equal(dl.stderr.trim().split("\n").filter((l) => l.startsWith("mender-binary-delta: error:")).length, 1, dl.stderr);
  assert.deepEqual(envOf(d), INITIAL_ENV);
  assert.equal(fs.existsSync(path.join(d.tree, "tmp", "target.json")), false, "nothing recorded as verified");
  assert.equal(sha256File(d.partA, imageBytes), sum1);
  return { d, dl };
}

test("4.x client: a declared size no delta for the target partition can have is refused before the stream is read", async (t) => {
  if (!tools(t)) return;
  const zeros = sha256File(device().partB);
  // 5 MiB partition: at most 5 MiB + 1/64 + 1 MiB of delta.
  for (const declared of [PART_BYTES + Math.ceil(PART_BYTES / 64) + (1 << 20) + 1, 0]) {
    const { d, dl } = await downloadDeclaring(declared);
    assert.match(
      dl.stderr,
      declared === 0
        ? /error: the client declares the payload file v2\.ext4\.delta empty \(0 bytes\); a delta is never empty\. Not reading it\./
        : new RegExp(`error: the client declares the payload file v2\\.ext4\\.delta as ${declared} bytes, more than any delta for the target partition \\S+mmcblk0p3 \\(${PART_BYTES} bytes\\) can be`),
    );
    assert.doesNotMatch(dl.stderr, /applying /, "the delta was never opened");
    assert.equal(sha256File(d.partB), zeros, "B untouched");
  }
});

test("4.x client: a stream longer or shorter than its declared size fails before the image is verified", async (t) => {
  if (!tools(t)) return;
  let r = await downloadDeclaring(delta.length - 100);
  assert.match(r.dl.stderr, new RegExp(`the payload file v2\\.ext4\\.delta is longer than the ${delta.length - 100} bytes the client declared`));
  r = await downloadDeclaring(delta.length + 100);
  assert.match(r.dl.stderr, new RegExp(`the payload file v2\\.ext4\\.delta ended after ${delta.length} of the ${delta.length + 100} bytes the client declared`));
  assert.match(r.dl.stderr, /will not be activated; the running system is unchanged/);
});

test("files/ fallback: no stream-next, the delta is applied in ArtifactInstall", (t) => {
  if (!tools(t)) return;
  const d = device();
  const dl = runModuleSync("Download", d.tree, d.env);
  assert.equal(dl.status, 0, dl.stderr);
  fs.mkdirSync(path.join(d.tree, "files"));
  fs.writeFileSync(path.join(d.tree, "files", "v2.ext4.delta"), delta);
  const install = runModuleSync("ArtifactInstall", d.tree, d.env);
  assert.equal(install.status, 0, install.stderr);
  assert.equal(sha256File(d.partB, imageBytes), sum2);
  assert.equal(envOf(d).mender_boot_part, "3");
});

test("a new image larger than the inactive partition is refused before any write, streamed or not", async (t) => {
  if (!tools(t)) return;
  const tooLarge = { metaData: { delta_algorithm: "xdelta3", rootfs_file_size: PART_BYTES + 4096 } };
  const message = new RegExp(
    `the new image does not fit on the inactive partition \\S+: the Artifact declares rootfs_file_size ${PART_BYTES + 4096} bytes, the partition holds ${PART_BYTES}\\. Refused before download`,
  );
  const streamed = device(tooLarge);
  const before = sha256File(streamed.partB, PART_BYTES);
  const dl = await downloadStreaming(streamed.tree, streamed.env, { name: "v2.ext4.delta", data: delta });
  assert.equal(dl.status, 1);
  assert.match(dl.stderr, message);
  assert.equal(sha256File(streamed.partB, PART_BYTES), before, "the inactive partition is untouched");
  // The files/ fallback (no stream-next): refused in Download too, before the client stores the payload.
  const stored = device(tooLarge);
  const fallback = runModuleSync("Download", stored.tree, stored.env);
  assert.equal(fallback.status, 1);
  assert.match(fallback.stderr, message);
  assert.equal(sha256File(stored.partB, PART_BYTES), before);
});

test("rollback before and after the reboot restores the original partition", async (t) => {
  if (!tools(t)) return;
  for (const rebootFirst of [false, true]) {
    const d = device();
    assert.equal((await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: delta })).status, 0);
    assert.equal(runModuleSync("ArtifactInstall", d.tree, d.env).status, 0);
    if (rebootFirst) d.boot(3);
    d.bootEnv.takeSetBatches();
    const rb = runModuleSync("ArtifactRollback", d.tree, d.env);
    assert.equal(rb.status, 0, rb.stderr);
    assert.deepEqual(d.bootEnv.takeSetBatches(), ["-s -: mender_boot_part=2;mender_boot_part_hex=2;upgrade_available=0"]);
    assert.deepEqual({ ...envOf(d), bootcount: undefined }, { ...INITIAL_ENV, bootcount: undefined });
    d.boot(2);
    assert.equal(runModuleSync("ArtifactVerifyRollbackReboot", d.tree, d.env).status, 0);
  }
});

async function expectDownloadFailure(d: Device, data: Uint8Array, message: RegExp): Promise<void> {
  const beforeA = sha256File(d.partA);
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data });
  assert.equal(dl.status === 0, false, "Download must fail");
  assert.match(dl.stderr, message);
  assert.equal(dl.stderr.trim().split("\n").filter((l) => /error/.test(l)).length, 1, "one error line");
  assert.equal(sha256File(d.partA), beforeA, "active partition unchanged");
  assert.deepEqual(envOf(d), INITIAL_ENV, "boot environment unchanged");
  const install = runModuleSync("ArtifactInstall", d.tree, d.env);
  assert.equal(install.status, 1, "nothing verified, nothing to activate");
  assert.deepEqual(envOf(d), INITIAL_ENV);
}

test("wrong source: one byte changed on the active partition (delta without a read set) fails before anything is written", async (t) => {
  if (!tools(t)) return;
  const d = device();
  const fd = fs.openSync(d.partA, "r+");
  fs.writeSync(fd, Buffer.from([0x5a]), 0, 1, 200_000);
  fs.closeSync(fd);
  await expectDownloadFailure(d, delta, /not the image this delta was made from.*read-only/);
  assert.ok(fs.readFileSync(d.partB).every((b) => b === 0), "inactive partition never written");
});

test("corrupted and truncated deltas fail; nothing is activated", async (t) => {
  if (!tools(t)) return;
  const corrupt = Buffer.from(delta);
  for (let i = 200; i < corrupt.length; i += 97) corrupt[i]! ^= 0xff;
  await expectDownloadFailure(device(), corrupt, /error: applying v2\.ext4\.delta failed/);
  await expectDownloadFailure(device(), delta.subarray(0, Math.floor(delta.length / 2)), /error: applying v2\.ext4\.delta failed/);
});

test("a delta for another device type, or a pending update, is refused", async (t) => {
  if (!tools(t)) return;
  await expectDownloadFailure(device({ artifactDeviceTypes: ["other-device"] }), delta, /device type\(s\) other-device/);
  const d = device();
  d.bootEnv.set({ upgrade_available: "1" });
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: delta });
  assert.equal(dl.status, 1);
  assert.match(dl.stderr, /upgrade_available=1/);
});

test("a pending update the client forgot (Mender 3.4 after a second install) is rolled back by the command the refusal names", async (t) => {
  if (!tools(t)) return;
  const d = device();
  assert.equal((await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: delta })).status, 0);
  assert.equal(runModuleSync("ArtifactInstall", d.tree, d.env).status, 0);
  // The client's second install: a new tree, refused; the client then forgets the first one (its tree goes).
  const again = device();
  again.bootEnv.set({ mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1" });
  const refused = await downloadStreaming(again.tree, again.env, { name: "v2.ext4.delta", data: delta });
  assert.equal(refused.status, 1);
  const m = /roll it back with: \/usr\/share\/mender\/modules\/v3\/mender-binary-delta ArtifactRollback "\$\(mktemp -d\)"$/m.exec(refused.stderr);
  assert.ok(m, refused.stderr);
  assert.match(refused.stderr, /upgrade_available=1 \(mender_boot_part=3\): another update is waiting/);
  fs.rmSync(d.tree, { recursive: true });
  const empty = fs.mkdtempSync(path.join(d.dir, "empty-"));
  const rollback = runModuleSync("ArtifactRollback", empty, d.env);
  assert.equal(rollback.status, 0, rollback.stderr);
  assert.deepEqual(envOf(d), { mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0", bootcount: "0" });
  // Without the update's record, an environment naming neither partition is not guessed at.
  d.bootEnv.set({ mender_boot_part: "7", upgrade_available: "1" });
  const unsure = runModuleSync("ArtifactRollback", empty, d.env);
  assert.equal(unsure.status, 1);
  assert.match(unsure.stderr, /cannot tell which partition to roll back to: mender_boot_part=7 is neither/);
  assert.equal(envOf(d).mender_boot_part, "7");
});

test("ArtifactInstall run again after its switch (a crash before it reported it) is done, not another pending update", async (t) => {
  if (!tools(t)) return;
  const d = device();
  assert.equal((await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: delta })).status, 0);
  assert.equal(runModuleSync("ArtifactInstall", d.tree, d.env).status, 0);
  d.bootEnv.takeSetBatches();
  const again = runModuleSync("ArtifactInstall", d.tree, d.env);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /boot environment already switched to partition 3 by this update/);
  assert.deepEqual(d.bootEnv.takeSetBatches(), [], "nothing written again");
  d.boot(3);
  assert.equal(runModuleSync("ArtifactCommit", d.tree, d.env).status, 0);
  assert.deepEqual(envOf(d), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "0", bootcount: "0" });
  // Another update's tree, with the environment switched by this one: still "another update".
  const other = device();
  other.bootEnv.set({ mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1" });
  const refused = runModuleSync("ArtifactInstall", other.tree, other.env);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /another update is waiting for commit or rollback/);
});

test("rollback after the install needs no configuration (the install recorded the way back); commit with nothing installed says so", async (t) => {
  if (!tools(t)) return;
  const d = device();
  const nothing = runModuleSync("ArtifactCommit", d.tree, d.env);
  assert.equal(nothing.status, 1);
  assert.match(nothing.stderr, /ArtifactCommit: nothing was installed by this update/);
  assert.equal((await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: delta })).status, 0);
  assert.equal(runModuleSync("ArtifactInstall", d.tree, d.env).status, 0);
  d.boot(3);
  fs.writeFileSync(d.conf, "{}");
  const rollback = runModuleSync("ArtifactRollback", d.tree, d.env);
  assert.equal(rollback.status, 0, rollback.stderr);
  assert.deepEqual(envOf(d), { mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0", bootcount: "0" });
});

test("a data directory that cannot take the module's state (full, read-only, not a directory): one line before the stream is read, nothing written", async (t) => {
  if (!tools(t)) return;
  const refused = async (d: Device, why: RegExp): Promise<void> => {
    const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: delta });
    assert.equal(dl.status, 1, dl.stderr);
    const errors = dl.stderr.split("\n").filter((l) => / error: | internal error/.test(l));
    assert.equal(errors.length, 1, dl.stderr);
    assert.match(errors[0]!, /cannot write the module's state (file tmp\/write-check|tmp\/) in its file tree .*must be writable and have free space$/);
    assert.match(errors[0]!, why);
    assert.doesNotMatch(dl.stderr, /checking the active partition|applying/, "refused before the source check and the stream");
    assert.ok(fs.readFileSync(d.partB).every((b) => b === 0), "the inactive partition was not written");
    assert.deepEqual(envOf(d), INITIAL_ENV);
  };
  // tmp/ is a file: no state directory can be made.
  const file = device();
  fs.rmSync(path.join(file.tree, "tmp"), { recursive: true, force: true });
  fs.writeFileSync(path.join(file.tree, "tmp"), "");
  await refused(file, /EEXIST|ENOTDIR/);
  if (!needRoot(t, "mounts a full and a read-only tmpfs as the tree's tmp/")) return;
  for (const [options, why] of [["size=4k", /ENOSPC/], ["ro,size=4k", /EROFS/]] as const) {
    const d = device();
    const tmp = path.join(d.tree, "tmp");
    fs.mkdirSync(tmp, { recursive: true });
    assert.equal(spawnSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", tmp]).status, 0, `mount -o ${options}`);
    try {
      // Full: one page taken by a file, nothing left for another.
      if (!options.startsWith("ro")) fs.writeFileSync(path.join(tmp, "filler"), Buffer.alloc(4096));
      await refused(d, why);
      assert.deepEqual(fs.readdirSync(tmp).filter((f) => f !== "filler"), [], "nothing half-written is left");
    } finally {
      spawnSync("umount", [tmp]);
    }
  }
});

test("stream-next naming a payload file the client did not make: one line, nothing written", async (t) => {
  if (!tools(t)) return;
  const d = device();
  const next = path.join(d.tree, "stream-next");
  assert.equal(spawnSync("mkfifo", [next]).status, 0);
  const mod = startModule("Download", d.tree, d.env);
  const told = fs.promises.writeFile(next, "streams/nothere.delta\n");
  const r = await mod.done;
  await told;
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /error: cannot open the payload file nothere\.delta the client named: ENOENT/);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.ok(fs.readFileSync(d.partB).every((b) => b === 0), "the inactive partition was not written");
  assert.deepEqual(envOf(d), INITIAL_ENV);
});

test("a signal ends a state between its steps: one line, nothing half-done, no fw_setenv left running", async (t) => {
  if (!tools(t)) return;
  // Download waiting for its stream: ended by the signal itself, with one line; nothing written.
  const d = device();
  assert.equal(spawnSync("mkfifo", [path.join(d.tree, "stream-next")]).status, 0);
  const dl = startModule("Download", d.tree, d.env);
  await new Promise((r) => setTimeout(r, 1500));
  process.kill(dl.pid, "SIGTERM");
  const stopped = await dl.done;
  assert.equal(stopped.signal, "SIGTERM", stopped.stderr);
  const errors = stopped.stderr.split("\n").filter((l) => / error: | internal error/.test(l));
  assert.equal(errors.length, 1, stopped.stderr);
  assert.match(errors[0]!, /error: Download was stopped by SIGTERM before it finished; no step was left half-done/);
  assert.ok(fs.readFileSync(d.partB).every((b) => b === 0), "the inactive partition was not written");
  assert.deepEqual(envOf(d), INITIAL_ENV);

  // ArtifactInstall signalled (its process alone) while fw_setenv writes: the write is waited for,
  // so when the module has ended the environment is what it will stay, and a rollback restores it.
  const e = device();
  assert.equal((await downloadStreaming(e.tree, e.env, { name: "v2.ext4.delta", data: delta })).status, 0);
  const slow = path.join(e.dir, "slow-bin");
  const started = path.join(e.dir, "fw_setenv-started");
  fs.mkdirSync(slow);
  fs.writeFileSync(path.join(slow, "fw_setenv"), `#!/bin/sh\ntouch "${started}"\nsleep 1\nexec "${e.bootEnv.binDir}/fw_setenv" "$@"\n`, { mode: 0o755 });
  const install = startModule("ArtifactInstall", e.tree, { ...e.env, PATH: `${slow}:${e.env.PATH}` });
  while (!fs.existsSync(started)) await new Promise((r) => setTimeout(r, 20));
  process.kill(install.pid, "SIGTERM");
  const ended = await install.done;
  const atEnd = envOf(e);
  assert.deepEqual(atEnd, { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" }, ended.stderr);
  // The signal came while the state's last step ran: the state is done, as that step left it.
  assert.equal(ended.status, 0, ended.stderr);
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(envOf(e), atEnd, "nothing wrote the environment after the module ended");
  const rollback = runModuleSync("ArtifactRollback", e.tree, e.env);
  assert.equal(rollback.status, 0, rollback.stderr);
  assert.deepEqual(envOf(e), { ...atEnd, mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0" });
});

test("a tool's message of several lines is still one error line (a corrupt U-Boot environment without a default)", (t) => {
  if (!tools(t)) return;
  const d = device();
  const bin = path.join(d.dir, "failing-bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, "fw_printenv"),
    "#!/bin/sh\necho 'Cannot read environment, using default' >&2\necho 'Cannot read default environment from file' >&2\nexit 243\n",
    { mode: 0o755 },
  );
  const r = runModuleSync("ArtifactCommit", d.tree, { ...d.env, PATH: `${bin}:${d.env.PATH}` });
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split("\n").filter((l) => !/test overrides in effect/.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^mender-binary-delta: error: .*fw_printenv .* failed \(exit 243\): Cannot read environment, using default \/ Cannot read default environment from file; cannot read the boot environment$/);
});

test("boot environment and mounted root disagreeing is an error; root= on the command line is the fallback", async (t) => {
  if (!tools(t)) return;
  const d = device();
  d.boot(3);
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: delta });
  assert.equal(dl.status, 1);
  assert.match(dl.stderr, /does not match the boot environment.*mounted root is .*mmcblk0p3/);
  assert.ok(fs.readFileSync(d.partB).every((b) => b === 0), "the running partition was not written");

  // A root= that names the boot environment's partition does not outweigh a mounted root that is
  // the other one; and of two root= the kernel takes the last.
  for (const line of [`root=${d.partA} rootwait`, `root=${d.partB} rootwait root=${d.partA}`]) {
    const f = device();
    f.boot(3);
    const cmdlines = path.join(f.dir, "cmdline");
    fs.writeFileSync(cmdlines, `console=ttyS0 ${line.replaceAll(d.dir, f.dir)}\n`);
    const again = await downloadStreaming(f.tree, { ...f.env, MENDER_BINARY_DELTA_TEST_CMDLINE: cmdlines }, { name: "v2.ext4.delta", data: delta });
    assert.equal(again.status, 1, line);
    assert.match(again.stderr, /does not match the boot environment.*mounted root is .*mmcblk0p3 instead/, line);
    assert.ok(fs.readFileSync(f.partB).every((b) => b === 0), "the running partition was not written");
  }

  // The root filesystem is on another device, but root= names the active partition.
  const e = device();
  const cmdline = path.join(e.dir, "cmdline");
  fs.writeFileSync(cmdline, `console=ttyS0 root=${e.partB} ro rootwait root=${e.partA}\n`);
  e.env.MENDER_BINARY_DELTA_TEST_ROOT = e.dir;
  e.env.MENDER_BINARY_DELTA_TEST_CMDLINE = cmdline;
  const ok = await downloadStreaming(e.tree, e.env, { name: "v2.ext4.delta", data: delta });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /test overrides in effect/);
});
