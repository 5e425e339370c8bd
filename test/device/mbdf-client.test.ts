/**
 * A file-aware (MBDF, delta_algorithm mbdf1) delta Artifact installed by the real Mender clients,
 * 3.4 and 5.1, in standalone mode (client-sandbox.ts: loop devices, file-backed U-Boot env). The
 * generator makes it with `--delta-format mbdf` from the rootfs-image Artifacts of two ext4 images
 * that differ as an update does (test/generator/update-pair.ts). First the Artifact is shown to be
 * MBDF, with APPROX, EXEC and REDEFLATE records, so that the installs go through the module's MBDF path;
 * then, under each client: install onto B (B = TO byte for byte), the simulated reboot, commit;
 * install followed by rollback, before the reboot and after it, back to A (A still FROM); and the
 * same Artifact with its payload marked as a future format version, or damaged: refused, the device
 * unchanged (the future version before a byte of B is written).
 */
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readArtifactHeaders } from "../../src/artifact";
import type { GenerationSummary } from "../../src/generator";
import { hasTool, needRoot, needTools } from "../helpers/peers";
import { extractPayload, providesOf, rootfsArtifact, runCli } from "../generator/fixtures";
import { makeUpdatePair } from "../generator/update-pair";
import { CLIENTS, CLIENT_STATES, ClientSandbox, INITIAL_ENV, SWITCHED_TO_B, installRebootCommit, sandboxOnImages } from "./client-sandbox";
import { sha256Direct, sha256File } from "./fixtures";

/** The pair's images are 8 MiB; the partitions a little larger, as on a device. */
const PART_BYTES = 10 << 20;
const GENERATE_TOOLS = ["mke2fs", "gzip", "mender-artifact"];
const TOOLS = [...GENERATE_TOOLS, "fw_printenv", "fw_setenv", "losetup", "unshare", "mount"];

interface MbdfRelease {
  /** FROM's and TO's image sha256 (rootfs-image.checksum). */
  sums: { from: string; to: string };
  imageBytes: number;
  fromImage: string;
  /** FROM's and TO's rootfs-image Artifacts, made by mender-artifact. */
  rootfs: { from: string; to: string };
  /** The generator's MBDF delta Artifact FROM -> TO, and its --json summary. */
  delta: string;
  summary: GenerationSummary;
}

let work = "";
let rel: MbdfRelease | undefined;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-mbdf-client-"));
  if (!GENERATE_TOOLS.every(hasTool)) return;
  const { from, to } = makeUpdatePair(path.join(work, "pair"));
  const rootfs = {
    from: rootfsArtifact(path.join(work, "release-1.mender"), from, "release-1"),
    to: rootfsArtifact(path.join(work, "release-2.mender"), to, "release-2"),
  };
  const delta = path.join(work, "delta-1-2.mender");
  const cli = runCli(["--delta-format", "mbdf", "--json", "-q", "-o", delta, rootfs.from, rootfs.to]);
  assert.equal(cli.status, 0, cli.stderr);
  rel = {
    sums: { from: sha256File(from), to: sha256File(to) },
    imageBytes: fs.statSync(from).size,
    fromImage: from,
    rootfs,
    delta,
    summary: JSON.parse(cli.stdout) as GenerationSummary,
  };
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

test("the generator's --delta-format mbdf Artifact is MBDF: delta_algorithm mbdf1, APPROX, EXEC and REDEFLATE records", async (t) => {
  if (!needTools(t, ...GENERATE_TOOLS)) return;
  assert.ok(rel, "pair and delta made");
  const headers = await readArtifactHeaders(rel.delta);
  assert.equal(headers.payloads[0]!.metaData?.delta_algorithm, "mbdf1");
  const s = rel.summary;
  assert.equal(s.delta.format, "mbdf");
  const records = s.delta.mbdf!.records;
  t.diagnostic(`Artifact ${s.artifactSize} bytes; records ${JSON.stringify(Object.fromEntries(Object.entries(records).filter(([, r]) => r.count > 0)))}`);
  assert.ok(s.delta.mbdf!.ext4, "both images read as ext4");
  assert.ok(records.approx.count >= 1, `an APPROX record (the rebuilt executable): ${JSON.stringify(records)}`);
  assert.ok(records.redeflate.count >= 1, `a REDEFLATE record (the changed .gz): ${JSON.stringify(records)}`);
  assert.equal(records.exec.count, 1, `an EXEC record (the rebuilt Socket.so): ${JSON.stringify(records)}`);
  assert.equal(s.to.sha256, rel.sums.to);
  assert.equal(s.from.sha256, rel.sums.from);
});

for (const client of CLIENTS) {
  describe(`MBDF delta, real client ${client.label}`, () => {
    let sb: ClientSandbox | undefined;
    const states = CLIENT_STATES[client.version];

    before(() => {
      if (!rel || process.getuid?.() !== 0 || !TOOLS.every(hasTool)) return;
      sb = sandboxOnImages(path.join(work, `sb-${client.version}`), rel.fromImage, PART_BYTES, client);
    });

    after(() => sb?.close());

    function usable(t: TestContext): [ClientSandbox, MbdfRelease] | undefined {
      if (!needRoot(t, "loop devices, mounts and mount namespaces") || !needTools(t, ...TOOLS) || !client.available(t)) return undefined;
      assert.ok(rel && sb, "release pair and sandbox set up");
      return [sb, rel];
    }

    /** The device runs FROM from A, with FROM's provides; B zeroed, so the install writes all of TO. */
    async function atFrom(s: ClientSandbox, r: MbdfRelease): Promise<void> {
      s.reset();
      s.eraseB(r.imageBytes);
      s.seed("release-1", await providesOf(r.rootfs.from));
      assert.equal(s.provides().get("rootfs-image.checksum"), r.sums.from);
    }

    /**
     * The install's own checks: B holds TO, written by this install (B was zeroed: only the frames
     * that are zeros in TO too are skipped); 5.1 streamed the whole payload.
     */
    function installed(s: ClientSandbox, r: MbdfRelease, log: string): void {
      assert.equal(sha256Direct(s.loops[1], r.imageBytes), r.sums.to, "the inactive partition holds TO byte for byte");
      assert.match(log, /active partition matches the delta's source/);
      assert.match(log, new RegExp(`wrote ${r.imageBytes} bytes to \\S+: [1-9]\\d* MiB frames written`));
      if (client.version === "5.1") {
        const size = r.summary.delta.size;
        assert.match(log, new RegExp(`progress: 100% of the payload \\(${size} of ${size} bytes\\)`));
      }
    }

    test("install -> B = TO, env switched; reboot, commit -> TO's provides", async (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      await atFrom(s, r);
      s.bootEnv.takeSetBatches();
      const log = installRebootCommit(s, r.delta, SWITCHED_TO_B);
      installed(s, r, log);
      assert.deepEqual(s.bootEnv.takeSetBatches(), [
        "-s -: mender_boot_part=3;mender_boot_part_hex=3;upgrade_available=1;bootcount=0",
        "-s -: upgrade_available=0",
      ]);
      assert.deepEqual(s.env(), { ...SWITCHED_TO_B, upgrade_available: "0" });
      const p = s.provides();
      for (const kv of await providesOf(r.rootfs.to)) {
        const key = kv.slice(0, kv.indexOf(":"));
        assert.equal(`${key}:${p.get(key)}`, kv, `provide ${key} after the commit`);
      }
      assert.equal(p.get("rootfs-image.checksum"), r.sums.to);
      assert.equal(s.artifactName(), "release-2");
      assert.equal(sha256Direct(s.loops[0], r.imageBytes), r.sums.from, "A still holds FROM");
    });

    test("install, roll back before the reboot; install, reboot into B, roll back there, reboot: FROM runs from A", async (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      await atFrom(s, r);
      const rollback = (expectedEnv: Record<string, string>) => {
        s.bootEnv.takeSetBatches();
        const res = s.mender("rollback");
        assert.equal(res.status, 0, res.log);
        assert.deepEqual(s.takeStates(), states.rollback);
        assert.deepEqual(s.bootEnv.takeSetBatches(), ["-s -: mender_boot_part=2;mender_boot_part_hex=2;upgrade_available=0"]);
        assert.deepEqual({ ...s.env(), bootcount: "0" }, expectedEnv);
      };

      let res = s.mender("install", r.delta);
      assert.equal(res.status, 0, res.log);
      assert.deepEqual(s.takeStates(), states.install);
      assert.deepEqual(s.env(), SWITCHED_TO_B);
      installed(s, r, res.log);
      rollback(INITIAL_ENV);
      assert.equal(s.artifactName(), "release-1");

      s.eraseB(r.imageBytes);
      res = s.mender("install", r.delta);
      assert.equal(res.status, 0, res.log);
      assert.deepEqual(s.takeStates(), states.install);
      installed(s, r, res.log);
      s.reboot(); // into B
      rollback(INITIAL_ENV);
      s.reboot(); // back into A
      assert.equal(s.artifactName(), "release-1");
      assert.equal(s.provides().get("rootfs-image.checksum"), r.sums.from);
      assert.equal(sha256Direct(s.loops[0], r.imageBytes), r.sums.from, "A still holds FROM");
      res = s.mender("rollback");
      assert.equal(res.status, 2, `nothing left to roll back: ${res.log}`);
      assert.deepEqual(s.takeStates(), []);
    });

    test("the payload as a future MBDF version, or damaged: refused, exit 1, boot env, provides and A unchanged", async (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      await atFrom(s, r);
      const header = (await readArtifactHeaders(r.delta)).payloads[0]!;
      const payload = path.join(s.art, "generated", "to.ext4.delta");
      fs.mkdirSync(path.dirname(payload), { recursive: true });
      assert.equal(await extractPayload(r.delta, payload), "to.ext4.delta");
      const original = fs.readFileSync(payload);
      assert.equal(original.subarray(0, 4).toString("latin1"), "MBDF");
      /** The generator's Artifact, its payload replaced by `bytes` (same headers, made by mender-artifact). */
      const withPayload = (name: string, bytes: Uint8Array): string => {
        const file = path.join(s.art, name, "to.ext4.delta");
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, bytes);
        const ti = header.typeInfo;
        return s.artifact(name, {
          file,
          depends: Object.entries(ti.depends).map(([k, v]) => `${k}:${String(v)}`),
          provides: Object.entries(ti.provides).map(([k, v]) => `${k}:${v}`),
          clears: ti.clearsProvides,
          meta: header.metaData ?? undefined,
        });
      };
      const refused = (artifact: string, message: RegExp): void => {
        s.bootEnv.takeSetBatches();
        const res = s.mender("install", artifact);
        assert.equal(res.status, 1, res.log);
        assert.match(res.log, message);
        assert.deepEqual(s.takeStates(), states.refusedDownload);
        assert.deepEqual(s.bootEnv.takeSetBatches(), [], "fw_setenv never called");
        assert.deepEqual(s.env(), INITIAL_ENV);
        assert.equal(sha256Direct(s.loops[0], r.imageBytes), r.sums.from, "A unchanged");
        assert.equal(s.provides().get("rootfs-image.checksum"), r.sums.from);
        assert.equal(s.artifactName(), "release-1");
      };

      // Byte 4 is the format version (docs/file-delta-format.md): a device release knows only 1.
      const future = Buffer.from(original);
      future[4] = 2;
      const bBefore = sha256Direct(s.loops[1]);
      refused(withPayload("future", future), /unsupported MBDF delta at the MBDF header.*format version 2/);
      assert.equal(sha256Direct(s.loops[1]), bBefore, "not a byte written to B");

      const damaged = Buffer.from(original);
      for (let i = 300; i < damaged.length; i += 61) damaged[i]! ^= 0x55;
      refused(withPayload("damaged", damaged), /applying to\.ext4\.delta failed/);

      // The same headers with the payload as generated install: the refusals were the payloads'.
      const res = s.mender("install", withPayload("regenerated", original));
      assert.equal(res.status, 0, res.log);
      installed(s, r, res.log);
    });
  });
}
