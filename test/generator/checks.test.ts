/**
 * Every input check of the generator, each with the error (or warning) a person sees, and nothing
 * written when a check fails.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { writeArtifact } from "../../src/artifact";
import { MenderDeltaError } from "../../src/errors";
import { DEVICE_TYPE, generate, makeKeys, rootfsArtifact, runCli, sha256File, releaseSuite } from "./fixtures";
import { needRoot } from "../helpers/peers";
import { buildArtifact } from "../reliability/hostile-artifacts";
import { execFileSync } from "node:child_process";

const suite = releaseSuite("mbd-gen-checks-", ["mender-artifact", "mke2fs", "openssl"]);
const usable = (t: import("node:test").TestContext): boolean => suite.usable(t);

let outputs = 0;
/** Runs the generator into a fresh directory; asserts it fails with `message` and leaves that directory empty. */
async function refused(message: RegExp, raw: Parameters<typeof generate>[0], ...inputs: string[]): Promise<void> {
  const dir = path.join(suite.work, `out-${++outputs}`);
  fs.mkdirSync(dir);
  await assert.rejects(generate({ output: path.join(dir, "delta.mender"), ...raw }, ...inputs), (err: unknown) => {
    assert.ok(err instanceof MenderDeltaError, `expected a MenderDeltaError, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
  assert.deepEqual(fs.readdirSync(dir), [], "nothing written, no scratch files left");
}

test("an input that is not a rootfs-image Artifact: module-image, an existing delta, a bootstrap", async (t) => {
  if (!usable(t)) return;
  const mod = path.join(suite.work, "module.mender");
  execFileSync("mender-artifact", ["write", "module-image", "-T", "script", "-t", DEVICE_TYPE, "-n", "m", "-f", suite.rel.v1, "-o", mod], { stdio: "ignore" });
  await refused(/FROM Artifact .*module\.mender has a 'script' payload, not rootfs-image; make it with 'mender-artifact write rootfs-image'/, {}, mod, suite.rel.r2);
  const delta = path.join(suite.work, "a-delta.mender");
  await generate({ output: delta }, suite.rel.r1, suite.rel.r2);
  await refused(/TO Artifact .* has a 'mender-binary-delta' payload, not rootfs-image; it is already a delta Artifact/, {}, suite.rel.r1, delta);
  const boot = path.join(suite.work, "bootstrap.mender");
  execFileSync("mender-artifact", ["write", "bootstrap-artifact", "-t", DEVICE_TYPE, "-n", "b", "-o", boot], { stdio: "ignore" });
  await refused(/has a 'empty \(bootstrap\)' payload, not rootfs-image/, {}, boot, suite.rel.r2);
});

test("a rootfs-image payload with two files is refused", async (t) => {
  if (!usable(t)) return;
  const two = path.join(suite.work, "two-files.mender");
  await writeArtifact(two, {
    artifactName: "two", deviceTypes: [DEVICE_TYPE],
    payload: { type: "rootfs-image", provides: { "rootfs-image.checksum": sha256File(suite.rel.v2) }, files: [{ path: suite.rel.v2 }, { path: suite.rel.v1 }] },
  });
  await refused(/its rootfs-image payload has 2 files; a rootfs-image Artifact holds exactly one filesystem image/, {}, suite.rel.r1, two);
});

test("a declared rootfs-image.checksum that does not match the image is refused (FROM and TO)", async (t) => {
  if (!usable(t)) return;
  const wrong = "0".repeat(64);
  for (const side of ["FROM", "TO"] as const) {
    const bad = path.join(suite.work, `wrong-sum-${side}.mender`);
    await writeArtifact(bad, {
      artifactName: `wrong-${side}`, deviceTypes: [DEVICE_TYPE],
      payload: { type: "rootfs-image", provides: { "rootfs-image.checksum": wrong, "rootfs-image.version": "x" }, files: [{ path: side === "FROM" ? suite.rel.v1 : suite.rel.v2 }] },
    });
    const message = new RegExp(`${side} Artifact .* declares rootfs-image.checksum 0{64}, but its image rootfs-v[12].ext4 hashes to [0-9a-f]{64}`);
    await (side === "FROM" ? refused(message, {}, bad, suite.rel.r2) : refused(message, {}, suite.rel.r1, bad));
  }
});

test("device types that do not overlap are refused; overlapping ones are fine", async (t) => {
  if (!usable(t)) return;
  const other = path.join(suite.work, "other-device.mender");
  fs.rmSync(other, { force: true });
  execFileSync("mender-artifact", ["write", "rootfs-image", "-t", "other-device", "-t", "third-device", "-n", "release-2", "-f", suite.rel.v2, "-o", other], { stdio: "ignore" });
  await refused(/FROM is for device type\(s\) test-device and TO for other-device, third-device: no device runs FROM and can install TO/, {}, suite.rel.r1, other);
  const both = path.join(suite.work, "both-devices.mender");
  fs.rmSync(both, { force: true });
  execFileSync("mender-artifact", ["write", "rootfs-image", "-t", "other-device", "-t", DEVICE_TYPE, "-n", "release-2", "-f", suite.rel.v2, "-o", both], { stdio: "ignore" });
  const s = await generate({ output: path.join(suite.work, "both.mender") }, suite.rel.r1, both);
  assert.deepEqual(s.deviceTypes, ["other-device", DEVICE_TYPE]);
});

test("FROM and TO must differ: the same file, the same image in two Artifacts, identical raw images", async (t) => {
  if (!usable(t)) return;
  await refused(/FROM and TO are the same file/, {}, suite.rel.r1, suite.rel.r1);
  const again = rootfsArtifact(path.join(suite.work, "release-1-again.mender"), suite.rel.v1, "release-1-again");
  await refused(/FROM and TO declare the same rootfs-image.checksum .*the images are identical/, {}, suite.rel.r1, again);
  const copy = path.join(suite.work, "copy-of-v1.ext4");
  fs.copyFileSync(suite.rel.v1, copy);
  await refused(/FROM and TO hold the same image \(sha256 [0-9a-f]{64}\)/, { fromImage: suite.rel.v1, toImage: copy, artifactName: "x", deviceType: DEVICE_TYPE });
});

test("arguments that look reversed give a warning (a delta back to an older release is still made)", async (t) => {
  if (!usable(t)) return;
  const s = await generate({ output: path.join(suite.work, "back.mender") }, suite.rel.r2, suite.rel.r1);
  assert.equal(s.artifactName, "release-1");
  assert.ok(s.warnings.some((w) => /FROM's name 'release-2' looks newer than TO's 'release-1': the arguments may be reversed/.test(w)), s.warnings.join("\n"));
  const r1dep = rootfsArtifact(path.join(suite.work, "r1-depends-on-r2.mender"), suite.rel.v1, "r-a", ["-N", "r-b"]);
  const r2 = rootfsArtifact(path.join(suite.work, "r-b.mender"), suite.rel.v2, "r-b");
  const s2 = await generate({ output: path.join(suite.work, "dep.mender") }, r1dep, r2);
  assert.ok(s2.warnings.some((w) => /FROM \(r-a\) depends on TO \(r-b\): the arguments look reversed/.test(w)), s2.warnings.join("\n"));
  const s3 = await generate({ output: path.join(suite.work, "forward.mender") }, suite.rel.r1, suite.rel.r2);
  assert.deepEqual(s3.warnings, [], "no warning for the right order");
  const cli = runCli(["-o", path.join(suite.work, "back-cli.mender"), suite.rel.r2, suite.rel.r1]);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stderr, /^mender-binary-delta-generator: warning: FROM's name 'release-2' looks newer/m);
});

test("signatures: --verify-key refuses unsigned inputs and wrong keys; a bad signing key fails before any work", async (t) => {
  if (!usable(t)) return;
  const keys = makeKeys(suite.work, "ec");
  const other = makeKeys(fs.mkdtempSync(path.join(suite.work, "k-")), "ec");
  await refused(/not signed \(no manifest.sig\), but a verification key was given/, { verifyKey: keys.pub }, suite.rel.r1, suite.rel.r2);
  const s1 = rootfsArtifact(path.join(suite.work, "signed-1.mender"), suite.rel.v1, "release-1", ["-k", keys.key]);
  const s2 = rootfsArtifact(path.join(suite.work, "signed-2.mender"), suite.rel.v2, "release-2", ["-k", keys.key]);
  await refused(/signature/i, { verifyKey: other.pub }, s1, s2);
  const ok = await generate({ output: path.join(suite.work, "verified.mender"), verifyKey: keys.pub, key: keys.key }, s1, s2);
  assert.equal(ok.signed, true);

  const notKey = path.join(suite.work, "not-a-key.pem");
  fs.writeFileSync(notKey, "hello\n");
  await refused(/cannot load the private key/, { key: notKey }, suite.rel.r1, suite.rel.r2);
  await refused(/cannot read the signing key .*no such file/, { key: path.join(suite.work, "missing.key") }, suite.rel.r1, suite.rel.r2);
});

test("missing inputs, an output that is an input, an output directory that does not exist", async (t) => {
  if (!usable(t)) return;
  await refused(/cannot read the FROM Artifact .*nope\.mender: no such file/, {}, path.join(suite.work, "nope.mender"), suite.rel.r2);
  await refused(/cannot read the TO image .*nope\.ext4: no such file/, { toImage: path.join(suite.work, "nope.ext4"), artifactName: "x", deviceType: "d" }, suite.rel.r1);
  await assert.rejects(generate({ output: suite.rel.r2 }, suite.rel.r1, suite.rel.r2), /the output .* is the TO input/);
  // The same file by another name: through a symlinked directory, and a hard link; FROM unchanged.
  const alias = fs.mkdtempSync(path.join(suite.work, "alias-"));
  fs.symlinkSync(path.dirname(path.resolve(suite.rel.r1)), path.join(alias, "self"));
  fs.linkSync(suite.rel.r1, path.join(alias, "hard.mender"));
  const before = fs.readFileSync(suite.rel.r1);
  for (const output of [path.join(alias, "self", path.basename(suite.rel.r1)), path.join(alias, "hard.mender")]) {
    await assert.rejects(generate({ output }, suite.rel.r1, suite.rel.r2), /the output .* is the FROM input; write the delta Artifact to a new file/, output);
  }
  assert.ok(fs.readFileSync(suite.rel.r1).equals(before), "FROM is unchanged");
  await assert.rejects(generate({ output: path.join(suite.work, "no", "such", "dir", "d.mender") }, suite.rel.r1, suite.rel.r2), /the directory .* does not exist; create it first/);
  await assert.rejects(generate({ output: `${path.join(suite.work, "d.mender")}/` }, suite.rel.r1, suite.rel.r2), /cannot write the output .*d\.mender\/: it ends in "\/", which names a directory/);
  // A TO whose state script the delta Artifact could not carry: refused when TO is inspected, not after the encoding.
  const oddScript = path.join(suite.work, "odd-script.mender");
  fs.writeFileSync(oddScript, buildArtifact({ headerScripts: [{ name: "scripts/foo bar", data: new TextEncoder().encode("#!/bin/sh\n") }] }));
  await refused(/TO Artifact .*odd-script\.mender: its state script name 'foo bar' is not <ArtifactInstall\|.*; the delta Artifact carries TO's state scripts/, {}, suite.rel.r1, oddScript);
  const notArtifact = path.join(suite.work, "not-an-artifact.mender");
  fs.writeFileSync(notArtifact, Buffer.alloc(4096, 7));
  await refused(/not-an-artifact\.mender/, {}, notArtifact, suite.rel.r2);
});

test("an empty TO (or FROM) image is refused: raw, and inside a rootfs-image Artifact", async (t) => {
  if (!usable(t)) return;
  const empty = path.join(suite.work, "empty.ext4");
  fs.writeFileSync(empty, "");
  await refused(/the TO image .*empty\.ext4 holds an empty image \(empty\.ext4, 0 bytes\): devices would switch to a partition with nothing written/, {
    toImage: empty, artifactName: "x", deviceType: DEVICE_TYPE,
  }, suite.rel.r1);
  await refused(/the FROM image .*empty\.ext4 holds an empty image \(empty\.ext4, 0 bytes\): no device runs an empty image/, {
    fromImage: empty, toImage: suite.rel.v2, artifactName: "x", deviceType: DEVICE_TYPE,
  });
  const emptyArtifact = rootfsArtifact(path.join(suite.work, "empty.mender"), empty, "release-empty");
  await refused(/the TO Artifact .*empty\.mender holds an empty image \(empty\.ext4, 0 bytes\)/, {}, suite.rel.r1, emptyArtifact);
});

test("images given as block devices (a loop device) are read as the ext4 images they hold: the same delta and read set as from the files", async (t) => {
  if (!usable(t) || !needRoot(t, "attaches loop devices")) return;
  const attach = (image: string): string => execFileSync("losetup", ["--read-only", "--find", "--show", image], { encoding: "utf8" }).trim();
  const [fromDev, toDev] = [attach(suite.rel.v1), attach(suite.rel.v2)];
  try {
    const dir = fs.mkdtempSync(path.join(suite.work, "blockdev-"));
    const named = { artifactName: "release-2", deviceType: DEVICE_TYPE };
    const files = await generate({ output: path.join(dir, "files.mender"), fromImage: suite.rel.v1, toImage: suite.rel.v2, ...named });
    const devices = await generate({ output: path.join(dir, "devices.mender"), fromImage: fromDev, toImage: toDev, ...named });
    assert.ok(!devices.warnings.some((w) => /not an ext/.test(w)), devices.warnings.join("\n"));
    assert.deepEqual(devices.rootMount, files.rootMount);
    // The same delta bytes; only its file's name, made from the image's, differs.
    assert.deepEqual({ ...devices.delta, payload: "" }, { ...files.delta, payload: "" });
    assert.equal(devices.delta.payload, `${path.basename(toDev)}.delta`);
    assert.equal(devices.rootMount.filesystem, "ext4", JSON.stringify(devices.rootMount));
    assert.ok(devices.rootMount.avoidedBytes > 0 && (devices.rootMount.readSetBytes ?? 0) > 0, JSON.stringify(devices.rootMount));
  } finally {
    execFileSync("losetup", ["-d", fromDev, toDev]);
  }
});
