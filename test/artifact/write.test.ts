/**
 * Artifacts we write: byte-identical to mender-artifact 3.9's (uncompressed), accepted by
 * `mender-artifact validate` (signed ones with the public key), shown by `mender-artifact read` with
 * the expected fields, deterministic, and never left half-written.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readArtifact, writeArtifact, type ArtifactSpec } from "../../src/artifact";
import { MenderDeltaError } from "../../src/errors";
import { needRoot, needTools } from "../helpers/peers";
import { makeFile, makeKeys, ok, outerMember, run, tempDir } from "./fixtures";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** A file's mode and mtime as mender-artifact records them (Go rounds the time to the nearest second). */
function fileMeta(file: string): { mode: number; mtime: number } {
  const st = statSync(file, { bigint: true });
  return { mode: Number(st.mode & 0o7777n), mtime: Number((st.mtimeNs + 500_000_000n) / 1_000_000_000n) };
}

test("rootfs-image, --compression none: byte-identical to mender-artifact 3.9 (also with a > 100-char PAX file name)", async (t) => {
  if (!needTools(t, "mender-artifact")) return;
  // mender-artifact records the payload file's owner; ours is root, so compare as root.
  if (!needRoot(t, "byte comparison with mender-artifact assumes files owned by root")) return;
  const dir = tempDir(t);
  for (const name of ["rootfs.ext4", `${"long-name-".repeat(12)}.ext4`]) {
    const image = makeFile(path.join(dir, name), 20_000);
    const theirs = path.join(dir, "theirs.mender");
    ok("mender-artifact", ["write", "rootfs-image", "--compression", "none", "-t", "qemux86-64", "-t", "beaglebone", "-n", "release-1", "-f", image, "-o", theirs, "-N", "release-0", "-g", "grp", "--no-progress"]);
    const theirBytes = readFileSync(theirs);
    const ours = path.join(dir, "ours.mender");
    await writeArtifact(ours, {
      artifactName: "release-1",
      artifactGroup: "grp",
      deviceTypes: ["qemux86-64", "beaglebone"],
      dependsArtifactNames: ["release-0"],
      compression: "none",
      mtime: outerMember(theirBytes, "header.tar").mtime,
      payload: {
        type: "rootfs-image",
        provides: { "rootfs-image.checksum": sha(readFileSync(image)), "rootfs-image.version": "release-1" },
        clearsProvides: ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"],
        files: [{ path: image, ...fileMeta(image) }],
      },
    });
    assert.ok(readFileSync(ours).equals(theirBytes), `our Artifact differs from mender-artifact's for payload ${name}`);
  }
});

test("module-image (mender-binary-delta), --compression none, meta-data and a non-ASCII-named state script: byte-identical to mender-artifact 3.9", async (t) => {
  if (!needTools(t, "mender-artifact")) return;
  if (!needRoot(t, "byte comparison with mender-artifact assumes files owned by root")) return;
  const dir = tempDir(t);
  const delta = makeFile(path.join(dir, "rootfs.ext4.delta"), 5000, 2);
  const meta = path.join(dir, "meta.json");
  writeFileSync(meta, '{"rootfs_file_size": 8388608, "delta_algorithm": "xdelta3", "note": "<&>"}');
  // A non-ASCII description: Go writes a PAX path record and drops the non-ASCII from the ustar name.
  const script = path.join(dir, "ArtifactCommit_Leave_50_log-é");
  writeFileSync(script, "#!/bin/sh\necho done\n", { mode: 0o750 });
  const theirs = path.join(dir, "theirs.mender");
  ok("mender-artifact", [
    "write", "module-image", "--compression", "none", "-T", "mender-binary-delta", "-t", "qemux86-64", "-n", "release-2", "-f", delta, "-m", meta, "-s", script,
    "--no-default-software-version", "-d", "rootfs-image.checksum:aaaa", "-p", "rootfs-image.checksum:bbbb", "-p", "rootfs-image.version:release-2",
    "--clears-provides", "rootfs-image.*", "-o", theirs,
  ]);
  const theirBytes = readFileSync(theirs);
  const ours = path.join(dir, "ours.mender");
  await writeArtifact(ours, {
    artifactName: "release-2",
    deviceTypes: ["qemux86-64"],
    compression: "none",
    mtime: outerMember(theirBytes, "header.tar").mtime,
    scripts: [{ path: script, ...fileMeta(script) }],
    payload: {
      type: "mender-binary-delta",
      depends: { "rootfs-image.checksum": "aaaa" },
      provides: { "rootfs-image.version": "release-2", "rootfs-image.checksum": "bbbb" },
      clearsProvides: ["rootfs-image.*"],
      metaData: { rootfs_file_size: 8388608, delta_algorithm: "xdelta3", note: "<&>" },
      files: [{ path: delta, ...fileMeta(delta) }],
    },
  });
  assert.ok(readFileSync(ours).equals(theirBytes), "our Artifact differs from mender-artifact's");
});

function deltaSpec(dir: string, extra: Partial<ArtifactSpec> = {}): ArtifactSpec {
  return {
    artifactName: "release-2",
    artifactGroup: "fleet-a",
    deviceTypes: ["qemux86-64", "raspberrypi4"],
    dependsArtifactNames: ["release-1"],
    dependsGroups: ["fleet-a"],
    payload: {
      type: "mender-binary-delta",
      depends: { "rootfs-image.checksum": "a".repeat(64) },
      provides: { "rootfs-image.checksum": "b".repeat(64), "rootfs-image.version": "release-2" },
      clearsProvides: ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"],
      metaData: { delta_algorithm: "xdelta3", rootfs_file_size: 8388608 },
      files: [{ path: makeFile(path.join(dir, "rootfs.ext4.delta"), 200_000, 5) }],
    },
    ...extra,
  };
}

for (const signer of [undefined, "rsa", "ec"] as const) {
  test(`gzip${signer ? `, signed with ${signer === "rsa" ? "RSA" : "ECDSA P-256"}` : ""}: mender-artifact validate and read accept it; our reader reads it back`, async (t) => {
    if (!needTools(t, "mender-artifact", "openssl")) return;
    const dir = tempDir(t);
    const keys = makeKeys(dir);
    const spec = deltaSpec(dir, signer ? { signingKey: readFileSync(signer === "rsa" ? keys.rsaKey : keys.ecKey) } : {});
    const out = path.join(dir, "delta.mender");
    const written = await writeArtifact(out, spec);
    const pub = signer === "rsa" ? keys.rsaPub : keys.ecPub;

    const validate = run("mender-artifact", ["validate", ...(signer ? ["-k", pub] : []), out]);
    assert.equal(validate.status, 0, validate.stderr + validate.stdout);
    const read = ok("mender-artifact", ["read", ...(signer ? ["-k", pub] : []), "--no-progress", out]);
    assert.match(read, /Name: release-2\n/);
    assert.match(read, /Signature: /);
    assert.match(read, signer ? /Signature: signed and verified correctly/ : /Signature: no signature/);
    assert.match(read, /Compatible devices: '\[qemux86-64 raspberrypi4\]'/);
    assert.match(read, /Provides group: fleet-a\n/);
    assert.match(read, /Depends on one of artifact\(s\): \[release-1\]/);
    assert.match(read, /Depends on one of group\(s\): \[fleet-a\]/);
    assert.match(read, /Type: {3}mender-binary-delta/);
    assert.match(read, new RegExp(`Provides:\\n\\trootfs-image.checksum: ${"b".repeat(64)}\\n\\trootfs-image.version: release-2\\n`));
    assert.match(read, new RegExp(`Depends:\\n\\trootfs-image.checksum: ${"a".repeat(64)}\\n`));
    assert.match(read, /Clears Provides: \["artifact_group", "rootfs_image_checksum", "rootfs-image.\*"\]/);
    assert.match(read, /"delta_algorithm": "xdelta3",\n\t  "rootfs_file_size": 8388608/);
    assert.match(read, new RegExp(`name: {5}rootfs.ext4.delta\\n\\s+size: {5}200000\\n[^]*checksum: ${written.payloadFiles[0]!.sha256}`));

    if (signer) {
      const wrongKey = run("mender-artifact", ["validate", "-k", signer === "rsa" ? keys.ecPub : keys.rsaPub, out]);
      assert.notEqual(wrongKey.status, 0, "validated with the wrong key");
    }
    const info = await readArtifact(out, signer ? { verifyKey: readFileSync(pub) } : {});
    assert.equal(info.signatureVerified, Boolean(signer));
    assert.deepEqual(info.payloads[0]!.metaData, { delta_algorithm: "xdelta3", rootfs_file_size: 8388608 });
    assert.deepEqual(info.payloadFiles, [{ payloadIndex: 0, name: "rootfs.ext4.delta", size: 200_000, sha256: sha(readFileSync(spec.payload.files[0]!.path)) }]);
  });
}

test("rootfs-image written by us installs the mender-artifact way: validate passes, read shows type-info and empty meta-data", async (t) => {
  if (!needTools(t, "mender-artifact")) return;
  const dir = tempDir(t);
  const image = makeFile(path.join(dir, "core-image.ext4"), 100_000, 9);
  const out = path.join(dir, "rootfs.mender");
  await writeArtifact(out, {
    artifactName: "release-1",
    deviceTypes: ["qemux86-64"],
    payload: {
      type: "rootfs-image",
      provides: { "rootfs-image.checksum": sha(readFileSync(image)), "rootfs-image.version": "release-1" },
      clearsProvides: ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"],
      files: [{ path: image }],
    },
  });
  assert.equal(run("mender-artifact", ["validate", out]).status, 0);
  const read = ok("mender-artifact", ["read", "--no-progress", out]);
  assert.match(read, /Type: {3}rootfs-image/);
  assert.match(read, new RegExp(`rootfs-image.checksum: ${sha(readFileSync(image))}`));
  assert.match(read, /Metadata: Nothing/);
});

test("deterministic: the same spec and inputs give the same bytes (gzip, signed with RSA)", async (t) => {
  if (!needTools(t, "openssl")) return;
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const spec = deltaSpec(dir, { signingKey: readFileSync(keys.rsaKey), mtime: 1_700_000_000 });
  const a = path.join(dir, "a.mender");
  const b = path.join(dir, "b.mender");
  await writeArtifact(a, spec);
  await new Promise((r) => setTimeout(r, 1100));
  await writeArtifact(b, spec);
  assert.ok(readFileSync(a).equals(readFileSync(b)));
});

test("no partial output: a failing write leaves neither the Artifact nor temporary files", async (t) => {
  const dir = tempDir(t);
  const spec = deltaSpec(dir);
  const out = path.join(dir, "out.mender");
  const before = readdirSync(dir).sort();

  await assert.rejects(writeArtifact(out, { ...spec, payload: { ...spec.payload, files: [{ path: path.join(dir, "missing.img") }] } }), (err) => {
    assert.ok(err instanceof MenderDeltaError);
    assert.match(err.message, /cannot read payload file .*missing\.img: no such file/);
    return true;
  });
  await assert.rejects(writeArtifact(out, { ...spec, signingKey: "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n" }), /cannot load the private key/);
  const { privateKey } = await import("node:crypto").then((c) => c.generateKeyPairSync("ec", { namedCurve: "secp384r1" }));
  await assert.rejects(writeArtifact(out, { ...spec, signingKey: privateKey.export({ type: "sec1", format: "pem" }) }), /P-256/);
  await assert.rejects(writeArtifact(out, { ...spec, deviceTypes: [] }), /device type/);
  await assert.rejects(writeArtifact(out, { ...spec, payload: { ...spec.payload, files: [{ path: spec.payload.files[0]!.path, name: "../evil" }] } }), /may only contain/);
  await assert.rejects(writeArtifact(path.join(dir, "no-such-dir", "out.mender"), spec), (err) => err instanceof MenderDeltaError && /cannot write Artifact/.test(err.message));
  assert.deepEqual(readdirSync(dir).sort(), before);
});
