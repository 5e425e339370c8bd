/**
 * Golden outputs: the VCDIFF encoder, the xz writer and the Artifact writer give exactly these
 * bytes (sha256) on fixed inputs. A refactor that changes any of them changes what devices
 * download; a deliberate format change updates the digests here in the same commit, with the
 * reason in its message.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test, type TestContext } from "node:test";
import { writeArtifact, type ArtifactSpec, type Compression } from "../../src/artifact";
import { createCompressor } from "../../src/artifact/compression";
import { encodeVcdiff, type EncodeOptions } from "../../src/vcdiff/encoder/encode";
import { makeImage, mutateImage } from "../vcdiff/helpers";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), "mbd-golden-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A 1.5 MiB image and its "next release": several 64 KiB windows, every instruction kind. */
const OLD = makeImage(19, 1536 * 1024);
const NEW = mutateImage(OLD, 20);

const ENCODINGS: { name: string; options: EncodeOptions; sha256: string }[] = [
  { name: "defaults", options: {}, sha256: "c7d0e0bfd25e1e72b1aae056bb69e1b20fd5b9cabcd59a8c9056d1804e928230" },
  { name: "level 1, 64 KiB windows, no checksum", options: { level: 1, windowSize: 64 * 1024, checksum: false }, sha256: "5ee7f2f2705d56d035d4f4df0a79f4512c459d99600aaae0f9671c5f608df79e" },
  { name: "level 9, 128 KiB windows, two threads", options: { level: 9, windowSize: 128 * 1024, threads: 2 }, sha256: "440e1130687f56bd6823b83746c517f4c236e5e8dcb9cbdb19f548887741a4cd" },
  { name: "avoided ranges and an application header", options: { avoid: [[4096, 200_000], [700_000, 720_000]], appHeader: (reads) => new Uint8Array(reads.buffer.slice(0)) }, sha256: "1ee0c55bbe1a62b95e7c73b79ba78a10b9d326c072d9997e7e2da62b93206bf2" },
];

test("VCDIFF encoder: the same deltas as recorded", async (t) => {
  const dir = tempDir(t);
  const source = path.join(dir, "old.img");
  const target = path.join(dir, "new.img");
  writeFileSync(source, OLD);
  writeFileSync(target, NEW);
  for (const e of ENCODINGS) {
    const out = path.join(dir, "delta");
    await encodeVcdiff(source, target, out, { threads: 1, ...e.options });
    assert.equal(sha(readFileSync(out)), e.sha256, e.name);
  }
});

async function compress(kind: Compression, level: number | undefined, input: Uint8Array, sizeHint?: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  // Uneven chunks, as a tar stream delivers them.
  const pieces = function* () {
    for (let at = 0; at < input.length; at += 40_000 + (at % 7)) yield input.subarray(at, at + 40_000 + (at % 7));
  };
  await pipeline(Readable.from(pieces()), createCompressor(kind, level, sizeHint), async function* (source) {
    for await (const c of source) chunks.push(c as Buffer);
  });
  return Buffer.concat(chunks);
}

const XZ: { level: number | undefined; sizeHint?: number; sha256: string }[] = [
  { level: 0, sha256: "84706e6cb1e40311dfab5748f531f33ca7a2bff2becdd5bfb21b7ce09b8bd3ea" },
  { level: 6, sha256: "a5ac3b02f7d3d61682bb048443778575f206a91348c13638f961986cfccbedd6" },
  { level: 9, sha256: "ce316753a9b3142880d546649649c4786c129019457a1f8aedf055d5e8490b7c" },
  { level: undefined, sizeHint: NEW.length, sha256: "e043c0863620155ecf231caa2c3421d1fcab0b1d202f5deb9384bc3eaeeabff0" },
];

test("xz writer: the same streams as recorded at levels 0, 6 and 9", async () => {
  for (const x of XZ) {
    assert.equal(sha(await compress("xz", x.level, NEW, x.sizeHint)), x.sha256, `xz level ${x.level} hint ${x.sizeHint}`);
  }
});

test("gzip writer: the same stream as recorded", async () => {
  assert.equal(sha(await compress("gzip", undefined, NEW)), "89da5d60d852b799b73c3cedd61d5fbaeb54f8aac76f075a6a5efea2fc761262");
  assert.equal(sha(await compress("gzip", 9, NEW)), "b8e4ff62a07d54df30eef3902e0c07114d406a34b6ad17c13efb72bed422b376");
});

const ARTIFACTS: { compression: Compression; level?: number; sha256: string }[] = [
  { compression: "none", sha256: "e1f1f7d895affc50a289181924ef0ba87483a392cf2fafa02aa391e6e40bfc5e" },
  { compression: "gzip", sha256: "027b6b74b4ca8a9fd4a6a5abc5461097e6ed7fa08339f9303687a4517716c007" },
  { compression: "xz", sha256: "71b3d7bf8d38579cf77f432e2cd23dde406a88cc8786059f1d931631eeced9fa" },
  { compression: "xz", level: 3, sha256: "458f91fbca37b5cd173f5c39c8ef63888226d00262f6c989eaa2c1a98253d930" },
];

test("Artifact writer: the same delta Artifacts as recorded", async (t) => {
  const dir = tempDir(t);
  const payload = path.join(dir, "rootfs.ext4.delta");
  writeFileSync(payload, NEW.subarray(0, 300_000));
  const script = path.join(dir, "ArtifactInstall_Enter_01");
  writeFileSync(script, "#!/bin/sh\nexit 0\n");
  for (const a of ARTIFACTS) {
    const spec: ArtifactSpec = {
      artifactName: "release-2",
      artifactGroup: "golden",
      deviceTypes: ["qemux86-64", "raspberrypi4"],
      dependsGroups: ["fleet"],
      payload: {
        type: "mender-binary-delta",
        depends: { "rootfs-image.checksum": "a".repeat(64) },
        provides: { "rootfs-image.checksum": "b".repeat(64), "rootfs-image.version": "release-2" },
        clearsProvides: ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"],
        metaData: { decoder_arguments: ["-B", "524288"], delta_algorithm: "xdelta3", rootfs_file_size: 1_600_000, source_rootfs_file_size: 1_572_864 },
        files: [{ path: payload }],
      },
      scripts: [{ path: script }],
      compression: a.compression,
      compressionLevel: a.level,
      mtime: 1_700_000_000,
    };
    const out = path.join(dir, `${a.compression}.mender`);
    await writeArtifact(out, spec);
    assert.equal(sha(readFileSync(out)), a.sha256, `${a.compression} level ${a.level}`);
  }
});
