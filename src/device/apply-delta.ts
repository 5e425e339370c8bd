/**
 * Applies one delta stream onto the inactive partition, safely:
 *   1. the active partition's first sourceSize bytes must hash to the depends checksum (O_DIRECT),
 *      checked before the first byte of the delta is read, so a wrong source costs no download.
 *      When they do not (a root mounted read-write rewrites some blocks), the delta's read set (in
 *      VCDIFF's application header, or MBDF's header) must vouch for every byte the delta reads: checked after the file
 *      header arrived and before anything is written (read-set-check.ts);
 *   2. the delta is decoded as it arrives, reading the source with O_DIRECT and writing the target
 *      through a PartitionWriter (skip-unchanged 1 MiB frames, a CRC-32 of each frame written, fsync);
 *   3. the partition, read back with O_DIRECT after the fsync, must hash to the provided
 *      rootfs-image.checksum: one SHA-256 of what the storage holds. When it does not, the
 *      written frames' CRC-32s tell whether the storage lost a write or the delta made another image.
 * Only then is the target recorded as verified (tmp/target.json) for ArtifactInstall to activate.
 */
import { deltaDecoder } from "../delta/algorithms";
import { MenderDeltaError } from "../errors";
import { openDirectSource } from "../io/direct-source";
import type { DeltaFacts } from "./delta-header";
import { logEvent, logWarning } from "./log";
import { FRAME_BYTES, PartitionWriter } from "./partition-writer";
import { meteredPayload } from "./payload-size";
import { parseReadSetAppHeader } from "../vcdiff/format/read-set";
import { verifyReadSet } from "./read-set-check";
import { hex32 } from "../compress/crc32";
import { compareSource, firstLostWrite, hashDevicePrefix, sourceMismatchError } from "./source-check";

/**
 * The decoder's longest source read (its run buffer). O_DIRECT gets no kernel readahead, so runs
 * are long enough to keep the storage streaming: 256 KiB measured as fast as a warm page cache
 * (test/bench/direct-source.ts), 64 KiB only as fast as a cold one. The decoder keeps no cache of
 * source blocks: it reads each window's copies in source order, the pages they need, each once per
 * batch of copies (src/vcdiff/decoder/copy-batch.ts). A delta's `-B` (decoder_arguments) is
 * accepted but changes nothing: the Artifact must not be able to raise the device's memory use.
 */
const SOURCE_BLOCK = 256 * 1024;
/**
 * Largest target window accepted: what xdelta3 3.0 (`-W` at most 16 MiB) and our generator make.
 * Together with the sections' budget (twice the window plus 1 MiB) it bounds a window's memory.
 */
const MAX_WINDOW_BYTES = 16 << 20;
/** The read-set check reads the whole source once, sequentially, like the source hash. */
const READ_SET_BLOCK = 1 << 20;

export interface VerifiedTarget {
  partition: string;
  sha256: string;
  bytes: number;
}

export interface ApplyOptions {
  sourcePath: string;
  targetPath: string;
  /** The target opened by the storage guard (written through, not closed); else targetPath is opened. */
  targetFd?: number;
  facts: DeltaFacts;
  /** Names the delta in messages. */
  deltaName: string;
  /**
   * The delta's size as the client declared it (DownloadWithFileSizes): the stream is held to it
   * and progress is a percentage of it. Without it, progress follows the target's rootfs_file_size.
   */
  payloadBytes?: number;
  /** verifySource found the whole source different: the delta's read set must vouch for what it reads. */
  sourceMismatch?: SourceMismatch;
}

/** The whole active partition differs from the delta's source: the read set must decide. */
export interface SourceMismatch {
  /** sha256 (hex) the partition's first sourceSize bytes have. */
  actual: string;
}

/**
 * Step 1, before the stream is opened. Returns undefined when the whole source matches, else what
 * applyDelta needs to check the delta's read set instead (the refusal waits for the delta's header).
 */
export async function verifySource(sourcePath: string, facts: DeltaFacts): Promise<SourceMismatch | undefined> {
  logEvent(`checking the active partition ${sourcePath} (${facts.sourceSize} bytes) against the delta's source checksum`);
  const { matches, actual } = await compareSource(sourcePath, facts.sourceSize, facts.sourceChecksums);
  if (matches) {
    logEvent("active partition matches the delta's source");
    return undefined;
  }
  logEvent(
    `the active partition's sha256 ${actual} is not the delta's source (${facts.sourceChecksums.join(" or ")}); ` +
      `checking the bytes the delta reads (its read set) before anything is written`,
  );
  return { actual };
}

/** Raised by the read-set check: already the one line to print, not a decoding failure. */
class SourceRefused extends MenderDeltaError {}

/**
 * The onAppHeader of a source whose whole hash differs: the delta must carry a read set for a
 * source of the Artifact's size, and every byte it names must be intact on the active partition.
 */
function readSetGate(sourcePath: string, facts: DeltaFacts, mismatch: SourceMismatch): (appHeader: Uint8Array | undefined) => void {
  return (appHeader) => {
    const refuse = (noReadSet: boolean) =>
      new SourceRefused(sourceMismatchError(sourcePath, facts.sourceSize, mismatch.actual, facts.sourceChecksums, noReadSet).message);
    let set;
    try {
      set = appHeader && parseReadSetAppHeader(appHeader);
    } catch (err) {
      // Nothing was written yet: not the "incomplete partition" failure a damaged window is.
      if (err instanceof MenderDeltaError) throw new SourceRefused(`${err.message.replace(/\.$/, "")}; nothing was written`, err.exitCode);
      throw err;
    }
    if (!set) throw refuse(true);
    if (set.sourceSize !== facts.sourceSize) {
      throw new SourceRefused(
        `the delta's read set describes a ${set.sourceSize}-byte source, the Artifact's source image is ${facts.sourceSize} bytes: ` +
          `they were not made together. Nothing was written; make the delta again with mender-binary-delta-generator`,
      );
    }
    const source = openDirectSource(sourcePath, { blockSize: READ_SET_BLOCK, onFallback: logWarning });
    try {
      logEvent(
        verifyReadSet(set, source, {
          source: `the active partition ${sourcePath}`,
          why: "written since it was installed: a read-write root",
          since: "since its release was installed",
          proceeding: "installing",
          advice:
            "Install a full rootfs-image Artifact, or do not modify in place the files the next release keeps " +
            "(see docs/read-write-root.md)",
          exitCode: 1,
        }).line,
      );
    } catch (err) {
      if (err instanceof MenderDeltaError && !(err instanceof SourceRefused)) throw new SourceRefused(err.message, err.exitCode);
      throw err;
    } finally {
      source.close();
    }
  };
}

/** Steps 2 and 3 (call verifySource first; pass what it returned as `sourceMismatch`). */
export async function applyDelta(delta: AsyncIterable<Uint8Array>, opts: ApplyOptions): Promise<VerifiedTarget> {
  const { sourcePath, targetPath, facts } = opts;
  const source = openDirectSource(sourcePath, { blockSize: SOURCE_BLOCK, onFallback: logWarning });
  const writer = new PartitionWriter(targetPath, opts.targetFd);
  const expected = opts.payloadBytes === undefined ? facts.declaredSize : undefined;
  const input = opts.payloadBytes === undefined ? delta : meteredPayload(delta, opts.deltaName, opts.payloadBytes);
  let nextReport = 10;
  logEvent(`applying ${opts.deltaName} onto ${targetPath} (source ${sourcePath})`);
  let sourceBytesRead = 0;
  try {
    // The decoder reads the source only through `source`: the O_DIRECT reader of the active
    // partition, in whole aligned blocks.
    ({ sourceBytesRead } = await deltaDecoder(facts.algorithm)(input, source, writer, {
      maxWindowSize: MAX_WINDOW_BYTES,
      // The image is hashed once, as read back from the partition below: decoders need not hash it.
      targetChecksum: facts.targetChecksum,
      // The prefix the source check hashed: a delta that declares another source size is refused.
      sourceSize: facts.sourceSize,
      onAppHeader: opts.sourceMismatch ? readSetGate(sourcePath, facts, opts.sourceMismatch) : undefined,
      onWindow(info) {
        if (!expected) return;
        const percent = Math.floor(((info.targetOffset + info.targetLength) * 100) / expected);
        if (percent >= nextReport) {
          logEvent(`progress: ${Math.min(percent, 100)}% (${info.targetOffset + info.targetLength} bytes written)`);
          nextReport = Math.floor(percent / 10) * 10 + 10;
        }
      },
    }));
    writer.finish();
  } catch (err) {
    writer.abort();
    if (err instanceof SourceRefused) throw err;
    if (err instanceof MenderDeltaError) {
      throw new MenderDeltaError(
        `applying ${opts.deltaName} failed after ${writer.bytesWritten} bytes of ${targetPath}: ${err.message.replace(/\.$/, "")}. ` +
          `The inactive partition is incomplete and will not be activated; the running system is unchanged.`,
        err.exitCode,
      );
    }
    throw err;
  } finally {
    source.close();
  }
  const stats = writer.stats();
  logEvent(
    `wrote ${stats.bytes} bytes to ${targetPath}: ${stats.framesWritten} MiB frames written, ${stats.framesSkipped} skipped (already held the right bytes); ` +
      `read ${sourceBytesRead} bytes of ${sourcePath} (${(sourceBytesRead / Math.max(1, stats.bytes)).toFixed(2)} per byte written)`,
  );
  // The one SHA-256 of the new image: of what the storage holds, read back past the page cache.
  const onStorage = await hashDevicePrefix(targetPath, stats.bytes);
  if (onStorage !== facts.targetChecksum) {
    // Which went wrong, the delta or the storage: does the storage hold what was written? (Frames
    // not written held their bytes when compared.)
    const lost = firstLostWrite(targetPath, stats.bytes, FRAME_BYTES, stats.writtenFrames, stats.writtenCrcs);
    if (!lost) {
      throw new MenderDeltaError(
        `the image written to ${targetPath} has sha256 ${onStorage}, the Artifact provides rootfs-image.checksum ${facts.targetChecksum}; ` +
          `the delta does not produce the image it claims (broken generator or tampered Artifact). Not activating it.`,
      );
    }
    throw new MenderDeltaError(
      `${targetPath} reads back differently from what was written (the MiB at byte ${lost.offset}: CRC-32 ${hex32(lost.stored)}, wrote ${hex32(lost.written)}): ` +
        `the storage is losing writes. Not activating it; check the storage hardware.`,
    );
  }
  logEvent(`new image verified on ${targetPath} (sha256 ${onStorage})`);
  return { partition: targetPath, sha256: onStorage, bytes: stats.bytes };
}
