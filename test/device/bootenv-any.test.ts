/**
 * Every state with a boot environment as real devices have them: a multi-line script (whose lines
 * look like the module's own variables), `=` inside a value, an empty value, the environment filled
 * to within a few bytes of its size. U-Boot through the real fw_printenv/fw_setenv on a file-backed
 * environment; GRUB through the grub-mender-grubenv stand-ins (grub-standin/).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needTools } from "../helpers/peers";
import {
  INITIAL_BOOT_ENV,
  MULTI_LINE_SCRIPT,
  addAwkwardVariables,
  downloadStreaming,
  makeBootEnv,
  makeFileDevice,
  makeReleasePair,
  runModuleSync,
  sha256File,
  type FileDevice,
  type ReleasePair,
} from "./fixtures";
import { makeGrubEnv } from "./grub-env";

const PART_BYTES = 5 << 20;
let work: string;
let rel: ReleasePair;
let count = 0;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-bootenv-"));
  if (["mke2fs", "xdelta3", "fw_printenv", "fw_setenv"].every((t) => fs.existsSync(`/usr/bin/${t}`) || fs.existsSync(`/sbin/${t}`))) {
    rel = makeReleasePair(work);
  }
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

function tools(t: import("node:test").TestContext): boolean {
  return needTools(t, "mke2fs", "xdelta3", "fw_printenv", "fw_setenv", "flock", "sha256sum");
}

/** A device, and the boot environment the module sees on it, read back without the module's tools. */
interface Setup {
  d: FileDevice;
  read(): Map<string, string>;
  /** Variables besides the module's four that every state must leave as they are. */
  extra: Map<string, string>;
}

function device(): FileDevice {
  return makeFileDevice(path.join(work, `dev${++count}`), rel.v1, {
    sourceChecksum: rel.sum1,
    targetChecksum: rel.sum2,
    metaData: { delta_algorithm: "xdelta3", rootfs_file_size: rel.imageBytes },
  }, PART_BYTES);
}

function ubootSetup(): Setup {
  const d = device();
  const extra = addAwkwardVariables(d.bootEnv);
  assert.equal(extra.get("mender_bootscript"), MULTI_LINE_SCRIPT);
  assert.equal(extra.get("empty_value"), "");
  return { d, read: () => d.bootEnv.read(), extra };
}

/** GRUB's 1024-byte block with `=` in a value, an empty value, and fillers up to 24 bytes short of full. */
function grubSetup(): Setup {
  const d = device();
  const grub = makeGrubEnv(path.join(d.dir, "grubenv"), INITIAL_BOOT_ENV);
  grub.set({ kernel_args: "console=ttyS0,115200 a=b=c", empty_value: "", quoted: "it's $HOME" });
  const used = () => fs.readFileSync(path.join(grub.dir, "mender_grubenv1", "env"), "latin1").replace(/#+$/, "").length;
  for (let i = 0; 1024 - used() > 48; i++) {
    const room = 1024 - used() - 24 - 12;
    grub.set({ [`filler_${String(i).padStart(3, "0")}`]: "g".repeat(Math.max(1, Math.min(100, room))) });
  }
  assert.ok(1024 - used() <= 48 && 1024 - used() >= 8, `GRUB block nearly full (${1024 - used()} bytes free)`);
  Object.assign(d.env, grub.processEnv(d.env));
  const extra = new Map([...grub.read()].filter(([k]) => !(k in INITIAL_BOOT_ENV)));
  return { d, read: () => grub.read(), extra };
}

function four(s: Setup): Record<string, string | undefined> {
  const e = s.read();
  return Object.fromEntries(Object.keys(INITIAL_BOOT_ENV).map((k) => [k, e.get(k)]));
}

function assertExtrasKept(s: Setup, when: string): void {
  const now = s.read();
  for (const [k, v] of s.extra) assert.equal(now.get(k), v, `${k} unchanged after ${when}`);
}

function state(s: Setup, name: string): void {
  const r = runModuleSync(name, s.d.tree, s.d.env);
  assert.equal(r.status, 0, `${name}: ${r.stderr}`);
  assertExtrasKept(s, name);
}

for (const [loader, setup] of [["U-Boot", ubootSetup], ["GRUB", grubSetup]] as const) {
  test(`${loader}: awkward environment - Download, Install, VerifyReboot, Commit`, async (t) => {
    if (!tools(t)) return;
    const s = setup();
    assert.deepEqual(four(s), INITIAL_BOOT_ENV);
    const dl = await downloadStreaming(s.d.tree, s.d.env, { name: "v2.ext4.delta", data: rel.delta });
    assert.equal(dl.status, 0, dl.stderr);
    assert.equal(sha256File(s.d.partB, rel.imageBytes), rel.sum2);
    assert.deepEqual(four(s), INITIAL_BOOT_ENV, "Download leaves the environment alone");
    state(s, "ArtifactInstall");
    assert.deepEqual(four(s), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" });
    s.d.boot(3);
    state(s, "ArtifactVerifyReboot");
    state(s, "ArtifactCommit");
    assert.deepEqual(four(s), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "0", bootcount: "0" });
    state(s, "Cleanup");
  });

  test(`${loader}: awkward environment - Install, reboot, Rollback, VerifyRollbackReboot`, async (t) => {
    if (!tools(t)) return;
    const s = setup();
    const dl = await downloadStreaming(s.d.tree, s.d.env, { name: "v2.ext4.delta", data: rel.delta });
    assert.equal(dl.status, 0, dl.stderr);
    state(s, "ArtifactInstall");
    s.d.boot(3);
    state(s, "ArtifactRollback");
    assert.deepEqual(four(s), { mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0", bootcount: "0" });
    s.d.boot(2);
    state(s, "ArtifactVerifyRollbackReboot");
    state(s, "ArtifactFailure");
  });
}

test("U-Boot: a redundant 128 KiB environment filled to its last bytes, with a multi-line script, works through install and commit", async (t) => {
  if (!tools(t)) return;
  const d = device();
  // Replace the device's environment with a redundant one of 128 KiB (two copies, flags byte).
  const fx = makeBootEnv(path.join(d.dir, "env128"), INITIAL_BOOT_ENV, 2, 128 << 10);
  d.env.PATH = `${fx.binDir}:${process.env.PATH}`;
  const extra = addAwkwardVariables(fx, 128 << 10, 40);
  const s: Setup = { d, read: () => fx.read(), extra };
  assert.ok(extra.size > 600, `${extra.size} variables`);
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: rel.delta });
  assert.equal(dl.status, 0, dl.stderr);
  state(s, "ArtifactInstall");
  d.boot(3);
  state(s, "ArtifactCommit");
  assert.deepEqual(four(s), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "0", bootcount: "0" });
});

test("U-Boot: an environment too full for the switch - ArtifactInstall fails with fw_setenv's message, nothing changed", async (t) => {
  if (!tools(t)) return;
  const d = device();
  // No bootcount yet: the install batch must add it, and only 24 bytes are free.
  const { bootcount: _, ...withoutBootcount } = INITIAL_BOOT_ENV;
  d.bootEnv.set({ bootcount: "" });
  assert.equal(d.bootEnv.read().has("bootcount"), false);
  const extra = addAwkwardVariables(d.bootEnv, 16384, 20);
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: rel.delta });
  assert.equal(dl.status, 0, dl.stderr);
  d.bootEnv.takeSetBatches();
  const install = runModuleSync("ArtifactInstall", d.tree, d.env);
  assert.equal(install.status, 1);
  assert.match(install.stderr, /fw_setenv -s - failed \(exit \d+\): Error storing the env; the boot environment reads back unchanged/);
  const now = d.bootEnv.read();
  for (const [k, v] of Object.entries(withoutBootcount)) assert.equal(now.get(k), v);
  for (const [k, v] of extra) assert.equal(now.get(k), v);
  assert.equal(d.bootEnv.takeSetBatches().length, 1, "one batch tried");
});

test("GRUB: a multi-line value breaks grub-mender-grubenv-print itself: every state that reads fails with its message, nothing written", async (t) => {
  if (!tools(t)) return;
  const s = grubSetup();
  const grub = makeGrubEnv(path.join(s.d.dir, "grubenv"), {}); // the same directory: adds nothing
  grub.set({ mender_bootscript: "echo one\necho two" });
  const before = s.read();
  const dl = await downloadStreaming(s.d.tree, s.d.env, { name: "v2.ext4.delta", data: rel.delta });
  assert.equal(dl.status, 1);
  assert.match(dl.stderr, /error: .*grub-mender-grubenv-print mender_check_saveenv_canary failed \(exit 2\): .*Unterminated quoted string; cannot read the boot environment/);
  for (const st of ["ArtifactInstall", "ArtifactCommit", "ArtifactRollback"]) {
    const r = runModuleSync(st, s.d.tree, s.d.env);
    assert.equal(r.status, 1, st);
    assert.match(r.stderr, /cannot read the boot environment/);
  }
  assert.deepEqual([...s.read()], [...before], "environment unchanged");
  assert.ok(fs.readFileSync(s.d.partB).every((b) => b === 0), "nothing written to B");
});
