/**
 * The gzip member format (RFC 1952) around a deflate stream: reading an existing .gz file's
 * header fields, and writing a member from those fields, a level and the uncompressed data.
 */
import { crc32 } from "../compress/crc32.js";
import { gzipDeflate, gzipExtraFlags } from "./gzip-deflate.js";

const FTEXT = 1;
const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;
/** OS byte GNU gzip writes on Unix. */
export const OS_UNIX = 3;

/** The header fields a rebuilt member repeats; gzip itself writes only mtime, name, XFL, OS. */
export interface GzipHeader {
  /** Modification time in seconds (0: none, as `gzip -n` writes). */
  mtime: number;
  /** Original file name (Latin-1 bytes, no terminator), or null. */
  name: Uint8Array | null;
  comment: Uint8Array | null;
  /** The FTEXT flag. */
  text: boolean;
  /** XFL byte: 2 for gzip -9, 4 for -1, 0 otherwise. */
  extraFlags: number;
  os: number;
}

/** The header `gzip -n -<level>` writes. */
export function gzipNoNameHeader(level: number): GzipHeader {
  return { mtime: 0, name: null, comment: null, text: false, extraFlags: gzipExtraFlags(level), os: OS_UNIX };
}

export interface ParsedGzip {
  header: GzipHeader;
  /** Offset of the deflate stream. */
  bodyStart: number;
}

/**
 * Reads a gzip member's header. Returns null for anything that is not a deflate member, or has
 * fields a rebuilt header would not repeat (extra field, header CRC).
 */
export function parseGzipHeader(file: Uint8Array): ParsedGzip | null {
  if (file.length < 18 || file[0] !== 0x1f || file[1] !== 0x8b || file[2] !== 8) return null;
  const flags = file[3]!;
  if (flags & (FHCRC | FEXTRA | 0xe0)) return null;
  const mtime = (file[4]! | (file[5]! << 8) | (file[6]! << 16) | (file[7]! << 24)) >>> 0;
  let pos = 10;
  const zeroTerminated = (): Uint8Array | null => {
    const end = file.indexOf(0, pos);
    if (end < 0) return null;
    const s = file.slice(pos, end);
    pos = end + 1;
    return s;
  };
  let name: Uint8Array | null = null;
  let comment: Uint8Array | null = null;
  if (flags & FNAME && (name = zeroTerminated()) === null) return null;
  if (flags & FCOMMENT && (comment = zeroTerminated()) === null) return null;
  if (pos + 8 > file.length) return null;
  return {
    header: { mtime, name, comment, text: (flags & FTEXT) !== 0, extraFlags: file[8]!, os: file[9]! },
    bodyStart: pos,
  };
}

/** Serializes a header. */
export function gzipHeaderBytes(h: GzipHeader): Uint8Array {
  const size = 10 + (h.name ? h.name.length + 1 : 0) + (h.comment ? h.comment.length + 1 : 0);
  const b = new Uint8Array(size);
  b[0] = 0x1f;
  b[1] = 0x8b;
  b[2] = 8;
  b[3] = (h.text ? FTEXT : 0) | (h.name ? FNAME : 0) | (h.comment ? FCOMMENT : 0);
  b[4] = h.mtime;
  b[5] = h.mtime >>> 8;
  b[6] = h.mtime >>> 16;
  b[7] = h.mtime >>> 24;
  b[8] = h.extraFlags;
  b[9] = h.os;
  let pos = 10;
  for (const s of [h.name, h.comment]) {
    if (!s) continue;
    b.set(s, pos);
    pos += s.length + 1; // the terminator is already 0
  }
  return b;
}

/** A whole gzip member: header, `deflate` (a raw stream of `data`), CRC32 and size trailer. */
export function gzipWrap(header: GzipHeader, deflate: Uint8Array, data: Uint8Array): Uint8Array {
  const head = gzipHeaderBytes(header);
  const out = new Uint8Array(head.length + deflate.length + 8);
  out.set(head, 0);
  out.set(deflate, head.length);
  const t = head.length + deflate.length;
  const crc = crc32(data);
  const size = data.length >>> 0; // ISIZE is the length modulo 2^32
  out[t] = crc;
  out[t + 1] = crc >>> 8;
  out[t + 2] = crc >>> 16;
  out[t + 3] = crc >>> 24;
  out[t + 4] = size;
  out[t + 5] = size >>> 8;
  out[t + 6] = size >>> 16;
  out[t + 7] = size >>> 24;
  return out;
}

/** What `gzip -n -<level>` writes for `data` (or with `header` in place of gzip -n's). */
export function gzipCompress(data: Uint8Array, level: number, header = gzipNoNameHeader(level)): Uint8Array {
  return gzipWrap(header, gzipDeflate(data, level), data);
}
