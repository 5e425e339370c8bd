/**
 * The two ways a delta can fail to apply, as errors a person can act on: the delta itself is broken
 * (damaged, truncated, not made by xdelta3/VCDIFF, or uses a feature we refuse), or the delta is fine
 * but the source it is applied to is not the image it was made from.
 */
import { MenderDeltaError } from "../../errors";

/** Exit code the CLI uses when the source does not match the delta (distinct from 1 so scripts can fall back to a full update). */
export const SOURCE_MISMATCH_EXIT_CODE = 3;

/** The delta is malformed, truncated or unsupported. */
export class DeltaFormatError extends MenderDeltaError {}

/** The delta is intact but does not fit the source it is applied to. */
export class SourceMismatchError extends MenderDeltaError {
  constructor(message: string) {
    super(message, SOURCE_MISMATCH_EXIT_CODE);
  }
}

const CORRUPT_HINT =
  "the delta file is damaged or truncated (incomplete download?), or was not made by xdelta3/VCDIFF; fetch or generate it again";

/** A structural check failed. `where` names the spot ("window 3, delta byte 1234"). */
export function corruptDelta(where: string, what: string): DeltaFormatError {
  return new DeltaFormatError(`invalid delta at ${where}: ${what}. Likely cause: ${CORRUPT_HINT}`);
}

/** The delta uses a feature xdelta3's own decoder refuses too. */
export function unsupportedDelta(where: string, what: string): DeltaFormatError {
  return new DeltaFormatError(
    `unsupported delta at ${where}: ${what}. Make the delta with stock 'xdelta3 -e' or mender-binary-delta-generator`,
  );
}

/** The reconstructed window does not have the checksum the encoder recorded. */
export function sourceMismatch(where: string, what: string): SourceMismatchError {
  return new SourceMismatchError(
    `${what} at ${where}: the source partition differs from the image the delta was made from ` +
      `(e.g. the active rootfs was mounted read-write or modified, or the delta is for another release). ` +
      `Use a delta made from exactly the installed image, or a full rootfs Artifact`,
  );
}
