/**
 * Checks a delta's read set (src/vcdiff/format/read-set.ts) against the source before a byte is written,
 * and words the outcome: the note that installs anyway on a read-write root whose written blocks
 * the delta does not read, or the refusal that names what changed. Used by the Update Module (the
 * active partition, when its whole hash differs) and by `apply` (its --source).
 */
import { MenderDeltaError } from "../errors";
import type { BlockSource } from "../io/interfaces";
import { checkReadSet, rangeBytes, type ReadSet } from "../vcdiff/format/read-set";
import { describeChangedBlocks } from "./changed-files";

/** "1 MiB", "64 KiB": a chunk of 2^shift bytes. */
export function chunkSize(shift: number): string {
  return shift >= 20 ? `${2 ** (shift - 20)} MiB` : `${2 ** (shift - 10)} KiB`;
}

export interface ReadSetWording {
  /** Names the source in messages: "the active partition /dev/mmcblk0p2", "--source old.img". */
  source: string;
  /** Why the source may differ from the delta's: "written since it was installed: a read-write root". */
  why: string;
  /** Where the changed bytes changed: "since its release was installed". */
  since: string;
  /** What the caller does when intact: "installing", "applying". */
  proceeding: string;
  /** What to do when refused. */
  advice: string;
  /** Exit code of the refusal (the caller's code for a source that does not match). */
  exitCode: number;
}

export interface ReadSetVerdict {
  /** The line to log. */
  line: string;
  /** Whole chunks of the source that differ from the delta's source (outside what it reads). */
  wholeChunksChanged: number;
}

/**
 * Reads the first `set.sourceSize` bytes of `source` once. Returns the line to log when the bytes
 * the delta reads are intact; throws the refusal (one line, with `wording.exitCode`) when not.
 */
export function verifyReadSet(set: ReadSet, source: BlockSource, wording: ReadSetWording): ReadSetVerdict {
  const result = checkReadSet(set, source);
  const ranges = result.rangesRead;
  if (result.intact) {
    const line =
      `${wording.source} differs from the delta's source in ${result.wholeChunksChanged} of ${result.wholeChunks} ` +
      `${chunkSize(set.wholeChunkShift)} chunks (${wording.why}); ` +
      `the ${ranges} range${ranges === 1 ? "" : "s"} (${rangeBytes(set)} bytes) the delta reads ${ranges === 1 ? "is" : "are all"} intact: ${wording.proceeding}`;
    return { line, wholeChunksChanged: result.wholeChunksChanged };
  }
  const chunk = 2 ** set.readChunkShift;
  const chunks = new Set(result.changedChunks.map(([start]) => Math.floor(start / chunk))).size;
  const owners = result.changedChunks.length > 0 ? describeChangedBlocks(source, result.changedChunks) : "no single chunk (only the digest over all of them differs)";
  throw new MenderDeltaError(
    `${result.changedRanges} of ${ranges} ranges the delta reads changed on ${wording.source} ${wording.since} ` +
      `(in ${chunks} ${chunkSize(set.readChunkShift)} chunk${chunks === 1 ? "" : "s"}): they belong to ${owners}; nothing was written. ${wording.advice}`,
    wording.exitCode,
  );
}
