/**
 * Writes the MBDF payload (docs/file-delta-format.md) from FROM's and TO's images: the kept file
 * records (file-records.ts) at their places in TO, and between them, in target order, ZERO for an
 * all-zero gap, COPY for a gap equal to FROM's bytes at the same offset, else one VCDIFF record made
 * by the VCDIFF encoder with the whole FROM image as its source and the gap as its target (its
 * windows are the encoder's, at most 16 MiB each, so a gap of any length is one record).
 */
import fs from "node:fs";
import path from "node:path";
import { MbdfWriter } from "../../delta/mbdf/writer";
import { readFullyAt } from "../../io/read-fully";
import { encodeVcdiff } from "../../vcdiff/encoder/encode";
import { planFileRecords, type FileRecord } from "./file-records";

export const RECORD_KINDS = ["zero", "copy", "vcdiff", "approx", "redeflate"] as const;
export type RecordKindName = (typeof RECORD_KINDS)[number];

export interface MbdfPlanSummary {
  /** false: FROM or TO is not ext4, so the delta is VCDIFF (and ZERO / COPY) records only. */
  ext4: boolean;
  /** Changed files looked at as candidates for a file record. */
  candidates: number;
  /** Per record kind: how many, the TO bytes they produce, their bytes in the payload. */
  records: Record<RecordKindName, { count: number; targetBytes: number; deltaBytes: number }>;
}

export interface MbdfWriteOptions {
  targetSha256: string;
  windowSize: number;
  level?: number;
  threads?: number;
  checksum: boolean;
  /** A directory for scratch files (removed by the caller). */
  scratchDir: string;
  /** Called with the TO bytes the records written so far produce. */
  onProgress?(targetDone: number): void;
}

function isZero(bytes: Uint8Array): boolean {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  for (let k = 0; k < words.length; k++) if (words[k] !== 0) return false;
  for (let k = words.length * 4; k < bytes.length; k++) if (bytes[k] !== 0) return false;
  return true;
}

/** Writes the MBDF delta from `fromImage` to `toImage` into `deltaPath`. */
export async function writeMbdfDelta(fromImage: string, toImage: string, deltaPath: string, options: MbdfWriteOptions): Promise<MbdfPlanSummary> {
  const plan = await planFileRecords(fromImage, toImage, options.scratchDir, options.level);
  const sourceSize = fs.statSync(fromImage).size;
  const targetSize = fs.statSync(toImage).size;
  const records = Object.fromEntries(RECORD_KINDS.map((k) => [k, { count: 0, targetBytes: 0, deltaBytes: 0 }])) as MbdfPlanSummary["records"];

  const outFd = fs.openSync(deltaPath, "w");
  const fromFd = fs.openSync(fromImage, "r");
  const toFd = fs.openSync(toImage, "r");
  let written = 0;
  const writer = new MbdfWriter({ targetSize, sourceSize, targetSha256: options.targetSha256 }, (chunk) => {
    fs.writeSync(outFd, chunk);
    written += chunk.length;
  });
  const counted = async (kind: RecordKindName, length: number, write: () => void | Promise<void>): Promise<void> => {
    const before = written;
    await write();
    const r = records[kind];
    r.count++;
    r.targetBytes += length;
    r.deltaBytes += written - before;
    options.onProgress?.(writer.produced);
  };

  const gap = async (start: number, end: number): Promise<void> => {
    if (end <= start) return;
    const bytes = new Uint8Array(end - start);
    readFullyAt(toFd, bytes, start);
    if (isZero(bytes)) return counted("zero", bytes.length, () => writer.zero(bytes.length));
    if (end <= sourceSize) {
      const old = new Uint8Array(bytes.length);
      readFullyAt(fromFd, old, start);
      if (Buffer.compare(old, bytes) === 0) return counted("copy", bytes.length, () => writer.copy(start, bytes));
    }
    const gapPath = path.join(options.scratchDir, "gap");
    const gapDelta = path.join(options.scratchDir, "gap.vcdiff");
    fs.writeFileSync(gapPath, bytes);
    await encodeVcdiff(fromImage, gapPath, gapDelta, {
      windowSize: options.windowSize, level: options.level, threads: options.threads, checksum: options.checksum,
    });
    const delta = fs.readFileSync(gapDelta);
    fs.rmSync(gapPath);
    fs.rmSync(gapDelta);
    return counted("vcdiff", bytes.length, () => writer.vcdiff(delta, bytes));
  };

  const fileRecord = (r: FileRecord): Promise<void> => {
    const produced = new Uint8Array(r.length);
    readFullyAt(toFd, produced, r.targetOffset);
    if (r.kind === "approx") return counted("approx", r.length, () => writer.approx(r.extents, r.diff, produced));
    return counted("redeflate", r.length, () => writer.redeflate(r.record, produced));
  };

  try {
    let at = 0;
    for (const r of plan.records) {
      await gap(at, r.targetOffset);
      await fileRecord(r);
      at = r.targetOffset + r.length;
    }
    await gap(at, targetSize);
    writer.end();
  } finally {
    fs.closeSync(outFd);
    fs.closeSync(fromFd);
    fs.closeSync(toFd);
  }
  return { ext4: plan.ext4, candidates: plan.candidates, records };
}
