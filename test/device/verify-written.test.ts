/**
 * The new image's one SHA-256: of what the inactive partition holds after the install, read back
 * with O_DIRECT, against the Artifact's rootfs-image.checksum. When it differs, the CRC-32s the
 * partition writer kept of the frames it wrote tell which went wrong: the delta (it made another
 * image) or the storage (it holds other bytes than were written). Either way nothing is activated.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { applyDelta, verifySource } from "../../src/device/apply-delta";
import type { DeltaFacts } from "../../src/device/delta-header";
import { MenderDeltaError } from "../../src/errors";
import { encodeVcdiff } from "../../src/vcdiff/encoder/encode";
import { makeImage, mutateImage, scratchDir } from "../vcdiff/helpers";

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

async function* fileChunks(file: string): AsyncIterable<Uint8Array> {
  yield* fs.createReadStream(file, { highWaterMark: 65536 }) as AsyncIterable<Buffer>;
}

function setUp(name: string) {
  const dir = scratchDir(name);
  const old = makeImage(41, 3 << 20);
  const neu = mutateImage(old, 42);
  const sourcePath = path.join(dir, "a.part");
  const targetPath = path.join(dir, "b.part");
  fs.writeFileSync(sourcePath, old);
  fs.writeFileSync(targetPath, new Uint8Array(4 << 20));
  const newFile = path.join(dir, "new.img");
  fs.writeFileSync(newFile, neu);
  const deltaFile = path.join(dir, "delta");
  const facts: DeltaFacts = { algorithm: "xdelta3", sourceChecksums: [sha256(old)], sourceSize: old.length, targetChecksum: sha256(neu), declaredSize: neu.length };
  return { dir, old, neu, sourcePath, targetPath, newFile, deltaFile, facts };
}

test("the image is verified as the storage holds it: an install returns the read-back SHA-256", async () => {
  const s = setUp("verify-ok");
  await encodeVcdiff(s.sourcePath, s.newFile, s.deltaFile, { threads: 1 });
  const done = await applyDelta(fileChunks(s.deltaFile), { sourcePath: s.sourcePath, targetPath: s.targetPath, facts: s.facts, deltaName: "d", sourceMismatch: await verifySource(s.sourcePath, s.facts) });
  assert.deepEqual(done, { partition: s.targetPath, sha256: sha256(s.neu), bytes: s.neu.length });
  assert.equal(sha256(fs.readFileSync(s.targetPath).subarray(0, s.neu.length)), sha256(s.neu));
});

test("a delta that makes another image than the Artifact provides: named as the delta's fault, not activated", async () => {
  const s = setUp("verify-wrong-image");
  await encodeVcdiff(s.sourcePath, s.newFile, s.deltaFile, { threads: 1 });
  const facts = { ...s.facts, targetChecksum: "ab".repeat(32) };
  await assert.rejects(
    applyDelta(fileChunks(s.deltaFile), { sourcePath: s.sourcePath, targetPath: s.targetPath, facts, deltaName: "d", sourceMismatch: await verifySource(s.sourcePath, facts) }),
    (err: unknown) =>
      err instanceof MenderDeltaError &&
      err.message ===
        `the image written to ${s.targetPath} has sha256 ${sha256(s.neu)}, the Artifact provides rootfs-image.checksum ${"ab".repeat(32)}; ` +
          `the delta does not produce the image it claims (broken generator or tampered Artifact). Not activating it.`,
  );
});

test("storage that does not hold what was written (the writes went elsewhere): named as the storage's fault, not activated", async () => {
  const s = setUp("verify-lost-writes");
  await encodeVcdiff(s.sourcePath, s.newFile, s.deltaFile, { threads: 1 });
  // The writes go through a descriptor of another file: the partition itself keeps its zeros, as
  // storage that acknowledges writes and loses them would.
  const elsewhere = path.join(s.dir, "elsewhere");
  fs.writeFileSync(elsewhere, "");
  const fd = fs.openSync(elsewhere, "r+");
  try {
    await assert.rejects(
      applyDelta(fileChunks(s.deltaFile), { sourcePath: s.sourcePath, targetPath: s.targetPath, targetFd: fd, facts: s.facts, deltaName: "d", sourceMismatch: await verifySource(s.sourcePath, s.facts) }),
      /^.*reads back differently from what was written \(the MiB at byte 0: CRC-32 [0-9a-f]{8}, wrote [0-9a-f]{8}\): the storage is losing writes\. Not activating it; check the storage hardware\.$/,
    );
  } finally {
    fs.closeSync(fd);
  }
  assert.equal(sha256(fs.readFileSync(elsewhere)), sha256(s.neu), "what was written is the right image");
  assert.ok(fs.readFileSync(s.targetPath).equals(Buffer.alloc(4 << 20)), "the partition kept its zeros");
});
