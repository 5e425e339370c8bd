/**
 * What the module needs from a delta Artifact's headers: the source and target rootfs checksums
 * (type-info depends/provides), the source size to hash, the algorithm, and decoder arguments.
 * Artifacts made by Mender's own tooling and by our generator are both understood.
 */
import { isSupportedAlgorithm, SUPPORTED_ALGORITHMS } from "../delta/algorithms";
import { CHECKSUM_KEYS, DEFAULT_ALGORITHM, META, type AlgorithmId } from "../delta/contract";
import { MenderDeltaError } from "../errors";
import type { JsonObject, PayloadHeader } from "./file-tree";

/** sha256 of no bytes: a delta that "provides" this image would leave the partition unwritten. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export interface DeltaFacts {
  /** The algorithm that decodes the payload (meta-data delta_algorithm, xdelta3 when absent). */
  algorithm: AlgorithmId;
  /** sha256 (hex) the active partition's first `sourceSize` bytes must have; any of these. */
  sourceChecksums: string[];
  sourceSize: number;
  /** sha256 (hex) of the image the delta produces. */
  targetChecksum: string;
  /** rootfs_file_size, when given (progress only: Mender's docs use it for the source size). */
  declaredSize?: number;
  /** -B of decoder_arguments: bytes of source to cache. */
  sourceBufferBytes?: number;
}

function objectField(obj: JsonObject, key: string): JsonObject {
  const v = obj[key];
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as JsonObject) : {};
}

function firstKey(objs: JsonObject[], keys: readonly string[]): unknown {
  for (const o of objs) for (const k of keys) if (o[k] !== undefined) return o[k];
  return undefined;
}

function sizeValue(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  // A string must be decimal digits: Number() would also take "0x800000", " 8 " and "1e3".
  const n = typeof v === "string" ? (/^\d+$/.test(v) ? Number(v) : NaN) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) {
    throw new MenderDeltaError(`meta-data ${key} must be a positive integer (bytes, at most ${Number.MAX_SAFE_INTEGER}), got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Parses "-B 524288000", "-B524288000" and "-B=524288000" out of decoder_arguments. */
export function sourceBufferFromArguments(args: unknown): number | undefined {
  if (!Array.isArray(args)) return undefined;
  const words = args.flatMap((a) => String(a).split(/\s+/)).filter(Boolean);
  let result: number | undefined;
  for (let i = 0; i < words.length; i++) {
    const m = /^-B=?(\d*)$/.exec(words[i]!);
    if (!m) continue;
    const value = m[1] || words[++i];
    if (value && /^\d+$/.test(value)) result = Number(value);
  }
  return result;
}

export function checkDeviceType(header: PayloadHeader): void {
  const wanted = objectField(header.headerInfo, "artifact_depends")["device_type"];
  const list = Array.isArray(wanted) ? wanted.map(String) : typeof wanted === "string" ? [wanted] : [];
  if (list.length > 0 && header.currentDeviceType && !list.includes(header.currentDeviceType)) {
    throw new MenderDeltaError(
      `the Artifact is for device type(s) ${list.join(", ")}, this device is ${header.currentDeviceType}; use a delta made for this device`,
    );
  }
}

export function deltaFacts(header: PayloadHeader): DeltaFacts {
  const named = header.metaData[META.algorithm];
  // Only an absent key means the default (null is a value, and refused like any unknown one).
  const algorithm = named === undefined ? DEFAULT_ALGORITHM : named;
  if (!isSupportedAlgorithm(algorithm)) {
    const known = SUPPORTED_ALGORITHMS.map((id) => JSON.stringify(id)).join(" or ");
    throw new MenderDeltaError(`meta-data ${META.algorithm} is ${JSON.stringify(algorithm)}; this module applies only ${known} deltas`);
  }
  const depends = [objectField(header.typeInfo, "artifact_depends"), objectField(header.headerInfo, "artifact_depends")];
  const provides = [objectField(header.typeInfo, "artifact_provides"), objectField(header.headerInfo, "artifact_provides")];
  const dep = firstKey(depends, CHECKSUM_KEYS);
  const sourceChecksums = (Array.isArray(dep) ? dep : dep === undefined ? [] : [dep]).map((s) => String(s).toLowerCase());
  if (sourceChecksums.length === 0) {
    throw new MenderDeltaError(
      `the Artifact does not depend on rootfs-image.checksum, so there is no way to check the running partition is the delta's source; ` +
        `make the delta with mender-binary-delta-generator`,
    );
  }
  const prov = firstKey(provides, CHECKSUM_KEYS);
  if (typeof prov !== "string" || !/^[0-9a-fA-F]{64}$/.test(prov)) {
    throw new MenderDeltaError(`the Artifact provides no valid rootfs-image.checksum (${JSON.stringify(prov ?? null)}); the result could not be verified`);
  }
  const declaredSize = sizeValue(header.metaData[META.targetSize], META.targetSize);
  const sourceSize = sizeValue(header.metaData[META.sourceSize], META.sourceSize) ?? declaredSize;
  if (sourceSize === undefined) {
    throw new MenderDeltaError(
      `meta-data has neither ${META.sourceSize} nor ${META.targetSize}, so the size of the source image to check is unknown`,
    );
  }
  return {
    algorithm,
    sourceChecksums,
    sourceSize,
    targetChecksum: prov.toLowerCase(),
    declaredSize,
    sourceBufferBytes: sourceBufferFromArguments(header.metaData[META.decoderArguments]),
  };
}

/**
 * Before the delta is downloaded: the new image must be something, and fit the inactive partition
 * (`capacity` bytes). rootfs_file_size is the new image's size for this project's generator and the
 * source's for some of Mender's docs; both images normally fill equal partitions, so either way a
 * size beyond the partition cannot be installed. (0 is refused by deltaFacts already.)
 */
export function checkTargetFits(facts: DeltaFacts, capacity: number, partition: string): void {
  if (facts.targetChecksum === EMPTY_SHA256) {
    throw new MenderDeltaError(
      `the Artifact's new image is empty (its rootfs-image.checksum is the sha256 of zero bytes): nothing would be written to ${partition}, ` +
        `and an empty partition does not boot. Refused before download; make the delta from the real new image`,
    );
  }
  if (facts.declaredSize !== undefined && facts.declaredSize > capacity) {
    throw new MenderDeltaError(
      `the new image does not fit on the inactive partition ${partition}: the Artifact declares ${META.targetSize} ${facts.declaredSize} bytes, ` +
        `the partition holds ${capacity}. Refused before download; make the partitions as large as the image`,
    );
  }
}
