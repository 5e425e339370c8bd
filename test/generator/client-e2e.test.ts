/**
 * End to end with the real Mender 3.4 client and our device program: a device running FROM (its
 * image on partition A, its provides in the client's database), the generator's delta FROM -> TO
 * installed, the inactive partition equal to TO's image, commit updating the provides; then the
 * reverse delta back to FROM. Partitions are loop devices; the boot environment is file-backed
 * (test/device helpers). The client's own rootfs-image installer cannot run here (it looks for the
 * host's real root device), so FROM's provides are seeded with a no-op module Artifact, as
 * installing FROM would have left them (3.4 cannot install bootstrap Artifacts).
 */
import { spawnSync } from "node:child_process";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readArtifactHeaders } from "../../src/artifact";
import { needRoot, needTools } from "../helpers/peers";
import { ClientSandbox } from "../device/client-sandbox";
import { makeImagePartitions, sha256Direct } from "../device/fixtures";
import { generate, makeReleases, sha256File, type Releases } from "./fixtures";
import { lzma2PartStarts } from "../compress/xz-fixtures";

const PART_BYTES = 6 << 20;
const TOOLS = ["mender", "mender-artifact", "xz", "tar", "fw_printenv", "fw_setenv", "mke2fs", "losetup", "unshare", "mount"];
let work: string;
let rel: Releases;
let sb: ClientSandbox | undefined;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-gen-e2e-"));
  if (process.getuid?.() !== 0 || !TOOLS.every((t) => ["/usr/bin", "/usr/sbin", "/sbin", "/bin"].some((d) => fs.existsSync(path.join(d, t))))) return;
  rel = makeReleases(path.join(work, "rel"));
  const partA = path.join(work, "partA.img");
  const partB = path.join(work, "partB.img");
  makeImagePartitions(partA, partB, rel.v1, PART_BYTES);
  sb = new ClientSandbox(path.join(work, "sb"), [partA, partB]);
});

after(() => {
  sb?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

test("real client: device running FROM, delta FROM->TO installed and committed, then the reverse delta back to FROM", async (t) => {
  if (!needRoot(t, "loop devices, mounts and mount namespaces") || !needTools(t, ...TOOLS)) return;
  const s = sb!;
  const sum1 = sha256File(rel.v1);
  const sum2 = sha256File(rel.v2);
  const imageBytes = fs.statSync(rel.v1).size;

  // The device runs FROM: its image on A, its provides (exactly FROM's type-info provides) in the database.
  const fromProvides = (await readArtifactHeaders(rel.r1)).payloads[0]!.typeInfo.provides;
  const seed = s.artifact("release-1", { type: "noop-module", provides: Object.entries(fromProvides).map(([k, v]) => `${k}:${v}`) });
  let r = s.mender("install", seed);
  assert.equal(r.status, 0, r.log);
  let p = s.provides();
  assert.equal(p.get("rootfs-image.checksum"), sum1);
  assert.equal(p.get("artifact_name"), "release-1");

  // The delta FROM -> TO onto B.
  const d12 = path.join(work, "delta-1-2.mender");
  await generate({ output: d12 }, rel.r1, rel.r2);
  r = s.mender("install", d12);
  assert.equal(r.status, 0, r.log);
  assert.deepEqual(s.env(), { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" });
  assert.equal(sha256Direct(s.loops[1], imageBytes), sum2, "inactive partition B holds TO's image");
  s.reboot();
  r = s.mender("commit");
  assert.equal(r.status, 0, r.log);
  p = s.provides();
  const toProvides = (await readArtifactHeaders(rel.r2)).payloads[0]!.typeInfo.provides;
  for (const [k, v] of Object.entries(toProvides)) assert.equal(p.get(k), v, `provide ${k} after commit`);
  assert.equal(p.get("artifact_name"), "release-2");
  assert.equal(s.env().upgrade_available, "0");

  // And the reverse delta TO -> FROM onto A (wiped first, so it is really rebuilt).
  const wipe = fs.openSync(s.loops[0], "r+");
  fs.writeSync(wipe, Buffer.alloc(PART_BYTES), 0, PART_BYTES, 0);
  fs.fsyncSync(wipe);
  fs.closeSync(wipe);
  // This one is xz in parts of 4 KiB compressed by 2 threads: the client reads one block whose
  // LZMA2 stream runs on from part to part (a state reset without a dictionary reset at each).
  const d21 = path.join(work, "delta-2-1.mender");
  await generate({ output: d21, compression: "xz", xzBlockSize: "4096", threads: "2" }, rel.r2, rel.r1);
  assert.ok(xzPartStarts(d21) > 1, "the payload is not a parallel xz");
  const check = spawnSync("mender-artifact", ["validate", d21], { encoding: "utf8" });
  assert.equal(check.status, 0, `mender-artifact validate: ${check.stderr}`);
  r = s.mender("install", d21);
  assert.equal(r.status, 0, r.log);
  assert.equal(sha256Direct(s.loops[0], imageBytes), sum1, "inactive partition A holds FROM's image again");
  s.reboot();
  r = s.mender("commit");
  assert.equal(r.status, 0, r.log);
  p = s.provides();
  assert.equal(p.get("rootfs-image.checksum"), sum1);
  assert.equal(p.get("rootfs-image.version"), "release-1");
  assert.equal(p.get("artifact_name"), "release-1");
});

/** The number of xz blocks in the Artifact's payload data/0000.tar.xz, as `xz --list` counts them. */
function xzPartStarts(artifact: string): number {
  const payload = path.join(work, "payload.tar.xz");
  const r = spawnSync("sh", ["-c", `tar -xOf "${artifact}" data/0000.tar.xz > "${payload}" && xz --robot --list -vv "${payload}"`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("block\t")).length, 1, "the payload is not one xz block");
  return lzma2PartStarts(fs.readFileSync(payload));
}
