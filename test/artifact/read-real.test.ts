/**
 * Artifacts written by the real mender-artifact (3.9) read back with the same fields, payload bytes
 * and checksums; signatures verify; a flipped byte anywhere fails.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { readArtifact, type ArtifactInfo, type ReadArtifactOptions } from "../../src/artifact";
import { MenderDeltaError } from "../../src/errors";
import { needTools } from "../helpers/peers";
import { makeFile, makeKeys, ok, outerMember, tempDir } from "./fixtures";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Reads an Artifact, collecting every payload file's bytes. */
async function readAll(file: string, opts: Omit<ReadArtifactOptions, "onPayloadFile"> = {}): Promise<{ info: ArtifactInfo; files: Map<string, Buffer> }> {
  const files = new Map<string, Buffer>();
  const info = await readArtifact(file, {
    ...opts,
    onPayloadFile(f) {
      const chunks: Uint8Array[] = [];
      return { write: (c: Uint8Array) => void chunks.push(c), end: () => void files.set(f.name, Buffer.concat(chunks)) };
    },
  });
  return { info, files };
}

function setup(t: TestContext): { dir: string; image: Buffer; imagePath: string } {
  const dir = tempDir(t);
  const imagePath = makeFile(path.join(dir, "rootfs.ext4"), 300_000);
  return { dir, image: readFileSync(imagePath), imagePath };
}

for (const compression of ["none", "gzip", "lzma"]) {
  test(`mender-artifact rootfs-image, --compression ${compression}, RSA-signed: fields, payload bytes, checksums`, async (t) => {
    if (!needTools(t, "mender-artifact", "openssl")) return;
    const { dir, image, imagePath } = setup(t);
    const out = path.join(dir, "a.mender");
    const keys = makeKeys(dir);
    ok("mender-artifact", [
      "write", "rootfs-image", "--compression", compression, "-k", keys.rsaKey, "-t", "qemux86-64", "-t", "other-dev", "-n", "release-1", "-f", imagePath, "-o", out,
      "-N", "release-0", "-g", "group-b", "-G", "group-a", "-p", "custom.key:val", "-d", "custom.dep:x", "--software-version", "1.2.3", "--no-progress",
    ]);
    const { info, files } = await readAll(out, { verifyKey: readFileSync(keys.rsaPub) });
    assert.equal(info.formatVersion, 3);
    assert.equal(info.signatureVerified, true);
    assert.equal(info.compression, compression === "lzma" ? "xz" : compression);
    assert.deepEqual(info.headerInfo, {
      payloadTypes: ["rootfs-image"],
      artifactName: "release-1",
      artifactGroup: "group-b",
      deviceTypes: ["qemux86-64", "other-dev"],
      dependsArtifactNames: ["release-0"],
      dependsGroups: ["group-a"],
    });
    const p = info.payloads[0]!;
    assert.equal(p.type, "rootfs-image");
    assert.deepEqual(p.typeInfo, {
      type: "",
      depends: { "custom.dep": "x" },
      provides: { "custom.key": "val", "rootfs-image.checksum": sha(image), "rootfs-image.version": "1.2.3" },
      clearsProvides: ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"],
    });
    assert.equal(p.metaData, null);
    assert.deepEqual(info.payloadFiles, [{ payloadIndex: 0, name: "rootfs.ext4", size: image.length, sha256: sha(image) }]);
    assert.ok(files.get("rootfs.ext4")!.equals(image));
  });
}

for (const compression of ["none", "gzip", "lzma"]) {
  test(`mender-artifact module-image (mender-binary-delta), --compression ${compression}, ECDSA-signed, with meta-data, two files and a state script`, async (t) => {
    if (!needTools(t, "mender-artifact", "openssl")) return;
    const { dir, image, imagePath } = setup(t);
    const second = makeFile(path.join(dir, "extra.bin"), 1000, 7);
    const meta = path.join(dir, "meta.json");
    writeFileSync(meta, '{\n  "delta_algorithm": "xdelta3",\n  "rootfs_file_size": 964689920,\n  "decoder_arguments": ["-B", "1024"]\n}\n');
    const script = path.join(dir, "ArtifactInstall_Enter_00_check");
    writeFileSync(script, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const out = path.join(dir, "delta.mender");
    const keys = makeKeys(dir);
    ok("mender-artifact", [
      "write", "module-image", "--compression", compression, "-k", keys.ecKey, "-T", "mender-binary-delta", "-t", "qemux86-64", "-n", "release-2", "-f", imagePath, "-f", second, "-m", meta, "-s", script,
      "-d", "rootfs-image.checksum:aaaa", "-p", "rootfs-image.checksum:bbbb", "-p", "rootfs-image.version:release-2", "-o", out,
    ]);
    const { info, files } = await readAll(out, { verifyKey: readFileSync(keys.ecPub) });
    assert.equal(info.signatureVerified, true);
    const p = info.payloads[0]!;
    assert.equal(p.type, "mender-binary-delta");
    assert.deepEqual(p.typeInfo, {
      type: "mender-binary-delta",
      depends: { "rootfs-image.checksum": "aaaa" },
      provides: { "rootfs-image.checksum": "bbbb", "rootfs-image.mender-binary-delta.version": "release-2", "rootfs-image.version": "release-2" },
      clearsProvides: ["rootfs-image.mender-binary-delta.*"],
    });
    assert.deepEqual(p.metaData, { decoder_arguments: ["-B", "1024"], delta_algorithm: "xdelta3", rootfs_file_size: 964689920 });
    assert.deepEqual(info.scripts.map((s) => [s.name, Buffer.from(s.content).toString()]), [["ArtifactInstall_Enter_00_check", "#!/bin/sh\nexit 0\n"]]);
    assert.deepEqual(p.files.map((f) => f.name), ["rootfs.ext4", "extra.bin"]);
    assert.ok(files.get("rootfs.ext4")!.equals(image));
    assert.ok(files.get("extra.bin")!.equals(readFileSync(second)));
  });
}

for (const [keyType, compression] of [["rsa", "gzip"], ["ec", "gzip"], ["rsa", "lzma"]] as const) {
  test(`mender-artifact ${compression}, signed with ${keyType === "rsa" ? "RSA" : "ECDSA P-256"}: verifies; wrong key, unsigned and every flipped byte fail`, async (t) => {
    if (!needTools(t, "mender-artifact", "openssl")) return;
    const { dir, image } = setup(t);
    const keys = makeKeys(dir);
    const small = makeFile(path.join(dir, "small.img"), 3000, 3);
    const out = path.join(dir, "signed.mender");
    const key = keyType === "rsa" ? keys.rsaKey : keys.ecKey;
    const pub = readFileSync(keyType === "rsa" ? keys.rsaPub : keys.ecPub);
    const otherPub = readFileSync(keyType === "rsa" ? keys.ecPub : keys.rsaPub);
    ok("mender-artifact", ["write", "rootfs-image", "--compression", compression, "-t", "qemux86-64", "-n", "r1", "-f", small, "-o", out, "-k", key, "--no-progress"]);
    const { info, files } = await readAll(out, { verifyKey: pub });
    assert.equal(info.signed, true);
    assert.equal(info.signatureVerified, true);
    assert.ok(files.get("small.img")!.equals(readFileSync(small)));
    void image;

    await assert.rejects(readArtifact(out, { verifyKey: otherPub }), /signature does not verify|P-256|RSA or ECDSA/);
    const unsigned = path.join(dir, "unsigned.mender");
    ok("mender-artifact", ["write", "rootfs-image", "--compression", compression, "-t", "qemux86-64", "-n", "r1", "-f", small, "-o", unsigned, "--no-progress"]);
    await assert.rejects(readArtifact(unsigned, { verifyKey: pub }), /not signed/);

    // A flipped byte anywhere outside data/0000.tar.gz is an error. That member itself is not in
    // the manifest (mender-artifact lists the payload's uncompressed content), and deflate has
    // bits that do not change the output (the gzip header's FTEXT/MTIME/XFL/OS, some Huffman
    // table bits): a flip there must either fail or read back exactly the original payload.
    // xz checks its headers and data with CRCs: there every flip must fail.
    const original = readFileSync(out);
    const dataBody = compression === "gzip" ? outerMember(original, "data/0000.tar.gz") : { start: 0, end: 0 };
    const flipped = path.join(dir, "flipped.mender");
    const payload = readFileSync(small);
    let checked = 0;
    let harmless = 0;
    // Every 8th byte, at different phases per case, keeps this within seconds.
    for (let i = keyType === "rsa" ? (compression === "gzip" ? 0 : 2) : 4; i < original.length; i += 8) {
      const copy = Buffer.from(original);
      copy[i]! ^= 0x01;
      writeFileSync(flipped, copy);
      checked++;
      if (i >= dataBody.start && i < dataBody.end) {
        try {
          const again = await readAll(flipped, { verifyKey: pub });
          assert.ok(again.files.get("small.img")!.equals(payload), `flipped byte ${i} changed the payload unnoticed`);
          harmless++;
        } catch (err) {
          assert.ok(err instanceof MenderDeltaError, `flipped byte ${i}: ${String(err)}`);
        }
        continue;
      }
      await assert.rejects(readArtifact(flipped, { verifyKey: pub }), (err) => err instanceof MenderDeltaError, `flipped byte ${i} went unnoticed`);
    }
    t.diagnostic(`${checked} flipped bytes checked, ${harmless} harmless (deflate/gzip-header bits with identical output)`);
  });
}

test("mender-artifact bootstrap Artifact (null type, empty data tar) reads; a format-2 Artifact is refused clearly", async (t) => {
  if (!needTools(t, "mender-artifact")) return;
  const { dir, imagePath } = setup(t);
  const bootstrap = path.join(dir, "bootstrap.mender");
  ok("mender-artifact", ["write", "bootstrap-artifact", "-t", "qemux86-64", "-n", "bootstrap-1", "-p", "rootfs-image.checksum:abc", "-o", bootstrap, "--no-progress"]);
  const { info } = await readAll(bootstrap);
  assert.deepEqual(info.headerInfo.payloadTypes, [null]);
  assert.equal(info.payloads[0]!.typeInfo.type, null);
  assert.deepEqual(info.payloads[0]!.typeInfo.provides, { "rootfs-image.checksum": "abc" });
  assert.equal(info.payloads[0]!.typeInfo.clearsProvides, undefined);
  assert.deepEqual(info.payloadFiles, []);

  const v2 = path.join(dir, "v2.mender");
  ok("mender-artifact", ["write", "rootfs-image", "-v", "2", "-t", "qemux86-64", "-n", "old", "-f", imagePath, "-o", v2, "--no-progress"]);
  await assert.rejects(readArtifact(v2), (err) => err instanceof MenderDeltaError && /format version 2 is not supported \(only version 3\)/.test(err.message));
});
