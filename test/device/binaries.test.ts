/**
 * The built single-file binaries as the module: the host and the armhf one (under qemu-user) through
 * the protocol states, the aarch64 one under qemu-user through a full flow with the real Mender 3.4
 * client. They use
 * dist/<arch>/mender-binary-delta (`node build.mjs --no-archive`; DIST=dir to
 * use another output directory).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needBuilt, needRoot, needTools } from "../helpers/peers";
import { HOST_TARGET, TARGETS, binaryPath, type Target } from "../helpers/targets";
import { ClientSandbox } from "./client-sandbox";
import { downloadStreaming, makeDelta, makeExt4, makeFileDevice, runModuleSync, sha256Direct, sha256File } from "./fixtures";

let work: string;
let v1: string;
let v2: string;
let deltaFile: string;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-binaries-"));
  v1 = path.join(work, "v1.ext4");
  v2 = path.join(work, "v2.ext4");
  fs.mkdirSync(path.join(work, "delta"));
  deltaFile = path.join(work, "delta", "v2.ext4.delta");
  if (!fs.existsSync("/usr/bin/xdelta3")) return;
  makeExt4(v1, 1);
  makeExt4(v2, 2);
  makeDelta(v1, v2, deltaFile);
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

/** The module command for a target's built binary, or undefined (skipped loudly) when not built. */
function builtModule(t: import("node:test").TestContext, target: Target): string[] | undefined {
  const bin = binaryPath(target, "mender-binary-delta");
  if (!needBuilt(t, bin)) return undefined;
  if (target.run.length > 0 && !needTools(t, target.run[0]!)) return undefined;
  return [...target.run, bin];
}

/** The host binary, and the armhf one under qemu-user: it runs Node 20.11, the oldest runtime we ship. */
for (const arch of [HOST_TARGET.arch, "armhf"]) {
  test(`${arch} binary: streaming Download from a FIFO (host binary: also a query and ArtifactInstall)`, async (t) => {
    if (!needTools(t, "xdelta3", "mke2fs", "fw_printenv", "fw_setenv")) return;
    const cmd = builtModule(t, TARGETS.find((x) => x.arch === arch)!);
    if (!cmd) return;
    const size = fs.statSync(v1).size;
    const { partB, env, bootEnv, tree } = makeFileDevice(path.join(work, arch), v1, {
      sourceChecksum: sha256File(v1),
      targetChecksum: sha256File(v2),
      metaData: { delta_algorithm: "xdelta3", rootfs_file_size: size },
    });
    const dl = await downloadStreaming(tree, env, { name: "v2.ext4.delta", data: fs.readFileSync(deltaFile) }, false, cmd);
    assert.equal(dl.status, 0, dl.stderr);
    assert.equal(sha256File(partB, size), sha256File(v2));
    // Each start under qemu costs seconds: the other architectures stop after the decoding state.
    if (arch !== HOST_TARGET.arch) return;
    assert.equal(runModuleSync("SupportsRollback", tree, env, cmd).stdout, "Yes\n");
    const install = runModuleSync("ArtifactInstall", tree, env, cmd);
    assert.equal(install.status, 0, install.stderr);
    assert.equal(bootEnv.read().get("mender_boot_part"), "3");
    assert.equal(bootEnv.read().get("upgrade_available"), "1");
  });
}

test("aarch64 binary under qemu-user: full flow with the real client (seed, install, reboot, commit)", async (t) => {
  const target = TARGETS.find((x) => x.arch === "aarch64")!;
  if (!needRoot(t, "loop devices, mounts and mount namespaces")) return;
  if (!needTools(t, "mender", "mender-artifact", "fw_printenv", "fw_setenv", "xdelta3", "mke2fs", "losetup", "unshare")) return;
  const cmd = builtModule(t, target);
  if (!cmd) return;
  const partA = path.join(work, "a.img");
  const partB = path.join(work, "b.img");
  fs.copyFileSync(v1, partA);
  fs.truncateSync(partA, 6 << 20);
  fs.writeFileSync(partB, Buffer.alloc(6 << 20));
  const s = new ClientSandbox(path.join(work, "sb"), [partA, partB], cmd);
  try {
    const sum1 = sha256File(v1);
    const sum2 = sha256File(v2);
    const size = fs.statSync(v1).size;
    let r = s.mender(
      "install",
      s.artifact("seed", { type: "noop-module", provides: [`rootfs-image.checksum:${sum1}`, "rootfs-image.version:release-1"] }),
    );
    assert.equal(r.status, 0, r.log);
    const art = s.artifact("release-2", {
      file: deltaFile,
      depends: [`rootfs-image.checksum:${sum1}`],
      provides: [`rootfs-image.checksum:${sum2}`, "rootfs-image.version:release-2"],
      clears: ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"],
      meta: { delta_algorithm: "xdelta3", rootfs_file_size: size },
    });
    r = s.mender("install", art);
    assert.equal(r.status, 0, r.log);
    assert.deepEqual(s.env(), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" });
    assert.equal(sha256Direct(s.loops[1], size), sum2);
    s.reboot();
    r = s.mender("commit");
    assert.equal(r.status, 0, r.log);
    assert.equal(s.env().upgrade_available, "0");
    assert.equal(s.provides().get("rootfs-image.checksum"), sum2);

  } finally {
    s.close();
  }
});
