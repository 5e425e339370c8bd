/**
 * Decides whether an existing .gz file can be rebuilt byte for byte from its uncompressed
 * content by our gzip-compatible compressor, and with which level and header. A file is only
 * reported when the rebuild was checked here to give the very same bytes, never on a guess.
 */
import { inflateSync } from "fflate";
import { crc32 } from "../compress/crc32.js";
import { gzipDeflateMatches } from "./gzip-deflate.js";
import { type GzipHeader, gzipHeaderBytes, parseGzipHeader } from "./gzip-member.js";

export interface GzipRebuild {
  level: number;
  header: GzipHeader;
}

/** gzip's default level and -9 (what Debian's packaging uses) first, then the rest. */
const LEVEL_ORDER = [9, 6, 1, 2, 3, 4, 5, 7, 8];

/** The levels to try, the one the XFL byte names first (gzip writes 2 for -9, 4 for -1). */
function levelsFor(extraFlags: number): number[] {
  const hinted = extraFlags === 2 ? 9 : extraFlags === 4 ? 1 : 0;
  return hinted ? [hinted, ...LEVEL_ORDER.filter((l) => l !== hinted)] : LEVEL_ORDER;
}

/** The uncompressed content of a single-member gzip file, or null if it is not one. */
export function gunzipSingleMember(gz: Uint8Array): { data: Uint8Array; bodyStart: number; header: GzipHeader } | null {
  const parsed = parseGzipHeader(gz);
  if (!parsed) return null;
  let data: Uint8Array;
  try {
    data = inflateSync(gz.subarray(parsed.bodyStart, gz.length - 8));
  } catch {
    return null;
  }
  const t = gz.length - 8;
  const crc = (gz[t]! | (gz[t + 1]! << 8) | (gz[t + 2]! << 16) | (gz[t + 3]! << 24)) >>> 0;
  const size = (gz[t + 4]! | (gz[t + 5]! << 8) | (gz[t + 6]! << 16) | (gz[t + 7]! << 24)) >>> 0;
  // A second member or trailing bytes would show here: the first member's trailer is elsewhere.
  if (size !== data.length >>> 0 || crc !== crc32(data)) return null;
  return { data, bodyStart: parsed.bodyStart, header: parsed.header };
}

/** The level and header that rebuild `gz` exactly, or null when none does. */
export function findRebuild(gz: Uint8Array): GzipRebuild | null {
  const member = gunzipSingleMember(gz);
  if (!member) return null;
  const { data, bodyStart, header } = member;
  const head = gzipHeaderBytes(header);
  if (head.length !== bodyStart || head.some((b, i) => b !== gz[i])) return null;
  const stream = gz.subarray(bodyStart, gz.length - 8);
  for (const level of levelsFor(header.extraFlags)) {
    if (gzipDeflateMatches(data, level, stream)) return { level, header };
  }
  return null;
}
