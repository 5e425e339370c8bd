/**
 * The delta Artifact's contract seen from both sides: what the generator's spec writes, the
 * device's header parser reads back; the decoder is picked by delta_algorithm, and an unknown
 * algorithm is refused with the message devices have always logged.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { deltaDecoder, isSupportedAlgorithm, SUPPORTED_ALGORITHMS } from "../../src/delta/algorithms";
import { ALGORITHM_IDS, DEFAULT_ALGORITHM, DELTA_PAYLOAD_TYPE, META } from "../../src/delta/contract";
import { deltaFacts } from "../../src/device/delta-header";
import type { PayloadHeader } from "../../src/device/file-tree";
import { deltaArtifactSpec } from "../../src/generator/spec";
import type { LoadedRelease } from "../../src/generator/inputs";
import { decodeVcdiff } from "../../src/vcdiff/decoder/decode";
import { decodeMbdf } from "../../src/delta/mbdf/decode";

function release(side: "FROM" | "TO", sha256: string, imageSize: number, checksumKey: string): LoadedRelease {
  return {
    side, source: { kind: "artifact", path: `${side}.mender` }, artifactName: `r-${side}`, deviceTypes: ["dev"],
    imageName: "rootfs.ext4", checksumKey, provides: {}, depends: {}, scripts: [], signed: false,
    imagePath: `${side}.img`, imageSize, sha256, inputSize: imageSize, extractedSize: 0,
  };
}

/** The headers a Mender client hands the Update Module for an Artifact written from `spec`. */
function asClientSees(spec: ReturnType<typeof deltaArtifactSpec>): PayloadHeader {
  return {
    artifactName: spec.artifactName,
    payloadType: spec.payload.type,
    currentDeviceType: "dev",
    headerInfo: {},
    typeInfo: { artifact_depends: spec.payload.depends ?? {}, artifact_provides: spec.payload.provides ?? {} },
    metaData: JSON.parse(JSON.stringify(spec.payload.metaData)),
  };
}

test("the generator's delta Artifact is what the device reads: checksums (either key), sizes, algorithm, -B", () => {
  for (const key of ["rootfs-image.checksum", "rootfs_image_checksum"]) {
    const spec = deltaArtifactSpec({
      from: release("FROM", "a".repeat(64), 900, key), to: release("TO", "b".repeat(64), 1000, key),
      deviceTypes: [], decoderArguments: ["-B", "524288"], deltaPath: "d", scripts: [], compression: "xz",
    });
    assert.equal(spec.payload.type, DELTA_PAYLOAD_TYPE);
    assert.equal(spec.payload.type, "mender-binary-delta");
    assert.equal(spec.payload.files[0]!.name, "rootfs.ext4.delta");
    assert.deepEqual(Object.keys(spec.payload.metaData!).sort(), ["decoder_arguments", "delta_algorithm", "rootfs_file_size", "source_rootfs_file_size"]);
    const facts = deltaFacts(asClientSees(spec));
    assert.deepEqual(facts, {
      algorithm: "xdelta3", sourceChecksums: ["a".repeat(64)], sourceSize: 900, targetChecksum: "b".repeat(64),
      declaredSize: 1000, sourceBufferBytes: 524288,
    });
  }
});

test("decoder dispatch: xdelta3 (also when delta_algorithm is absent) is the VCDIFF decoder, mbdf1 the MBDF one; others are refused as before", () => {
  assert.deepEqual(SUPPORTED_ALGORITHMS, ["xdelta3", "mbdf1"]);
  assert.equal(DEFAULT_ALGORITHM, ALGORITHM_IDS.xdelta3);
  assert.equal(deltaDecoder("xdelta3"), decodeVcdiff);
  assert.equal(deltaDecoder("mbdf1"), decodeMbdf);
  assert.equal(isSupportedAlgorithm("bsdiff"), false);
  assert.equal(isSupportedAlgorithm("toString"), false);
  const header = (metaData: Record<string, unknown>): PayloadHeader => ({
    artifactName: "r", payloadType: DELTA_PAYLOAD_TYPE, currentDeviceType: "dev", headerInfo: {},
    typeInfo: { artifact_depends: { "rootfs-image.checksum": "a".repeat(64) }, artifact_provides: { "rootfs-image.checksum": "b".repeat(64) } },
    metaData: { [META.targetSize]: 10, ...metaData } as PayloadHeader["metaData"],
  });
  assert.equal(deltaFacts(header({})).algorithm, "xdelta3");
  assert.equal(deltaFacts(header({ delta_algorithm: "mbdf1" })).algorithm, "mbdf1");
  assert.throws(() => deltaFacts(header({ delta_algorithm: "bsdiff" })), {
    message: 'meta-data delta_algorithm is "bsdiff"; this module applies only "xdelta3" or "mbdf1" deltas',
  });
  assert.throws(() => deltaFacts(header({ delta_algorithm: null })), {
    message: 'meta-data delta_algorithm is null; this module applies only "xdelta3" or "mbdf1" deltas',
  });
});
