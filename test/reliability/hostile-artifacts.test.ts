/**
 * Hostile Artifacts: path traversal and links in the tars, huge declared sizes, JSON bombs, a
 * payload type that contradicts itself, a signature by another key, a manifest that omits a
 * member. Each must be refused by the Artifact reader with a MenderDeltaError that says what is
 * wrong, and nothing may be written outside the directory the payload files are extracted to (the
 * sink here is a naive extractor that joins the payload file name to the target directory).
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { readArtifact } from "../../src/artifact/reader";
import { MenderDeltaError } from "../../src/errors";
import { buildArtifact, PAYLOAD, type ArtifactParts } from "./hostile-artifacts";

function ecKeys(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync("ec", {
    namedCurve: "prime256v1",
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
}

const ours = ecKeys();
const theirs = ecKeys();
const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "utf8"));
const deep = (levels: number): string => "[".repeat(levels) + "]".repeat(levels);
const headerInfo = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  payloads: [{ type: "rootfs-image" }],
  artifact_provides: { artifact_name: "release-2" },
  artifact_depends: { device_type: ["beaglebone"] },
  ...extra,
});

interface Case {
  name: string;
  parts: ArtifactParts;
  /** What the error message must say. */
  message: RegExp;
  verify?: boolean;
}

const CASES: Case[] = [
  // Path traversal and absolute names.
  { name: "outer member '../evil'", parts: { outerMembers: [{ name: "../evil", data: text("x") }] }, message: /\.\.|traversal|unsafe/ },
  { name: "outer member '/tmp/evil' (absolute)", parts: { outerMembers: [{ name: "/tmp/evil", data: text("x") }] }, message: /absolute|unsafe|'\/tmp\/evil'/ },
  { name: "payload file '../evil'", parts: { dataMembers: [{ name: "../evil", data: PAYLOAD }] }, message: /\.\.|traversal|unsafe/ },
  { name: "payload file 'a/../../evil'", parts: { dataMembers: [{ name: "a/../../evil", data: PAYLOAD }] }, message: /\.\.|traversal|unsafe/ },
  { name: "payload file in a subdirectory 'etc/shadow'", parts: { dataMembers: [{ name: "etc/shadow", data: PAYLOAD }] }, message: /forbidden characters|cannot be part of this Artifact/ },
  // Links and special files.
  { name: "payload symlink to /etc/passwd", parts: { dataMembers: [{ name: "rootfs.ext4", type: "2", linkname: "/etc/passwd" }] }, message: /link/ },
  { name: "payload hard link to ../../etc/passwd", parts: { dataMembers: [{ name: "rootfs.ext4", type: "1", linkname: "../../etc/passwd" }] }, message: /link/ },
  { name: "payload character device", parts: { dataMembers: [{ name: "rootfs.ext4", type: "3" }] }, message: /device|type '3'/ },
  { name: "symlink in header.tar", parts: { headerMembers: [{ name: "headers/0000/meta-data", type: "2", linkname: "/etc/shadow" }] }, message: /link/ },
  { name: "outer symlink member", parts: { outerMembers: [{ name: "data/0001.tar", type: "2", linkname: "/dev/sda" }] }, message: /link/ },
  // Huge declared sizes (the bytes are not there).
  { name: "outer member declaring 1 TiB", parts: { outerMembers: [{ name: "data/0001.tar", declaredSize: 2 ** 40, data: text("x") }] }, message: /truncated|ends|header-info declares/ },
  { name: "payload file declaring 2^50 bytes", parts: { dataMembers: [{ name: "rootfs.ext4", declaredSize: 2 ** 50, data: PAYLOAD }] }, message: /truncated|ends/ },
  { name: "payload file declaring 2^62 bytes (beyond exact integers)", parts: { dataMembers: [{ name: "rootfs.ext4", declaredSize: 2 ** 62, data: PAYLOAD }] }, message: /size|truncated|large/ },
  { name: "state script declaring 8 GiB", parts: { headerScripts: [{ name: "scripts/ArtifactInstall_Enter_00", declaredSize: 8 * 2 ** 30 - 1, data: text("#!/bin/sh\n") }] }, message: /8589934591 bytes, more than the \d+ allowed/ },
  // JSON bombs.
  { name: "meta-data nested 300000 levels", parts: { metaData: text(`{"a":${deep(300000)}}`) }, message: /nests \d+ levels/ },
  { name: "header-info nested 5000 levels", parts: { headerInfo: text(JSON.stringify(headerInfo()).replace(/}$/, `,"x":${deep(5000)}}`)) }, message: /nests \d+ levels/ },
  { name: "meta-data with a 4 MiB string", parts: { metaData: text(`{"a":"${"A".repeat(4 << 20)}"}`) }, message: /more than|allowed/ },
  { name: "type-info with a 2 MiB key", parts: { typeInfo: text(`{"type":"rootfs-image","${"k".repeat(2 << 20)}":1}`) }, message: /more than|allowed/ },
  // Payload type, signature, manifest.
  { name: "type-info type contradicts header-info", parts: { payloadType: "mender-binary-delta", typeInfoType: "rootfs-image" }, message: /type 'mender-binary-delta' in header-info but 'rootfs-image'/ },
  { name: "signed by another key", parts: { signWith: theirs.privateKey }, message: /signature/i, verify: true },
  { name: "unsigned, a key is required", parts: {}, message: /not signed/, verify: true },
  { name: "manifest omits the payload file", parts: { omitFromManifest: ["data/0000/rootfs.ext4"] }, message: /not listed in the manifest/ },
  { name: "manifest omits header.tar", parts: { omitFromManifest: ["header.tar"] }, message: /not listed in the manifest/ },
  {
    name: "a second payload file the manifest does not list",
    parts: { dataMembers: [{ name: "rootfs.ext4", data: PAYLOAD }, { name: "extra.bin", data: text("x") }], omitFromManifest: ["data/0000/extra.bin"] },
    message: /not listed in the manifest/,
  },
];

function workspace(): { root: string; target: string; input: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-hostile-"));
  const target = path.join(root, "target");
  fs.mkdirSync(target);
  return { root, target, input: path.join(root, "input.mender") };
}

/** Reads the Artifact, extracting payload files naively into `target`; returns the error or null. */
async function extract(file: string, target: string, verifyKey?: string): Promise<unknown> {
  try {
    await readArtifact(file, {
      verifyKey,
      // Synchronous writes: nothing is left in flight when the reader gives up.
      onPayloadFile: (f) => {
        const file = path.join(target, f.name);
        fs.writeFileSync(file, new Uint8Array(0));
        return { write: (chunk: Uint8Array) => fs.appendFileSync(file, chunk) };
      },
    });
    return null;
  } catch (err) {
    return err;
  }
}

/** Every path under `dir`, relative. */
function listAll(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

test("the hand-built baseline Artifact is valid (signed and unsigned)", async () => {
  for (const signed of [false, true]) {
    const w = workspace();
    try {
      fs.writeFileSync(w.input, buildArtifact(signed ? { signWith: ours.privateKey } : {}));
      assert.equal(await extract(w.input, w.target, signed ? ours.publicKey : undefined), null);
      assert.deepEqual(fs.readFileSync(path.join(w.target, "rootfs.ext4")), Buffer.from(PAYLOAD));
    } finally {
      fs.rmSync(w.root, { recursive: true, force: true });
    }
  }
});

/** One test per case, each refused with a clear message and nothing written outside the target; a failure names its case (run one alone with --test-name-pattern). */
for (const c of CASES) {
  test(`hostile Artifact refused: ${c.name}`, async (t) => {
    const w = workspace();
    try {
      fs.writeFileSync(w.input, buildArtifact(c.parts));
      const t0 = Date.now();
      const err = await extract(w.input, w.target, c.verify ? ours.publicKey : undefined);
      const ms = Date.now() - t0;
      assert.ok(err instanceof MenderDeltaError, `expected a MenderDeltaError, got ${err instanceof Error ? err.stack : String(err)}`);
      assert.match(err.message, c.message, `unclear message: ${err.message}`);
      // The message names the file, so a person knows what was refused.
      assert.ok(err.message.includes(w.input), `message does not name the Artifact: ${err.message}`);
      const outside = listAll(w.root).filter((p) => p !== "input.mender" && p !== "target" && !p.startsWith(`target${path.sep}`));
      assert.deepEqual(outside, [], "files written outside the target directory");
      for (const p of listAll(w.target)) {
        assert.ok(!p.includes(path.sep) && p !== "evil", `unexpected file in the target: ${p}`);
        assert.ok(fs.lstatSync(path.join(w.target, p)).isFile(), `${p} is not a regular file`);
      }
      t.diagnostic(`${ms} ms: ${err.message.replace(w.input, "<artifact>").slice(0, 110)}`);
    } finally {
      fs.rmSync(w.root, { recursive: true, force: true });
    }
  });
}
