/**
 * The file-aware delta format (MBDF) version 1: the names and limits of docs/file-delta-format.md,
 * shared by the writer (host) and the decoder (device) so the format is spelled in one place.
 */
import type { BcjArch } from "../../compress/bcj";

/** "MBDF": the first bytes of every MBDF delta (a VCDIFF delta starts D6 C3 C4). */
export const MBDF_MAGIC = Uint8Array.of(0x4d, 0x42, 0x44, 0x46);
export const MBDF_VERSION = 1;
/** No flag is defined in version 1: every other value is refused. */
export const MBDF_FLAGS = 0;

export const RecordKind = {
  end: 0x00,
  zero: 0x01,
  copy: 0x02,
  literal: 0x03,
  vcdiff: 0x04,
  approx: 0x05,
  redeflate: 0x06,
  exec: 0x07,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

export const KIND_NAMES: Record<number, string> = {
  0x00: "END",
  0x01: "ZERO",
  0x02: "COPY",
  0x03: "LITERAL",
  0x04: "VCDIFF",
  0x05: "APPROX",
  0x06: "REDEFLATE",
  0x07: "EXEC",
};

/** LITERAL filters by their byte; 0 stores the bytes as they are. */
export const FILTERS: readonly (BcjArch | null)[] = [null, "x86", "arm", "armthumb", "arm64"];

/** REDEFLATE's old_format: how the old compressed file is inflated. */
export const OldFormat = { gzip: 1, zlib: 2, raw: 3 } as const;
export type OldFormat = (typeof OldFormat)[keyof typeof OldFormat];

/** REDEFLATE's compressor: 0 stored deflate blocks, 1 GNU gzip's deflate, 2 zlib's deflate. */
export const Compressor = { stored: 0, gnuGzip: 1, zlib: 2 } as const;

/**
 * Largest old buffer, old content, new content, filtered literal and APPROX output: what a record
 * may make the device hold in memory, whatever the image size.
 */
export const MAX_RECORD_BUFFER = 16 << 20;
/** Largest extent count of one old buffer. */
export const MAX_EXTENTS = 4096;
/** Largest read set accepted in the header (the VCDIFF decoder's application header limit). */
export const MAX_READ_SET = 64 << 20;
/**
 * Records up to this length are held until their CRC-32 matched; longer ones (ZERO, COPY,
 * unfiltered LITERAL, VCDIFF) are produced and written in chunks of this size.
 */
export const CHUNK = 1 << 20;
/** Bytes of the header before read_set: magic, version, flags, two varints, the sha256. */
export const SHA256_BYTES = 32;
/**
 * Source bytes a delta may make the decoder read: `initial` plus `perTargetByte` per target byte
 * of the records begun so far (VCDIFF's decoder has the same default). Bounds the time any delta
 * can take; a plain COPY reads 1 byte per byte, an APPROX its old buffer once.
 */
export const READ_BUDGET = { initial: 256 << 20, perTargetByte: 16 };
/** The largest value of a varint (2^53 - 1). */
export const MAX_VARINT = Number.MAX_SAFE_INTEGER;
