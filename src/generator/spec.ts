/**
 * The delta Artifact the generator writes, by the contract both sides share (src/delta/contract.ts;
 * docs/generator.md, "The delta Artifact"): type-info depends on FROM's image checksum (key spelled
 * as FROM spells it) and provides what TO provides; rootfs-style clears; meta-data for the device
 * program. Name, device types, group and state scripts come from TO.
 */
import type { CompressionTuning } from "../artifact/compressions/artifact-compression";
import type { ArtifactSpec, Compression, FileSpec, MetaData } from "../artifact";
import { ALGORITHM_IDS, CHECKSUM_KEYS, type AlgorithmId, DELTA_FILE_SUFFIX, DELTA_PAYLOAD_TYPE, META } from "../delta/contract";
import type { LoadedRelease } from "./inputs";

/** What mender-artifact gives rootfs-image Artifacts; used when TO has no clears of its own. */
export const ROOTFS_CLEARS = ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"];

export interface DeltaSpecInput {
  from: LoadedRelease;
  to: LoadedRelease;
  /** The delta's name (-n); default TO's name. */
  artifactName?: string;
  /** Device types for a raw TO image (--device-type). */
  deviceTypes: string[];
  decoderArguments: string[];
  deltaPath: string;
  /** TO's state scripts, written out as files. */
  scripts: FileSpec[];
  compression: Compression;
  compressionLevel?: number;
  compressionTuning?: CompressionTuning;
  signingKey?: string | Buffer;
  /** The payload's delta algorithm; default xdelta3 (VCDIFF). */
  algorithm?: AlgorithmId;
}

export function deltaPayloadName(to: { imageName: string }): string {
  return `${to.imageName}${DELTA_FILE_SUFFIX}`;
}

export function deltaMetaData(from: LoadedRelease, to: LoadedRelease, decoderArguments: string[], algorithm: AlgorithmId = ALGORITHM_IDS.xdelta3): MetaData {
  return {
    [META.decoderArguments]: decoderArguments,
    [META.algorithm]: algorithm,
    // The size of the image the delta produces (the size the device hashes after patching).
    [META.targetSize]: to.imageSize,
    // The size of the image the device must run: it hashes that many bytes of the active partition.
    [META.sourceSize]: from.imageSize,
  };
}

export function deltaArtifactSpec(input: DeltaSpecInput): ArtifactSpec {
  const { from, to } = input;
  const name = input.artifactName ?? to.artifactName;
  if (name === undefined) throw new Error("deltaArtifactSpec: no Artifact name (options must require one for a raw TO image)");

  // TO's own depends still apply (they describe the device before the update, as FROM leaves it);
  // the image checksum is FROM's, under FROM's spelling of the key.
  const depends: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(to.depends)) if (!(CHECKSUM_KEYS as readonly string[]).includes(k)) depends[k] = v;
  depends[from.checksumKey] = from.sha256;

  const provides: Record<string, string> = { ...to.provides };
  provides[to.checksumKey] = to.sha256;
  // A raw image has no provides of its own: it gets what mender-artifact gives a rootfs-image.
  if (to.source.kind === "image") provides["rootfs-image.version"] = name;

  return {
    artifactName: name,
    artifactGroup: to.artifactGroup,
    deviceTypes: to.deviceTypes.length > 0 ? to.deviceTypes : input.deviceTypes,
    dependsGroups: to.dependsGroups,
    payload: {
      type: DELTA_PAYLOAD_TYPE,
      depends,
      provides,
      clearsProvides: to.clears && to.clears.length > 0 ? to.clears : ROOTFS_CLEARS,
      metaData: deltaMetaData(from, to, input.decoderArguments, input.algorithm),
      files: [{ path: input.deltaPath, name: deltaPayloadName(to), mode: 0o644 }],
    },
    scripts: input.scripts,
    compression: input.compression,
    compressionLevel: input.compressionLevel,
    compressionTuning: input.compressionTuning,
    signingKey: input.signingKey,
  };
}
