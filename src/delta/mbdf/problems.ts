/**
 * How an MBDF decode fails: the record executors throw a RecordProblem (what is wrong), the decoder
 * turns it into one line that names the record, its target offset and the delta byte it reached.
 */
import { DeltaFormatError, SourceMismatchError } from "../../vcdiff/decoder/errors";

/** Something a record declares or contains is wrong; `source` when the source, not the delta, is to blame. */
export class RecordProblem extends Error {
  constructor(
    message: string,
    readonly blame: "delta" | "source" | "unsupported" = "delta",
  ) {
    super(message);
  }
}

/** The spot of a failure: the header, or record `index` starting at target byte `targetOffset`. */
export interface Spot {
  index: number | "header";
  targetOffset: number;
  deltaOffset: number;
}

const CORRUPT_HINT = "the delta file is damaged or truncated (incomplete download?), or was not made by mender-binary-delta-generator; fetch or generate it again";

export function describeSpot(spot: Spot): string {
  const record = spot.index === "header" ? "the MBDF header" : `record ${spot.index} (target byte ${spot.targetOffset})`;
  return `${record}, delta byte ${spot.deltaOffset}`;
}

/** The one-line error for `problem` at `spot`. */
export function mbdfError(spot: Spot, problem: RecordProblem): DeltaFormatError | SourceMismatchError {
  const where = describeSpot(spot);
  if (problem.blame === "source") {
    return new SourceMismatchError(
      `${problem.message} at ${where}: the source partition differs from the image the delta was made from ` +
        `(e.g. the active rootfs was mounted read-write or modified, or the delta is for another release). ` +
        `Use a delta made from exactly the installed image, or a full rootfs Artifact`,
    );
  }
  if (problem.blame === "unsupported") {
    return new DeltaFormatError(`unsupported MBDF delta at ${where}: ${problem.message}. Nothing of this record was written`);
  }
  return new DeltaFormatError(`invalid MBDF delta at ${where}: ${problem.message}. Likely cause: ${CORRUPT_HINT}`);
}
