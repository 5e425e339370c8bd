/**
 * manifest.sig: RSA PKCS#1 v1.5 and ECDSA P-256 raw r||s signatures (checked by openssl too),
 * DER ECDSA accepted on verification, unsupported keys refused clearly.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { signManifest, verifyManifestSignature } from "../../src/artifact";
import { MenderDeltaError } from "../../src/errors";
import { needTools } from "../helpers/peers";
import { makeKeys, ok, tempDir } from "./fixtures";

const manifest = Buffer.from(`${"ab".repeat(32)}  data/0000/rootfs.ext4\n${"cd".repeat(32)}  header.tar.gz\n${"ef".repeat(32)}  version\n`);
const b64 = (s: string): Uint8Array => Buffer.from(s, "latin1");

test("RSA and ECDSA P-256 signatures: openssl verifies them, we verify them, a changed manifest fails", (t) => {
  if (!needTools(t, "openssl")) return;
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  writeFileSync(path.join(dir, "manifest"), manifest);
  for (const [key, pub] of [[keys.rsaKey, keys.rsaPub], [keys.ecKey, keys.ecPub]] as const) {
    const sig = signManifest(manifest, readFileSync(key));
    const raw = Buffer.from(sig, "base64");
    if (key === keys.ecKey) {
      assert.equal(raw.length, 64, "ECDSA as raw r||s");
      // openssl wants DER: convert r||s.
      const der = (x: Buffer): Buffer => {
        let i = 0;
        while (i < 31 && x[i] === 0) i++;
        const v = x.subarray(i);
        return Buffer.concat([Buffer.from([2, v.length + (v[0]! & 0x80 ? 1 : 0)]), v[0]! & 0x80 ? Buffer.from([0]) : Buffer.alloc(0), v]);
      };
      const body = Buffer.concat([der(raw.subarray(0, 32)), der(raw.subarray(32))]);
      writeFileSync(path.join(dir, "sig.bin"), Buffer.concat([Buffer.from([0x30, body.length]), body]));
    } else {
      assert.equal(raw.length, 256, "RSA-2048 signature");
      writeFileSync(path.join(dir, "sig.bin"), raw);
    }
    assert.match(ok("openssl", ["dgst", "-sha256", "-verify", pub, "-signature", path.join(dir, "sig.bin"), path.join(dir, "manifest")]), /Verified OK/);
    verifyManifestSignature(manifest, b64(sig), readFileSync(pub), "a.mender");
    const changed = Buffer.from(manifest);
    changed[5]! ^= 1;
    assert.throws(() => verifyManifestSignature(changed, b64(sig), readFileSync(pub), "a.mender"), /a.mender: the signature does not verify/);
  }
});

test("DER-encoded ECDSA signatures (PKCS#11/KMS signers) verify too", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const der = sign("sha256", manifest, { key: privateKey, dsaEncoding: "der" });
  assert.notEqual(der.length, 64);
  verifyManifestSignature(manifest, b64(der.toString("base64")), publicKey.export({ type: "spki", format: "pem" }), "a.mender");
});

test("unsupported keys and malformed signatures are clear errors", () => {
  const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  assert.throws(() => signManifest(manifest, p384.privateKey.export({ type: "sec1", format: "pem" })), /curve secp384r1; Mender Artifacts only support P-256/);
  const ed = generateKeyPairSync("ed25519");
  assert.throws(() => signManifest(manifest, ed.privateKey.export({ type: "pkcs8", format: "pem" })), /ed25519 key; Mender Artifacts are signed with RSA or ECDSA P-256 keys only/);
  assert.throws(() => signManifest(manifest, "not a key"), (err) => err instanceof MenderDeltaError && /cannot load the private key/.test(err.message));
  const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const pub = ec.publicKey.export({ type: "spki", format: "pem" });
  assert.throws(() => verifyManifestSignature(manifest, b64("@@not base64@@"), pub, "a.mender"), /manifest.sig is not base64/);
  assert.throws(() => verifyManifestSignature(manifest, b64(Buffer.alloc(64).toString("base64")), pub, "a.mender"), /does not verify/);
});
