/**
 * The module driven by the real Mender clients in standalone mode, one suite run under each: the Go
 * client `mender` 3.4 (Debian) and the C++ client `mender-update` 5.1 (the one fleets built with
 * current Yocto run; MENDER_UPDATE names the binary). Loop devices are the partitions, the running
 * one mounted read-only (ext4 with a journal: buffered reads of it differ from the image), and the
 * U-Boot environment is file-backed (client-sandbox.ts says how each client finds its files).
 *
 * CLIENT_STATES (client-sandbox.ts) is what each client calls, in order; every scenario checks it,
 * and docs/device.md's compatibility table is tied to these tests.
 */
import { spawnSync } from "node:child_process";
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needRoot, needTools } from "../helpers/peers";
import { lzma2PartStarts } from "../compress/xz-fixtures";
import { generate, makeKeys, makeReleaseChain, providesOf } from "../generator/fixtures";
import { CLIENTS, CLIENT_STATES, ClientSandbox, INITIAL_ENV, SWITCHED_TO_B, installRebootCommit, sandboxOnImages } from "./client-sandbox";
import { MULTI_LINE_SCRIPT, addAwkwardVariables, makeDelta, moduleCommand, sha256Direct } from "./fixtures";

const PART_BYTES = 6 << 20;
const TOOLS = ["mender-artifact", "fw_printenv", "fw_setenv", "xdelta3", "mke2fs", "losetup", "openssl"];
const CLEARS = ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"];

interface Releases {
  images: [string, string, string];
  sums: [string, string, string];
  imageBytes: number;
  /** xdelta3 deltas (payload names as Mender's tooling makes them: <target image>.delta). */
  delta12: string;
  delta21: string;
  /** rootfs-image Artifacts of the three releases, made by mender-artifact. */
  rootfs: [string, string, string];
  /** The generator's deltas from those Artifacts: 1 -> 2, 2 -> 3, and 1 -> 2 signed with `keys.ec`. */
  gen12: string;
  gen23: string;
  gen12Signed: string;
  gen12OtherKey: string;
  keys: { ec: { key: string; pub: string }; other: { key: string; pub: string } };
}

let work = "";
let rel: Releases | undefined;

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-client-"));
  if (process.getuid?.() !== 0 || !TOOLS.every((t) => ["/usr/bin", "/usr/sbin", "/sbin", "/bin"].some((d) => fs.existsSync(path.join(d, t))))) return;
  const chain = makeReleaseChain(path.join(work, "rel"), 3);
  const images = chain.images as [string, string, string];
  for (const d of ["d12", "d21"]) fs.mkdirSync(path.join(work, d));
  const delta12 = path.join(work, "d12", "v2.ext4.delta");
  const delta21 = path.join(work, "d21", "v1.ext4.delta");
  makeDelta(images[0], images[1], delta12);
  makeDelta(images[1], images[0], delta21);
  const rootfs = chain.rootfs as [string, string, string];
  const keys = { ec: makeKeys(work, "ec"), other: makeKeys(fs.mkdtempSync(path.join(work, "other-")), "ec") };
  const out = (name: string) => path.join(work, `${name}.mender`);
  // In xz parts of 4 KiB on 2 threads: each client reads one block whose LZMA2 stream runs on
  // from part to part (a state reset that keeps the dictionary at each), as large payloads are written.
  await generate({ output: out("gen12"), xzBlockSize: "4096", threads: "2" }, rootfs[0], rootfs[1]);
  const payload = spawnSync("tar", ["-xOf", out("gen12"), "data/0000.tar.xz"], { maxBuffer: 1 << 30 });
  assert.equal(payload.status, 0, String(payload.stderr));
  assert.ok(lzma2PartStarts(payload.stdout) > 1, "gen12's payload is not a parallel xz");
  await generate({ output: out("gen23") }, rootfs[1], rootfs[2]);
  await generate({ output: out("gen12-signed"), key: keys.ec.key }, rootfs[0], rootfs[1]);
  await generate({ output: out("gen12-other-key"), key: keys.other.key }, rootfs[0], rootfs[1]);
  rel = {
    images,
    sums: chain.sums as [string, string, string],
    imageBytes: chain.imageBytes,
    delta12,
    delta21,
    rootfs,
    gen12: out("gen12"),
    gen23: out("gen23"),
    gen12Signed: out("gen12-signed"),
    gen12OtherKey: out("gen12-other-key"),
    keys,
  };
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

for (const client of CLIENTS) {
  describe(`real client ${client.label}`, () => {
    let sb: ClientSandbox | undefined;
    const states = CLIENT_STATES[client.version];

    before(() => {
      if (!rel) return;
      sb = sandboxOnImages(path.join(work, `sb-${client.version}`), rel.images[0], PART_BYTES, client);
    });

    after(() => sb?.close());

    function usable(t: TestContext): [ClientSandbox, Releases] | undefined {
      if (!needRoot(t, "loop devices, mounts and mount namespaces") || !needTools(t, ...TOOLS) || !client.available(t)) return undefined;
      assert.ok(rel && sb, "releases and sandbox set up");
      return [sb, rel];
    }

    /** Fresh database and boot environment: the device runs release 1 from A. */
    function atRelease1(s: ClientSandbox, r: Releases, provides = [`rootfs-image.checksum:${r.sums[0]}`, "rootfs-image.version:release-1"]): void {
      s.reset();
      s.seed("release-1", provides);
      assert.equal(s.provides().get("rootfs-image.checksum"), r.sums[0]);
    }

    function deltaArtifact(s: ClientSandbox, name: string, file: string, from: string, to: string, r: Releases, extra: { deviceType?: string } = {}): string {
      return s.artifact(name, {
        file,
        depends: [`rootfs-image.checksum:${from}`],
        provides: [`rootfs-image.checksum:${to}`, `rootfs-image.version:${name}`],
        clears: CLEARS,
        meta: { delta_algorithm: "xdelta3", rootfs_file_size: r.imageBytes },
        ...extra,
      });
    }

    test("install -> env switched, commit -> provides; a delta back to v1; install and roll back before the reboot", (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      atRelease1(s, r);

      const art12 = deltaArtifact(s, "release-2", r.delta12, r.sums[0], r.sums[1], r);
      let res = s.mender("install", art12);
      assert.equal(res.status, 0, res.log);
      assert.deepEqual(s.takeStates(), states.install);
      assert.deepEqual(s.bootEnv.takeSetBatches(), ["-s -: mender_boot_part=3;mender_boot_part_hex=3;upgrade_available=1;bootcount=0"]);
      assert.deepEqual(s.env(), SWITCHED_TO_B);
      assert.equal(sha256Direct(s.loops[1], r.imageBytes), r.sums[1], "inactive partition holds the new image");
      assert.match(res.log, /active partition matches the delta's source/);
      if (client.version === "5.1") {
        // DownloadWithFileSizes: the client's declared size is the payload's, and progress counts it.
        const size = fs.statSync(r.delta12).size;
        assert.match(res.log, new RegExp(`progress: 100% of the payload \\(${size} of ${size} bytes\\)`));
      }

      s.reboot();
      res = s.mender("commit");
      assert.equal(res.status, 0, res.log);
      assert.deepEqual(s.takeStates(), states.commit);
      assert.equal(s.env().upgrade_available, "0");
      let p = s.provides();
      assert.equal(p.get("rootfs-image.checksum"), r.sums[1]);
      assert.equal(p.get("rootfs-image.version"), "release-2");
      assert.equal(p.get("artifact_name"), "release-2");

      // And back: v2 (now running from B, mounted read-only) -> v1 onto A.
      installRebootCommit(s, deltaArtifact(s, "release-1b", r.delta21, r.sums[1], r.sums[0], r), { ...INITIAL_ENV, upgrade_available: "1" });
      p = s.provides();
      assert.equal(p.get("rootfs-image.checksum"), r.sums[0]);
      assert.equal(sha256Direct(s.loops[0], r.imageBytes), r.sums[0]);

      // Install, then roll back before rebooting: env restored, provides unchanged.
      res = s.mender("install", art12);
      assert.equal(res.status, 0, res.log);
      s.takeStates();
      s.bootEnv.takeSetBatches();
      res = s.mender("rollback");
      assert.equal(res.status, 0, res.log);
      assert.deepEqual(s.takeStates(), states.rollback);
      assert.deepEqual(s.bootEnv.takeSetBatches(), ["-s -: mender_boot_part=2;mender_boot_part_hex=2;upgrade_available=0"]);
      assert.deepEqual({ ...s.env(), bootcount: "0" }, INITIAL_ENV);
      assert.equal(s.provides().get("rootfs-image.checksum"), r.sums[0]);
      assert.equal(s.artifactName(), "release-1b");
    });

    test("a U-Boot environment with a multi-line script, '=' in a value, an empty value, nearly full -> install+commit, install+rollback", (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      s.reset();
      const extra = addAwkwardVariables(s.bootEnv);
      assert.equal(extra.get("mender_bootscript"), MULTI_LINE_SCRIPT);
      const kept = (when: string) => {
        const now = s.bootEnv.read();
        for (const [k, v] of extra) assert.equal(now.get(k), v, `${k} kept after ${when}`);
      };
      s.seed("release-1", [`rootfs-image.checksum:${r.sums[0]}`, "rootfs-image.version:release-1"]);

      installRebootCommit(s, deltaArtifact(s, "release-2", r.delta12, r.sums[0], r.sums[1], r), SWITCHED_TO_B);
      assert.equal(sha256Direct(s.loops[1], r.imageBytes), r.sums[1]);
      assert.equal(s.provides().get("rootfs-image.checksum"), r.sums[1]);
      kept("install and commit");

      // v2 (running from B) -> v1 onto A, then rolled back after the reboot into A.
      const res0 = s.mender("install", deltaArtifact(s, "release-1b", r.delta21, r.sums[1], r.sums[0], r));
      assert.equal(res0.status, 0, res0.log);
      assert.deepEqual(s.env(), { ...INITIAL_ENV, upgrade_available: "1" });
      s.takeStates();
      s.reboot();
      const res = s.mender("rollback");
      assert.equal(res.status, 0, res.log);
      assert.deepEqual(s.takeStates(), states.rollback);
      assert.deepEqual({ ...s.env(), bootcount: "0" }, { ...SWITCHED_TO_B, upgrade_available: "0" });
      assert.equal(s.provides().get("rootfs-image.checksum"), r.sums[1], "the rolled-back release is not recorded");
      kept("rollback");
    });

    test("install, reboot into the new partition, roll back there, reboot back: the old release runs", (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      atRelease1(s, r);
      let res = s.mender("install", deltaArtifact(s, "release-2", r.delta12, r.sums[0], r.sums[1], r));
      assert.equal(res.status, 0, res.log);
      s.takeStates();
      s.reboot(); // into B
      res = s.mender("rollback");
      assert.equal(res.status, 0, res.log);
      assert.deepEqual(s.takeStates(), states.rollback);
      assert.deepEqual({ ...s.env(), bootcount: "0" }, INITIAL_ENV);
      s.reboot(); // back into A
      assert.equal(s.artifactName(), "release-1");
      assert.equal(s.provides().get("rootfs-image.checksum"), r.sums[0]);
      assert.equal(sha256Direct(s.loops[0], r.imageBytes), r.sums[0]);
      res = s.mender("rollback");
      assert.equal(res.status, 2, `nothing left to roll back: ${res.log}`);
      assert.deepEqual(s.takeStates(), []);
    });

    /** The install fails; nothing of the device changed. `moduleCalled`: whether the client got as far as the module's Download. */
    function expectRefused(s: ClientSandbox, r: Releases, artifact: string, message: RegExp, moduleCalled = true): void {
      const activeBefore = sha256Direct(s.loops[0]);
      const inactiveBefore = sha256Direct(s.loops[1]);
      s.takeStates();
      const res = s.mender("install", artifact);
      assert.equal(res.status, 1, res.log);
      assert.match(res.log, message);
      assert.deepEqual(s.takeStates(), moduleCalled ? states.refusedDownload : []);
      assert.deepEqual(s.env(), INITIAL_ENV, "boot environment unchanged");
      assert.deepEqual(s.bootEnv.takeSetBatches(), [], "fw_setenv never called");
      assert.equal(sha256Direct(s.loops[0]), activeBefore, "active partition unchanged");
      if (!moduleCalled) assert.equal(sha256Direct(s.loops[1]), inactiveBefore, "not a byte written to the inactive partition");
      assert.equal(s.provides().get("rootfs-image.checksum"), r.sums[0]);
      assert.equal(s.artifactName(), "release-1");
    }

    test("wrong source, corrupted, truncated or oversized delta, other device type, unsaved boot env -> refused, device unchanged", (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      atRelease1(s, r);

      const bad = fs.readFileSync(r.delta12);
      for (let i = 300; i < bad.length; i += 61) bad[i]! ^= 0x55;
      const corrupt = path.join(s.art, "corrupt", "v2.ext4.delta");
      fs.mkdirSync(path.dirname(corrupt), { recursive: true });
      fs.writeFileSync(corrupt, bad);
      expectRefused(s, r, deltaArtifact(s, "corrupt", corrupt, r.sums[0], r.sums[1], r), /applying v2\.ext4\.delta failed/);

      const short = path.join(s.art, "short", "v2.ext4.delta");
      fs.mkdirSync(path.dirname(short), { recursive: true });
      fs.writeFileSync(short, fs.readFileSync(r.delta12).subarray(0, Math.floor(fs.statSync(r.delta12).size * 0.6)));
      expectRefused(s, r, deltaArtifact(s, "short", short, r.sums[0], r.sums[1], r), /applying v2\.ext4\.delta failed/);

      // A payload larger than any delta for the 6 MiB target partition can be. 5.1 announces its size
      // and the module refuses it before reading a byte; 3.4 announces nothing and the decoder rejects it.
      const huge = path.join(s.art, "huge", "v2.ext4.delta");
      fs.mkdirSync(path.dirname(huge), { recursive: true });
      fs.writeFileSync(huge, crypto.randomBytes(PART_BYTES + PART_BYTES / 64 + (1 << 20) + 1));
      const bBefore = sha256Direct(s.loops[1]);
      expectRefused(
        s,
        r,
        deltaArtifact(s, "huge", huge, r.sums[0], r.sums[1], r),
        client.version === "5.1" ? /the client declares the payload file v2\.ext4\.delta as \d+ bytes, more than any delta for the target partition/ : /applying v2\.ext4\.delta failed/,
      );
      assert.equal(sha256Direct(s.loops[1]), bBefore, "B untouched");

      // The client itself compares the device type before it runs the module.
      expectRefused(s, r, deltaArtifact(s, "otherdev", r.delta12, r.sums[0], r.sums[1], r, { deviceType: "other-device" }), /other-device|device type doesn't match/, false);

      // U-Boot could not save its environment at boot (canary unset): nothing may be written.
      s.bootEnv.set({ mender_check_saveenv_canary: "1" });
      expectRefused(s, r, deltaArtifact(s, "release-2", r.delta12, r.sums[0], r.sums[1], r), /mender_saveenv_canary check/);
      s.bootEnv.set({ mender_check_saveenv_canary: "0" });

      // One byte of the running partition changed (in the image's free space), behind the mount's back.
      const offset = r.imageBytes - 4096 * 3;
      const fd = fs.openSync(s.loops[0], "r+");
      const saved = Buffer.alloc(1);
      fs.readSync(fd, saved, 0, 1, offset);
      try {
        fs.writeSync(fd, Buffer.from([saved[0]! ^ 0xff]), 0, 1, offset);
        fs.fsyncSync(fd);
        const before = sha256Direct(s.loops[1]);
        expectRefused(s, r, deltaArtifact(s, "release-2", r.delta12, r.sums[0], r.sums[1], r), /not the image this delta was made from.*read-only/);
        assert.equal(sha256Direct(s.loops[1]), before, "nothing written to the inactive partition either");
      } finally {
        fs.writeSync(fd, saved, 0, 1, offset);
        fs.fsyncSync(fd);
        fs.closeSync(fd);
      }
    });

    test("module SIGKILLed during Download -> install fails cleanly, the retry succeeds", (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      const killLog = path.join(work, `kills-${client.version}.log`);
      const real = `${moduleCommand().map((c) => `'${c}'`).join(" ")} "$@"`;
      try {
        // Kill points: while hashing the source, while decoding into the target, while verifying it.
        for (const point of ["checking the active partition", "applying ", "wrote [0-9]* bytes"]) {
          atRelease1(s, r);
          const marker = path.join(work, `kill-at-${client.version}`);
          const stderr = path.join(work, `module-${client.version}.stderr`);
          fs.writeFileSync(marker, point);
          fs.writeFileSync(
            path.join(s.modules, "mender-binary-delta"),
            `#!/bin/sh\ncase "$1" in Download|DownloadWithFileSizes) [ -f '${marker}' ] && armed=1;; esac\nif [ -n "$armed" ]; then\n` +
              `  p=$(cat '${marker}'); rm -f '${marker}'\n` +
              `  ${real} 2>'${stderr}' &\n  pid=$!\n` +
              `  while kill -0 $pid 2>/dev/null && ! grep -q "$p" '${stderr}'; do sleep 0.005; done\n` +
              `  kill -9 $pid 2>/dev/null && echo "killed at: $p" >> '${killLog}'\n` +
              `  wait $pid; rc=$?; cat '${stderr}' >&2; exit $rc\nfi\n` +
              `exec ${real}\n`,
            { mode: 0o755 },
          );
          const art = deltaArtifact(s, "release-2", r.delta12, r.sums[0], r.sums[1], r);
          const first = s.mender("install", art);
          if (first.status === 0) continue; // finished before the kill landed: nothing to show at this point
          assert.deepEqual(s.env(), INITIAL_ENV, "killed Download leaves the boot environment alone");
          assert.equal(s.artifactName(), "release-1");
          const retry = s.mender("install", art);
          assert.equal(retry.status, 0, retry.log);
          assert.deepEqual(s.env(), SWITCHED_TO_B);
          assert.equal(sha256Direct(s.loops[1], r.imageBytes), r.sums[1]);
        }
        const kills = fs.existsSync(killLog) ? fs.readFileSync(killLog, "utf8").trim().split("\n") : [];
        t.diagnostic(kills.join("; "));
        assert.ok(kills.length >= 2, `the module was killed during Download at least twice (${kills.join("; ")})`);
      } finally {
        s.setModule(moduleCommand());
      }
    });

    test("a delta Artifact made by mender-binary-delta-generator from two rootfs-image Artifacts installs", async (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      atRelease1(s, r, await providesOf(r.rootfs[0]));
      s.eraseB(r.imageBytes);
      installRebootCommit(s, r.gen12, SWITCHED_TO_B);
      assert.equal(sha256Direct(s.loops[1], r.imageBytes), r.sums[1]);
      const p = s.provides();
      for (const kv of await providesOf(r.rootfs[1])) {
        const key = kv.slice(0, kv.indexOf(":"));
        assert.equal(`${key}:${p.get(key)}`, kv, `provide ${key} after the commit`);
      }
      assert.equal(p.get("artifact_name"), "release-2");
    });

    test("signed Artifacts with ArtifactVerifyKey: the generator's signature verifies; unsigned and other keys are refused", async (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      atRelease1(s, r, await providesOf(r.rootfs[0])); // 3.4 seeds with an unsigned Artifact: before the key is set
      s.configure({ ArtifactVerifyKey: r.keys.ec.pub });
      try {
        expectRefused(s, r, r.gen12, /signature|signed|verify/i, false);
        expectRefused(s, r, r.gen12OtherKey, /signature|verif/i, false);
        installRebootCommit(s, r.gen12Signed, SWITCHED_TO_B);
        assert.equal(sha256Direct(s.loops[1], r.imageBytes), r.sums[1]);
        assert.equal(s.provides().get("rootfs-image.checksum"), r.sums[1]);
      } finally {
        s.configure({ ArtifactVerifyKey: undefined });
      }
    });

    test("a chain of deltas 1 -> 2 -> 3: each commit provides the new checksum; 2 -> 3 on a device at 1 is refused before a byte is written", async (t) => {
      const u = usable(t);
      if (!u) return;
      const [s, r] = u;
      atRelease1(s, r, await providesOf(r.rootfs[0]));
      s.eraseB(r.imageBytes);
      // The client's depends check (rootfs-image.checksum of release 2) stops it before the module runs.
      expectRefused(s, r, r.gen23, /rootfs-image\.checksum|depend/i, false);

      installRebootCommit(s, r.gen12, SWITCHED_TO_B);
      assert.equal(s.provides().get("rootfs-image.checksum"), r.sums[1]);
      assert.equal(sha256Direct(s.loops[1], r.imageBytes), r.sums[1]);

      installRebootCommit(s, r.gen23, { ...INITIAL_ENV, upgrade_available: "1" });
      const p = s.provides();
      assert.equal(p.get("rootfs-image.checksum"), r.sums[2]);
      assert.equal(p.get("artifact_name"), "release-3");
      assert.equal(sha256Direct(s.loops[0], r.imageBytes), r.sums[2], "A holds release 3");
    });
  });
}
