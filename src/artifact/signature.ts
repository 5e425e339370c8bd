/**
 * `manifest.sig`: base64 of a signature over the exact `manifest` bytes. RSA keys sign with
 * PKCS#1 v1.5 + SHA-256; ECDSA keys must be P-256 and sign as raw r||s (64 bytes), which is what
 * Mender clients and mender-artifact expect. Verification also accepts DER ECDSA signatures (written
 * by PKCS#11/KMS signers and accepted by mender-artifact 3.10+ and the C++ client).
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { MenderDeltaError } from "../errors";

function loadKey(pem: string | Buffer, kind: "private" | "public"): KeyObject {
  try {
    return kind === "private" ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (err) {
    throw new MenderDeltaError(
      `cannot load the ${kind} key: ${err instanceof Error ? err.message : String(err)}; ` +
        `expected a PEM ${kind === "private" ? "RSA or EC (P-256) private key" : "public key (BEGIN PUBLIC KEY)"}`,
    );
  }
}

function checkKeyType(key: KeyObject, what: string): "rsa" | "ec" {
  if (key.asymmetricKeyType === "rsa") return "rsa";
  if (key.asymmetricKeyType === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve !== "prime256v1") {
      throw new MenderDeltaError(`${what} is an ECDSA key on curve ${curve ?? "unknown"}; Mender Artifacts only support P-256 (prime256v1) ECDSA keys`);
    }
    return "ec";
  }
  throw new MenderDeltaError(
    `${what} is a ${key.asymmetricKeyType ?? "unknown"} key; Mender Artifacts are signed with RSA or ECDSA P-256 keys only`,
  );
}

/** Signs the manifest bytes; returns the `manifest.sig` content (base64, no newline). */
export function signManifest(manifest: Uint8Array, privateKeyPem: string | Buffer): string {
  const key = loadKey(privateKeyPem, "private");
  const type = checkKeyType(key, "the signing key");
  const sig = type === "ec" ? sign("sha256", manifest, { key, dsaEncoding: "ieee-p1363" }) : sign("sha256", manifest, key);
  return sig.toString("base64");
}

/**
 * Verifies `manifest.sig` content against the manifest with a PEM public key; throws a
 * MenderDeltaError when it does not verify.
 */
export function verifyManifestSignature(manifest: Uint8Array, signature: Uint8Array, publicKeyPem: string | Buffer, where: string): void {
  const key = loadKey(publicKeyPem, "public");
  const type = checkKeyType(key, "the verification key");
  const text = Buffer.from(signature).toString("latin1").trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new MenderDeltaError(`${where}: manifest.sig is not base64; the Artifact is corrupt`);
  }
  const raw = Buffer.from(text, "base64");
  let ok: boolean;
  try {
    if (type === "ec") {
      // 64 bytes is Mender's raw r||s; anything else should be DER.
      ok = verify("sha256", manifest, { key, dsaEncoding: raw.length === 64 ? "ieee-p1363" : "der" }, raw);
    } else {
      ok = verify("sha256", manifest, key, raw);
    }
  } catch {
    ok = false;
  }
  if (!ok) {
    // A P-256 signature is 64 bytes raw or at most 72 as DER; RSA ones are the key's size (256+).
    const kindMismatch =
      type === "ec" && raw.length > 72 ? "; it looks like an RSA signature: use the RSA public key" : type === "rsa" && raw.length <= 72 ? "; it looks like an ECDSA signature: use the ECDSA public key" : "";
    throw new MenderDeltaError(
      `${where}: the signature does not verify with the given ${type === "ec" ? "ECDSA" : "RSA"} public key ` +
        `(wrong key, or the manifest or signature was altered)${kindMismatch}`,
    );
  }
}
