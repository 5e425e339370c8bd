/**
 * Decides whether an existing deflate stream (a .gz file, a zlib-wrapped or a raw stream) can
 * be rebuilt byte for byte from its uncompressed content by one of our compressors (GNU gzip's
 * or zlib's deflate), and with which level and header. A stream is only reported when the
 * rebuild was checked here to give the very same bytes, never on a guess.
 */
import { inflateSync } from "fflate";
import { crc32 } from "../compress/crc32.js";
import { adler32 } from "../vcdiff/format/adler32.js";
import { gzipDeflateMatches } from "./gzip-deflate.js";
import { type GzipHeader, gzipHeaderBytes, parseGzipHeader } from "./gzip-member.js";
import { zlibDeflateMatches } from "./zlib-deflate.js";

/** Whose deflate implementation reproduces the stream. */
export type Compressor = "gzip" | "zlib";

export interface StreamRebuild {
  compressor: Compressor;
  level: number;
}

export interface GzipRebuild extends StreamRebuild {
  header: GzipHeader;
}

export interface ZlibRebuild extends StreamRebuild {
  /** The two header bytes (CMF, FLG), repeated as found. */
  header: [number, number];
}

/** gzip's -9 (Debian's packaging) and default -6 first; zlib's default 6 first, then -9. */
const GZIP_ORDER = [9, 6, 1, 2, 3, 4, 5, 7, 8];
const ZLIB_ORDER = [6, 9, 1, 2, 3, 4, 5, 7, 8];

function first(order: number[], level: number): number[] {
  return level ? [level, ...order.filter((l) => l !== level)] : order;
}

/**
 * The compressor and level that turn `data` into exactly the raw deflate `stream`, or null.
 * `gzipLevelHint` / `zlibLevelHint`: a level a header names, tried first.
 */
export function findStreamRebuild(data: Uint8Array, stream: Uint8Array, gzipLevelHint = 0, zlibLevelHint = 0): StreamRebuild | null {
  for (const level of first(GZIP_ORDER, gzipLevelHint)) {
    if (gzipDeflateMatches(data, level, stream)) return { compressor: "gzip", level };
  }
  for (const level of first(ZLIB_ORDER, zlibLevelHint)) {
    if (zlibDeflateMatches(data, level, stream)) return { compressor: "zlib", level };
  }
  return null;
}

function inflated(stream: Uint8Array): Uint8Array | null {
  try {
    return inflateSync(stream);
  } catch {
    return null;
  }
}

/** The uncompressed content of a single-member gzip file, or null if it is not one. */
export function gunzipSingleMember(gz: Uint8Array): { data: Uint8Array; bodyStart: number; header: GzipHeader } | null {
  const parsed = parseGzipHeader(gz);
  if (!parsed) return null;
  const data = inflated(gz.subarray(parsed.bodyStart, gz.length - 8));
  if (!data) return null;
  const t = gz.length - 8;
  const crc = (gz[t]! | (gz[t + 1]! << 8) | (gz[t + 2]! << 16) | (gz[t + 3]! << 24)) >>> 0;
  const size = (gz[t + 4]! | (gz[t + 5]! << 8) | (gz[t + 6]! << 16) | (gz[t + 7]! << 24)) >>> 0;
  // A second member or trailing bytes would show here: the first member's trailer is elsewhere.
  if (size !== data.length >>> 0 || crc !== crc32(data)) return null;
  return { data, bodyStart: parsed.bodyStart, header: parsed.header };
}

/** The compressor, level and header that rebuild the .gz file `gz` exactly, or null. */
export function findRebuild(gz: Uint8Array): GzipRebuild | null {
  const member = gunzipSingleMember(gz);
  if (!member) return null;
  const { data, bodyStart, header } = member;
  const head = gzipHeaderBytes(header);
  if (head.length !== bodyStart || head.some((b, i) => b !== gz[i])) return null;
  // gzip writes XFL 2 for -9 and 4 for -1 (so does Python's gzip module, over zlib).
  const hint = header.extraFlags === 2 ? 9 : header.extraFlags === 4 ? 1 : 0;
  const r = findStreamRebuild(data, gz.subarray(bodyStart, gz.length - 8), hint, hint);
  return r && { ...r, header };
}

/** The same for a zlib-wrapped stream (RFC 1950: 2 header bytes, deflate, Adler-32). */
export function findZlibRebuild(z: Uint8Array): ZlibRebuild | null {
  if (z.length < 6) return null;
  const cmf = z[0]!;
  const flg = z[1]!;
  // Deflate with a 32 KiB window, a valid check, no preset dictionary.
  if (cmf !== 0x78 || ((cmf << 8) | flg) % 31 !== 0 || flg & 0x20) return null;
  const data = inflated(z.subarray(2, z.length - 4));
  if (!data) return null;
  const t = z.length - 4;
  const want = ((z[t]! << 24) | (z[t + 1]! << 16) | (z[t + 2]! << 8) | z[t + 3]!) >>> 0;
  if (adler32(data) >>> 0 !== want) return null;
  // FLEVEL: zlib writes 0 for level 1, 1 for 2..5, 2 for 6, 3 for 7..9.
  const flevel = flg >> 6;
  const hint = flevel === 0 ? 1 : flevel === 2 ? 6 : flevel === 3 ? 9 : 0;
  const r = findStreamRebuild(data, z.subarray(2, t), 0, hint);
  return r && { ...r, header: [cmf, flg] };
}

/** The same for a raw deflate stream with nothing after it. */
export function findRawRebuild(raw: Uint8Array): StreamRebuild | null {
  const data = inflated(raw);
  return data && findStreamRebuild(data, raw);
}
