/**
 * `mender-update daemon` (5.1), the way fleets run the client, driving the module through whole
 * deployments from a server (mender-server.ts: the device side of the API on 127.0.0.1, HTTPS with
 * a self-signed certificate) with real reboots in between (daemon-device.ts: a `reboot` stand-in,
 * U-Boot's fallback logic, the daemon restarted on the partition the boot environment boots):
 *   - a deployment that succeeds: status success, the boot environment committed on B;
 *   - one whose new partition does not boot: U-Boot falls back to A, the daemon rolls back and
 *     reports failure, the environment is back on A;
 *   - a delta for another base than the running one: refused before any write, failure reported
 *     with the module's message in the uploaded deployment log.
 * Standalone mode never calls the reboot states; only these tests show what the daemon does.
 */
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needRoot, needTools } from "../helpers/peers";
import { generate, makeReleaseChain, providesOf, type ReleaseChain } from "../generator/fixtures";
import { ClientSandbox, DEVICE_TYPE, MENDER_UPDATE_5_1 } from "./client-sandbox";
import { DaemonDevice } from "./daemon-device";
import { makeImagePartitions, moduleCommand, sha256Direct } from "./fixtures";
import { MenderServerStub } from "./mender-server";

const PART_BYTES = 6 << 20;
const TOOLS = ["mender-artifact", "fw_printenv", "fw_setenv", "mke2fs", "losetup", "mount", "openssl"];
/** A whole deployment with two reboots takes seconds; this only bounds a hang. */
const DEPLOYMENT_TIMEOUT_MS = 120_000;

let work = "";
let rel: ReleaseChain | undefined;
let gen12 = "";
let gen23 = "";
let sb: ClientSandbox | undefined;
let server: MenderServerStub | undefined;

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-daemon-"));
  if (process.getuid?.() !== 0 || !TOOLS.every((t) => ["/usr/bin", "/usr/sbin", "/sbin", "/bin"].some((d) => fs.existsSync(path.join(d, t))))) return;
  rel = makeReleaseChain(path.join(work, "rel"), 3);
  gen12 = path.join(work, "delta-1-2.mender");
  gen23 = path.join(work, "delta-2-3.mender");
  await generate({ output: gen12 }, rel.rootfs[0]!, rel.rootfs[1]!);
  // For a read-only root: these small releases share the bytes a read-write delta 2 -> 3 reads, so
  // with its read set it would (rightly, verified) install on release 1; the wrong-base case below
  // needs the whole-partition check.
  await generate({ output: gen23, rootMount: "ro" }, rel.rootfs[1]!, rel.rootfs[2]!);
  const partA = path.join(work, "partA.img");
  const partB = path.join(work, "partB.img");
  makeImagePartitions(partA, partB, rel.images[0]!, PART_BYTES);
  server = await MenderServerStub.start(path.join(work, "server"));
  sb = new ClientSandbox(path.join(work, "sb"), [partA, partB], moduleCommand(), MENDER_UPDATE_5_1);
  // What a device image has besides the client: its identity and an inventory script.
  for (const [dir, name, script] of [
    ["identity", "mender-device-identity", "echo mac=02:00:00:00:00:01"],
    ["inventory", "mender-inventory-test", "echo test_inventory=present"],
  ]) {
    fs.mkdirSync(path.join(sb.share, dir!), { recursive: true });
    fs.writeFileSync(path.join(sb.share, dir!, name!), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  }
  sb.configure({
    ServerURL: server.url,
    ServerCertificate: server.certificate,
    UpdatePollIntervalSeconds: 5,
    InventoryPollIntervalSeconds: 600,
    RetryPollIntervalSeconds: 1,
  });
});

after(async () => {
  sb?.close();
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function usable(t: TestContext): [ClientSandbox, MenderServerStub, ReleaseChain] | undefined {
  if (!needRoot(t, "loop devices and mounts") || !needTools(t, ...TOOLS) || !MENDER_UPDATE_5_1.available(t)) return undefined;
  assert.ok(rel && sb && server, "releases, sandbox and server set up");
  return [sb, server, rel];
}

/** Runs one deployment to its final status (and the log upload of a failure); the daemon is stopped afterwards. */
async function deployment(s: ClientSandbox, srv: MenderServerStub, dev: DaemonDevice, id: string, artifact: string, artifactName: string): Promise<string[]> {
  srv.deploy({ id, artifactName, file: artifact, deviceTypes: [DEVICE_TYPE] });
  try {
    await dev.runUntil(
      `the final status of deployment ${id}`,
      () => {
        const st = srv.statusesOf(id);
        return st.includes("success") || (st.includes("failure") && srv.logs.has(id));
      },
      DEPLOYMENT_TIMEOUT_MS,
    );
  } finally {
    await dev.stop();
  }
  fs.writeFileSync(path.join(s.dir, "log", `daemon-${id}.log`), dev.log());
  assert.deepEqual(srv.unexpected, [], "every request was one of the API's");
  assert.ok(srv.authentications > 0, "the device authenticated with a signed request");
  return srv.statusesOf(id);
}

/** Fresh database and boot environment, B erased: the device runs `release` (1 or 2; its provides) from A. */
async function freshDevice(s: ClientSandbox, r: ReleaseChain, release: number): Promise<void> {
  s.reset();
  s.seed(`release-${release}`, await providesOf(r.rootfs[release - 1]!));
  s.eraseB(r.imageBytes);
}

/** The module's own lines in the deployment log the device uploaded. */
function uploadedModuleLines(srv: MenderServerStub, id: string): string[] {
  return (srv.logs.get(id) ?? []).map((m) => m.message).filter((m) => m.includes("mender-binary-delta:"));
}

test("daemon: a deployment that succeeds (install, reboot into B, verify, commit): status success, env committed on B", async (t) => {
  const u = usable(t);
  if (!u) return;
  const [s, srv, r] = u;
  await freshDevice(s, r, 1);
  const dev = new DaemonDevice(s);
  const statuses = await deployment(s, srv, dev, "dep-success", gen12, "release-2");

  // "installing" again before the commit: the client reports it when it enters ArtifactCommit.
  assert.deepEqual(statuses, ["downloading", "installing", "rebooting", "installing", "success"]);
  assert.deepEqual(s.takeStates(), [
    "ProvidePayloadFileSizes", "DownloadWithFileSizes", "ArtifactInstall", "NeedsArtifactReboot",
    "ArtifactVerifyReboot", "ArtifactCommit", "Cleanup",
  ]);
  assert.deepEqual(dev.boots, ["bootcount 1; booted partition 3"]);
  assert.deepEqual({ ...s.env(), bootcount: undefined }, { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "0", bootcount: undefined });
  assert.equal(sha256Direct(s.loops[1], r.imageBytes), r.sums[1], "B holds release 2");
  const p = s.provides();
  assert.equal(p.get("rootfs-image.checksum"), r.sums[1]);
  assert.equal(p.get("artifact_name"), "release-2");
  assert.match(dev.log(), /progress: 100% of the payload/);
  assert.ok(srv.polls.some((q) => q["rootfs-image.checksum"] === r.sums[0]), "the device polled with its provides");
  assert.ok(srv.inventories.some((inv) => inv.some((a) => a.name === "test_inventory")), "inventory submitted");
});

test("daemon: the new partition does not boot: U-Boot falls back to A, the daemon rolls back and reports failure", async (t) => {
  const u = usable(t);
  if (!u) return;
  const [s, srv, r] = u;
  await freshDevice(s, r, 1);
  const dev = new DaemonDevice(s, new Set([3]));
  const statuses = await deployment(s, srv, dev, "dep-rollback", gen12, "release-2");

  assert.deepEqual(statuses, ["downloading", "installing", "rebooting", "failure"]);
  assert.deepEqual(s.takeStates(), [
    "ProvidePayloadFileSizes", "DownloadWithFileSizes", "ArtifactInstall", "NeedsArtifactReboot",
    "ArtifactVerifyReboot", "SupportsRollback", "ArtifactRollback", "NeedsArtifactReboot", "ArtifactVerifyRollbackReboot", "ArtifactFailure", "Cleanup",
  ]);
  assert.deepEqual(dev.boots, [
    "bootcount 1; partition 3 fails to boot (reset)",
    "bootcount 2 > bootlimit 1: altbootcmd falls back; booted partition 2",
    "booted partition 2",
  ]);
  assert.deepEqual({ ...s.env(), bootcount: undefined }, { mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0", bootcount: undefined });
  assert.equal(sha256Direct(s.loops[0], r.imageBytes), r.sums[0], "A still holds release 1");
  const p = s.provides();
  assert.equal(p.get("rootfs-image.checksum"), r.sums[0]);
  assert.equal(p.get("artifact_name"), "release-1");
  assert.ok(
    uploadedModuleLines(srv, "dep-rollback").some((l) => /ArtifactVerifyReboot: upgrade_available is not 1: the new partition failed to boot/.test(l)),
    `the module's verdict is in the uploaded log:\n${uploadedModuleLines(srv, "dep-rollback").join("\n")}`,
  );
});

test("daemon: a delta for another base than the running root is refused before any write, failure with the module's message uploaded", async (t) => {
  const u = usable(t);
  if (!u) return;
  const [s, srv, r] = u;
  // The database says release 2 (e.g. a device re-flashed by hand), the running root A is release 1:
  // the client's depends check passes, the module's check of the partition itself must catch it.
  await freshDevice(s, r, 2);
  const bBefore = sha256Direct(s.loops[1]);
  const dev = new DaemonDevice(s);
  const statuses = await deployment(s, srv, dev, "dep-other-base", gen23, "release-3");

  assert.deepEqual(statuses, ["downloading", "failure"]);
  assert.deepEqual(s.takeStates(), ["ProvidePayloadFileSizes", "DownloadWithFileSizes", "Cleanup"]);
  assert.deepEqual(dev.boots, [], "no reboot");
  assert.equal(sha256Direct(s.loops[1]), bBefore, "not a byte written to B");
  assert.equal(sha256Direct(s.loops[0], r.imageBytes), r.sums[0], "A unchanged");
  assert.deepEqual({ ...s.env(), bootcount: undefined }, { mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0", bootcount: undefined });
  assert.equal(s.provides().get("artifact_name"), "release-2");
  const lines = uploadedModuleLines(srv, "dep-other-base");
  assert.ok(
    lines.some((l) => /error: the active partition \S+ is not the image this delta was made from/.test(l)),
    `the module's message is in the uploaded log:\n${lines.join("\n")}`,
  );
});
