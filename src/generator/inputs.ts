/**
 * The generator's inputs: what FROM and TO are (from their headers, cheaply), the checks that must
 * pass before any heavy work, and then the images themselves (extracted from the Artifacts with
 * their checksums verified, or raw images hashed).
 */
import { createHash } from "node:crypto";
import { createWriteStream, promises as fsp, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { MenderDeltaError } from "../errors";
import { NotAnArtifactError, readArtifact, readArtifactHeaders, stateScriptNameProblem, type StateScript } from "../artifact";
import { CHECKSUM_KEYS, DEFAULT_CHECKSUM_KEY, DELTA_PAYLOAD_TYPE, ROOTFS_IMAGE_PAYLOAD_TYPE } from "../delta/contract";
import { deviceOrFileSize } from "../io/file-size";
import { readInReusedChunks } from "../io/reused-chunks";
import type { InputSource } from "./options";
import { phase, type Progress } from "../progress";

export type Side = "FROM" | "TO";

/** A release as its headers (or, for a raw image, the command line) describe it. */
export interface InputRelease {
  side: Side;
  source: InputSource;
  artifactName?: string;
  artifactGroup?: string;
  /** Device types the Artifact is for; empty for a raw image. */
  deviceTypes: string[];
  dependsGroups?: string[];
  /** header-info `artifact_depends.artifact_name`: the releases this one installs over. */
  dependsArtifactNames?: string[];
  /** The image's file name (the payload file in the Artifact, or the raw image's basename). */
  imageName: string;
  /** The provide key naming the image checksum, as this release spells it. */
  checksumKey: string;
  /** The image checksum the Artifact declares (type-info provides), if it declares one. */
  declaredChecksum?: string;
  provides: Record<string, string>;
  depends: Record<string, string | string[]>;
  clears?: string[];
  scripts: StateScript[];
  signed: boolean;
  /**
   * Bytes its image takes once extracted into the scratch directory (an Artifact's payload file, as
   * its tar header says); 0 for a raw image, which is read where it is.
   */
  extractedSize: number;
}

/** A release with its image on disk, checked. */
export interface LoadedRelease extends InputRelease {
  imagePath: string;
  imageSize: number;
  sha256: string;
  /** Size of the input file (the Artifact, or the raw image). */
  inputSize: number;
}

const PAYLOAD_NAME = /^[\w\-.,]+$/;

function label(side: Side, source: InputSource): string {
  return `${side} ${source.kind === "artifact" ? "Artifact" : "image"} ${source.path}`;
}

/** Reads only what is cheap (headers, file type) and checks each input on its own. */
export async function inspectInput(side: Side, source: InputSource, verifyKey?: string | Buffer): Promise<InputRelease> {
  if (source.kind === "image") return inspectImage(side, source);
  const where = label(side, source);
  await statInput(where, source.path, false);
  const headers = await readArtifactHeaders(source.path, { peekPayloadSize: true, ...(verifyKey === undefined ? {} : { verifyKey }) }).catch((err: unknown) => {
    if (!(err instanceof NotAnArtifactError)) throw err;
    const flag = side === "FROM" ? "--from-image" : "--to-image";
    throw new MenderDeltaError(`${side} ${source.path} is not a Mender Artifact (${err.reason}); give a rootfs-image Artifact, or a raw filesystem image with ${flag}`);
  });
  const payloads = headers.payloads;
  if (payloads.length !== 1) {
    throw new MenderDeltaError(`${where} has ${payloads.length} payloads; a delta is made between Artifacts with exactly one rootfs-image payload`);
  }
  const payload = payloads[0]!;
  if (payload.type !== ROOTFS_IMAGE_PAYLOAD_TYPE) {
    const hint = payload.type === DELTA_PAYLOAD_TYPE
      ? "it is already a delta Artifact; give the full rootfs-image Artifacts of both releases"
      : "make it with 'mender-artifact write rootfs-image' (or give the image with --from-image/--to-image)";
    throw new MenderDeltaError(`${where} has a '${payload.type ?? "empty (bootstrap)"}' payload, not rootfs-image; ${hint}`);
  }
  if (payload.files.length !== 1) {
    throw new MenderDeltaError(`${where}: its rootfs-image payload has ${payload.files.length} files; a rootfs-image Artifact holds exactly one filesystem image`);
  }
  // TO's state scripts go into the delta Artifact: one it could not carry fails here, not after the encoding.
  for (const script of side === "TO" ? headers.scripts : []) {
    const problem = stateScriptNameProblem(script.name);
    if (problem !== undefined) throw new MenderDeltaError(`${where}: its ${problem}; the delta Artifact carries TO's state scripts, and Mender runs only those so named`);
  }
  const provides = payload.typeInfo.provides;
  const checksumKey = CHECKSUM_KEYS.find((k) => provides[k] !== undefined) ?? DEFAULT_CHECKSUM_KEY;
  const declared = provides[checksumKey];
  return {
    side,
    source,
    artifactName: headers.headerInfo.artifactName,
    artifactGroup: headers.headerInfo.artifactGroup,
    deviceTypes: headers.headerInfo.deviceTypes,
    dependsGroups: headers.headerInfo.dependsGroups,
    dependsArtifactNames: headers.headerInfo.dependsArtifactNames,
    imageName: payload.files[0]!.name,
    checksumKey,
    declaredChecksum: declared === undefined ? undefined : declared.toLowerCase(),
    provides,
    depends: payload.typeInfo.depends,
    clears: payload.typeInfo.clearsProvides,
    scripts: headers.scripts,
    signed: headers.signed,
    extractedSize: headers.firstPayloadFileSize ?? 0,
  };
}

async function inspectImage(side: Side, source: InputSource): Promise<InputRelease> {
  const where = label(side, source);
  await statInput(where, source.path, true);
  const imageName = path.basename(source.path);
  if (side === "TO" && !PAYLOAD_NAME.test(imageName)) {
    throw new MenderDeltaError(`${where}: the delta payload is named after the image ('${imageName}.delta'), which may only contain letters, digits, '_', '-', '.' and ','; rename or symlink the image`);
  }
  return {
    side, source, deviceTypes: [], imageName, checksumKey: DEFAULT_CHECKSUM_KEY, provides: {}, depends: {}, scripts: [], signed: false, extractedSize: 0,
  };
}

async function statInput(where: string, file: string, allowDevice: boolean): Promise<void> {
  let st;
  try {
    st = await fsp.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MenderDeltaError(`cannot read the ${where}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  if (!(st.isFile() || (allowDevice && st.isBlockDevice()))) throw new MenderDeltaError(`the ${where} is not a regular file${allowDevice ? " or block device" : ""}`);
}

/**
 * Checks FROM and TO against each other before anything heavy runs. Throws for what cannot give a
 * useful delta; returns warnings for what is allowed but probably a mistake.
 */
export function checkPair(from: InputRelease, to: InputRelease, toDeviceTypes: string[], output: string): string[] {
  const warnings: string[] = [];
  const same = (a: string, b: string): boolean => {
    try {
      return realpathSync(a) === realpathSync(b);
    } catch {
      return path.resolve(a) === path.resolve(b);
    }
  };
  if (same(from.source.path, to.source.path)) {
    throw new MenderDeltaError(`FROM and TO are the same file (${from.source.path}); give the release running on the devices first and the new release second`);
  }
  // The same file by any name (a symlinked directory on the way, a hard link): the Artifact would be
  // renamed over the input it is made from.
  const sameFile = (a: string, b: string): boolean => {
    try {
      const [x, y] = [statSync(a), statSync(b)];
      return x.dev === y.dev && x.ino === y.ino;
    } catch {
      return false;
    }
  };
  for (const input of [from, to]) {
    if (path.resolve(output) === path.resolve(input.source.path) || sameFile(output, input.source.path)) {
      throw new MenderDeltaError(`the output ${output} is the ${input.side} input; write the delta Artifact to a new file`);
    }
  }
  if (from.declaredChecksum !== undefined && from.declaredChecksum === to.declaredChecksum) {
    throw new MenderDeltaError(
      `FROM and TO declare the same rootfs-image.checksum (${from.declaredChecksum}): the images are identical and a delta would change nothing; check you picked two different releases`,
    );
  }
  if (from.deviceTypes.length > 0 && !from.deviceTypes.some((d) => toDeviceTypes.includes(d))) {
    throw new MenderDeltaError(
      `FROM is for device type(s) ${from.deviceTypes.join(", ")} and TO for ${toDeviceTypes.join(", ")}: no device runs FROM and can install TO; pair Artifacts built for the same device type`,
    );
  }
  if (from.source.kind === "artifact" && from.declaredChecksum === undefined) {
    warnings.push(
      `FROM (${from.source.path}) declares no rootfs-image.checksum; devices running it have that provide only after a bootstrap Artifact seeded it, otherwise they refuse the delta`,
    );
  }
  const reversed = reversedHint(from, to);
  if (reversed) warnings.push(reversed);
  return warnings;
}

/** Why the arguments look swapped (FROM is the release on the device, TO the new one), if they do. */
function reversedHint(from: InputRelease, to: InputRelease): string | undefined {
  const swapHint = "FROM is the release running on the devices, TO the new one; swap them if that is not what you meant";
  if (to.artifactName && from.dependsArtifactNames?.includes(to.artifactName)) {
    return `FROM (${from.artifactName}) depends on TO (${to.artifactName}): the arguments look reversed; ${swapHint}`;
  }
  if (from.artifactName && to.artifactName && compareVersionNames(from.artifactName, to.artifactName) > 0) {
    return `FROM's name '${from.artifactName}' looks newer than TO's '${to.artifactName}': the arguments may be reversed (fine for a delta back to an older release); ${swapHint}`;
  }
  return undefined;
}

/**
 * Compares two release names that differ only in their numbers ("release-1.9" < "release-1.10");
 * 0 when they differ in anything else (no opinion).
 */
export function compareVersionNames(a: string, b: string): number {
  const split = (s: string): string[] => s.split(/(\d+)/);
  const pa = split(a), pb = split(b);
  if (pa.length !== pb.length) return 0;
  for (let i = 0; i < pa.length; i += 2) if (pa[i] !== pb[i]) return 0;
  for (let i = 1; i < pa.length; i += 2) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * Puts the release's image on disk and checks it: an Artifact's payload is extracted into `workDir`
 * (the reader checks it against the manifest) and compared with the declared rootfs-image.checksum;
 * a raw image is hashed where it is.
 */
export async function loadImage(release: InputRelease, workDir: string, progress: Progress): Promise<LoadedRelease> {
  const where = label(release.side, release.source);
  const inputSize = deviceOrFileSize(release.source.path);
  return phase(progress, `reading ${release.side}`, inputSize, async () => {
    if (release.source.kind === "image") {
      if (inputSize === 0) throw emptyImage(release, where);
      const sha256 = await hashFile(release.source.path, progress);
      return { ...release, imagePath: release.source.path, imageSize: inputSize, sha256, inputSize };
    }
    const imagePath = path.join(workDir, `${release.side.toLowerCase()}-${release.imageName}`);
    let imageSize = 0;
    const info = await readArtifact(release.source.path, {
      onPayloadFile(file) {
        imageSize = file.size;
        const out = createWriteStream(imagePath, { highWaterMark: 1 << 20 });
        return {
          write: (chunk: Uint8Array) =>
            new Promise<void>((resolve, reject) => {
              progress.advance(chunk.length * (inputSize / Math.max(1, file.size)));
              out.write(chunk, (err) => (err ? reject(err) : resolve()));
            }),
          end: () => new Promise<void>((resolve, reject) => {
            out.once("error", reject);
            out.end(() => resolve());
          }),
        };
      },
    });
    if (imageSize === 0) throw emptyImage(release, where);
    const sha256 = info.payloadFiles[0]!.sha256;
    if (release.declaredChecksum !== undefined && release.declaredChecksum !== sha256) {
      throw new MenderDeltaError(
        `${where} declares ${release.checksumKey} ${release.declaredChecksum}, but its image ${release.imageName} hashes to ${sha256}: ` +
          `devices would check against the wrong value; rebuild the Artifact with mender-artifact write rootfs-image`,
      );
    }
    return { ...release, imagePath, imageSize, sha256, inputSize };
  });
}

/** An empty image cannot be a release: a delta to it would leave devices activating an unwritten partition. */
function emptyImage(release: InputRelease, where: string): MenderDeltaError {
  const why = release.side === "TO" ? "devices would switch to a partition with nothing written" : "no device runs an empty image";
  return new MenderDeltaError(`the ${where} holds an empty image (${release.imageName}, 0 bytes): ${why}; give the real rootfs image`);
}

async function hashFile(file: string, progress: Progress): Promise<string> {
  const hash = createHash("sha256");
  // Two buffers in turn, not an fs stream's fresh buffer per read (io/reused-chunks.ts says why).
  for await (const chunk of readInReusedChunks(file)) {
    hash.update(chunk);
    progress.advance(chunk.length);
  }
  return hash.digest("hex");
}
