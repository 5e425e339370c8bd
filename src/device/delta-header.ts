/**
 * What the module needs from a delta Artifact's headers: the source and target rootfs checksums
 * (type-info depends/provides), the source size to hash, the algorithm, and decoder arguments.
 * Artifacts made by Mender's own tooling and by our generator are both understood.
 */
import { MenderDeltaError } from "../errors";
import type { JsonObject, PayloadHeader } from "./file-tree";

/** Meta-data key our generator writes with the source image size (Mender's own tooling does not). */
export const SOURCE_SIZE_KEY = "source_rootfs_file_size";
/** sha256 of no bytes: a delta that "provides" this image would leave the partition unwritten. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const CHECKSUM_KEYS = ["rootfs-image.checksum", "rootfs_image_checksum"];

export interface DeltaFacts {
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

function firstKey(objs: JsonObject[], keys: string[]): unknown {
  for (const o of objs) for (const k of keys) if (o[k] !== undefined) return o[k];
  return undefined;
}

function sizeValue(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === "string" ? Number(v) : v;
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
  const algorithm = header.metaData["delta_algorithm"];
  if (algorithm !== undefined && algorithm !== "xdelta3") {
    throw new MenderDeltaError(`meta-data delta_algorithm is ${JSON.stringify(algorithm)}; this module applies only "xdelta3" deltas`);
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
  const declaredSize = sizeValue(header.metaData["rootfs_file_size"], "rootfs_file_size");
  const sourceSize = sizeValue(header.metaData[SOURCE_SIZE_KEY], SOURCE_SIZE_KEY) ?? declaredSize;
  if (sourceSize === undefined) {
    throw new MenderDeltaError(
      `meta-data has neither ${SOURCE_SIZE_KEY} nor rootfs_file_size, so the size of the source image to check is unknown`,
    );
  }
  return {
    sourceChecksums,
    sourceSize,
    targetChecksum: prov.toLowerCase(),
    declaredSize,
    sourceBufferBytes: sourceBufferFromArguments(header.metaData["decoder_arguments"]),
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
      `the new image does not fit on the inactive partition ${partition}: the Artifact declares rootfs_file_size ${facts.declaredSize} bytes, ` +
        `the partition holds ${capacity}. Refused before download; make the partitions as large as the image`,
    );
  }
}
