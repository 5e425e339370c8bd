/**
 * The device's install path (device/apply-delta.ts) with an MBDF delta, chosen by delta_algorithm
 * "mbdf1": partitions are plain files here (the O_DIRECT reader falls back where the file system
 * has no O_DIRECT). The source check, the read-set gate for a changed source, the partition writer
 * and the final SHA-256 work as for VCDIFF; a newer format version is refused before a write.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { applyDelta, verifySource } from "../../src/device/apply-delta";
import type { DeltaFacts } from "../../src/device/delta-header";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { MenderDeltaError } from "../../src/errors";
import { buildReadSet, encodeReadSetAppHeader } from "../../src/vcdiff/format/read-set";
import { makeImage, scratchDir } from "../vcdiff/helpers";
import { concat, inChunks, MemorySource, sha256 } from "./mbdf-helpers";

test("device install of an mbdf1 delta: written, verified, read back; a changed source is gated by the read set", async () => {
  const dir = scratchDir("mbdf-device");
  const old = makeImage(31, 400_000);
  const edited = old.slice(200_000, 260_000);
  for (let i = 0; i < edited.length; i += 101) edited[i] = edited[i]! + 1;
  const neu = concat([old.subarray(0, 200_000), edited, new Uint8Array(140_000)]);
  const readSet = encodeReadSetAppHeader(buildReadSet([[0, 260_000]], new MemorySource(old)));
  const w = new MbdfWriter({ targetSize: neu.length, sourceSize: old.length, targetSha256: sha256(neu), readSet });
  w.copy(0, neu.subarray(0, 200_000));
  w.approx([{ sourceOffset: 200_000, length: 60_000 }], approximateDiff(old.subarray(200_000, 260_000), edited), edited);
  w.zero(140_000);
  w.end();
  const delta = w.bytes();
  const facts: DeltaFacts = {
    algorithm: "mbdf1", sourceChecksums: [sha256(old)], sourceSize: old.length, targetChecksum: sha256(neu), declaredSize: neu.length,
  };
  const sourcePath = path.join(dir, "a.part");
  const targetPath = path.join(dir, "b.part");
  const install = async (bytes: Uint8Array) => {
    fs.writeFileSync(targetPath, new Uint8Array(512 * 1024).fill(0xee));
    const sourceMismatch = await verifySource(sourcePath, facts);
    return applyDelta(inChunks(bytes, 4096), { sourcePath, targetPath, facts, deltaName: "rootfs.ext4.delta", sourceMismatch });
  };

  fs.writeFileSync(sourcePath, old);
  const done = await install(delta);
  assert.deepEqual(done, { partition: targetPath, sha256: sha256(neu), bytes: neu.length });
  assert.ok(fs.readFileSync(targetPath).subarray(0, neu.length).equals(Buffer.from(neu)));

  // Changed outside what the delta reads: the read set vouches for the rest, the install goes on.
  const outside = Buffer.from(old);
  outside[300_000] = outside[300_000]! ^ 1;
  fs.writeFileSync(sourcePath, outside);
  assert.equal((await install(delta)).sha256, sha256(neu));

  // Changed inside: refused before anything is written.
  const inside = Buffer.from(old);
  inside[100] = inside[100]! ^ 1;
  fs.writeFileSync(sourcePath, inside);
  await assert.rejects(install(delta), (err: unknown) =>
    err instanceof MenderDeltaError && /ranges the delta reads changed on the active partition .*; nothing was written/.test(err.message));
  assert.ok(fs.readFileSync(targetPath).equals(Buffer.from(new Uint8Array(512 * 1024).fill(0xee))), "partition untouched");

  // A newer format version: refused before a byte of the partition is written.
  fs.writeFileSync(sourcePath, old);
  const newer = Uint8Array.from(delta);
  newer[4] = 2;
  await assert.rejects(install(newer), /unsupported MBDF delta at the MBDF header.*format version 2/);
  assert.ok(fs.readFileSync(targetPath).equals(Buffer.from(new Uint8Array(512 * 1024).fill(0xee))), "partition untouched");

  // A delta that makes another image than the Artifact provides (the device checks that hash
  // itself, so the decoder does not hash the image twice): refused before a byte is written.
  const otherTarget = { ...facts, targetChecksum: "ab".repeat(32) };
  fs.writeFileSync(targetPath, new Uint8Array(512 * 1024).fill(0xee));
  await assert.rejects(
    applyDelta(inChunks(delta, 4096), { sourcePath, targetPath, facts: otherTarget, deltaName: "rootfs.ext4.delta", sourceMismatch: await verifySource(sourcePath, otherTarget) }),
    /the delta's header makes an image of SHA-256 [0-9a-f]{64}, the Artifact provides (ab){32}/,
  );
  assert.ok(fs.readFileSync(targetPath).equals(Buffer.from(new Uint8Array(512 * 1024).fill(0xee))), "partition untouched");

  // A header that declares a larger source than the Artifact's (the partition is larger than the
  // image, as on a device): its reads could go past the prefix the source check hashed. Refused
  // before a byte is written, even though this delta reads nothing there.
  fs.writeFileSync(sourcePath, concat([old, new Uint8Array(8192).fill(0x5a)]));
  const wider = new MbdfWriter({ targetSize: neu.length, sourceSize: old.length + 4096, targetSha256: sha256(neu), readSet });
  wider.copy(0, neu.subarray(0, 200_000));
  wider.approx([{ sourceOffset: 200_000, length: 60_000 }], approximateDiff(old.subarray(200_000, 260_000), edited), edited);
  wider.zero(140_000);
  wider.end();
  await assert.rejects(
    install(wider.bytes()),
    new RegExp(`the delta's header was made from a ${old.length + 4096}-byte source image, the Artifact's is ${old.length} bytes \\(source_rootfs_file_size\\): they belong together`),
  );
  assert.ok(fs.readFileSync(targetPath).equals(Buffer.from(new Uint8Array(512 * 1024).fill(0xee))), "partition untouched");
  // The same records with the Artifact's source size install.
  assert.equal((await install(delta)).sha256, sha256(neu));
});
