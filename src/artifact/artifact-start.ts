/**
 * Whether a file's first bytes can be the start of a Mender Artifact, so that a raw image, a text
 * file or random bytes given where an Artifact is expected are named for what they are instead of
 * being reported as a broken tar. An Artifact is a tar whose first member is `version`: its first
 * 512 bytes are a ustar header (the magic, a valid checksum). A real Artifact cut short before byte 512
 * still starts with that name and stays "truncated".
 */
import { MenderDeltaError } from "../errors";
import { BLOCK, decodeHeader, isZeroBlock } from "./tar-header";

/** The file is not a Mender Artifact at all (not a damaged one): callers may suggest what to give instead. */
export class NotAnArtifactError extends MenderDeltaError {
  constructor(
    readonly file: string,
    /** What the file is instead, as far as its first bytes tell. */
    readonly reason: string,
  ) {
    super(`${file} is not a Mender Artifact (${reason})`);
  }
}

const FIRST_NAME = new TextEncoder().encode("version\0");
const USTAR = [...new TextEncoder().encode("ustar")];
const GZIP = [0x1f, 0x8b];
const XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];

const startsWith = (bytes: Uint8Array, magic: readonly number[]): boolean =>
  bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);

/** Why `start` (the file's first block, shorter when the file is) cannot begin an Artifact; undefined when it can. */
export function notAnArtifactReason(start: Uint8Array): string | undefined {
  // Nothing at all is what an interrupted copy leaves: the tar reader reports it as truncated.
  if (start.length === 0) return undefined;
  if (startsWith(start, GZIP)) return "it is gzip-compressed data; an Artifact is an uncompressed tar";
  if (startsWith(start, XZ)) return "it is xz-compressed data; an Artifact is an uncompressed tar";
  if (startsWith(start, ZSTD)) return "it is zstd-compressed data; an Artifact is an uncompressed tar";
  if (start.length < BLOCK) {
    const prefix = FIRST_NAME.subarray(0, Math.min(start.length, FIRST_NAME.length));
    return prefix.every((b, i) => start[i] === b) ? undefined : `it is ${start.length} bytes long, less than one tar header, and does not start like an Artifact`;
  }
  if (isZeroBlock(start)) return "it starts with a block of zeros, as a disk or filesystem image does";
  // The ustar magic marks a tar even when its header is damaged: that is reported as damage.
  if (USTAR.every((b, i) => start[257 + i] === b)) return undefined;
  try {
    decodeHeader(start, "");
  } catch {
    return "its first 512 bytes are not a tar header";
  }
  return undefined;
}

/** Throws NotAnArtifactError when `start` cannot begin an Artifact. */
export function checkArtifactStart(start: Uint8Array, file: string): void {
  const reason = notAnArtifactReason(start);
  if (reason !== undefined) throw new NotAnArtifactError(file, reason);
}
