/**
 * One 512-byte tar header: encoding exactly as Go's archive/tar writes it (what mender-artifact
 * produces), and decoding of ustar, PAX and GNU headers as found in the wild.
 */
import { MenderDeltaError } from "../errors";

export const BLOCK = 512;

/** Go's archive/tar switches from ustar to PAX above this size (11 octal digits). */
const MAX_USTAR_SIZE = 0o77777777777;
/** Same cap as Go's reader for PAX/GNU long-name data: anything larger is an attack, not a name. */
export const MAX_EXTENDED_HEADER = 1 << 20;

export interface TarEntryHeader {
  name: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  uname: string;
  gname: string;
}

export type RawTypeflag = "file" | "dir" | "link" | "pax" | "pax-global" | "gnu-longname" | "gnu-longlink" | "other";

export interface DecodedHeader extends TarEntryHeader {
  kind: RawTypeflag;
  typeflag: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

function putString(block: Uint8Array, offset: number, length: number, s: string): void {
  const bytes = encoder.encode(s);
  block.set(bytes.subarray(0, length), offset);
}

/** Go's formatOctal: zero-padded digits then a NUL; values that do not fit are written as 0. */
function putOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  let digits = value.toString(8);
  if (digits.length > length - 1) digits = "0";
  putString(block, offset, length, digits.padStart(length - 1, "0"));
}

function putChecksum(block: Uint8Array): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  // Go writes six octal digits, a NUL and a space.
  putString(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
}

function baseHeader(name: string, size: number, typeflag: string, h: Omit<TarEntryHeader, "name" | "size">, devNumbers = true): Uint8Array {
  const block = new Uint8Array(BLOCK);
  putString(block, 0, 100, name);
  putOctal(block, 100, 8, h.mode);
  putOctal(block, 108, 8, h.uid);
  putOctal(block, 116, 8, h.gid);
  putOctal(block, 124, 12, size);
  putOctal(block, 136, 12, h.mtime);
  block[156] = typeflag.charCodeAt(0);
  putString(block, 257, 8, "ustar\u000000");
  putString(block, 265, 32, h.uname);
  putString(block, 297, 32, h.gname);
  if (devNumbers) {
    putOctal(block, 329, 8, 0);
    putOctal(block, 337, 8, 0);
  }
  putChecksum(block);
  return block;
}

function paxRecord(key: string, value: string): string {
  // The length prefix counts itself, so grow it until it is self-consistent.
  const body = ` ${key}=${value}\n`;
  const bodyLen = encoder.encode(body).length;
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

/**
 * The header block(s) Go's archive/tar writes for a regular file: one ustar block normally (a long
 * ASCII path split into the prefix field when it can be); a PAX extended header first when the size
 * does not fit 11 octal digits (>= 8 GiB) or the name is longer than 100 bytes and cannot be split
 * or is not ASCII. As in Go, the ustar name fields then hold the name with non-ASCII characters
 * dropped, cut to 100 bytes.
 */
export function encodeFileHeader(h: TarEntryHeader): Uint8Array {
  const records: string[] = [];
  const ascii = isAscii(h.name);
  if (!ascii || h.name.length > 100) {
    const split = ascii ? splitUstarPath(h.name) : undefined;
    if (split && h.size <= MAX_USTAR_SIZE) {
      const block = baseHeader(split.name, h.size, "0", h);
      putString(block, 345, 155, split.prefix);
      putChecksum(block);
      return block;
    }
    records.push(paxRecord("path", h.name));
  }
  if (h.size > MAX_USTAR_SIZE) records.push(paxRecord("size", String(h.size)));
  const main = baseHeader(toAscii(h.name), h.size > MAX_USTAR_SIZE ? 0 : h.size, "0", h);
  if (records.length === 0) return main;
  const data = encoder.encode(records.join(""));
  const slash = h.name.lastIndexOf("/");
  const paxName = (slash >= 0 ? `${h.name.slice(0, slash)}/PaxHeaders.0/` : "PaxHeaders.0/") + h.name.slice(slash + 1);
  // Go writes the PAX header with only name, mode, ids, size and mtime set (no device numbers).
  const pax = baseHeader(toAscii(paxName), data.length, "x", { mode: 0, uid: 0, gid: 0, mtime: 0, uname: "", gname: "" }, false);
  const out = new Uint8Array(BLOCK * 2 + padded(data.length));
  out.set(pax, 0);
  out.set(data, BLOCK);
  out.set(main, BLOCK + padded(data.length));
  return out;
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

function toAscii(s: string): string {
  return s.replace(/[^\x00-\x7f]/g, "");
}

/** Go's splitUSTARPath: a prefix (<= 155 bytes) and a name (<= 100 bytes) split at a '/'. */
function splitUstarPath(name: string): { prefix: string; name: string } | undefined {
  let length = name.length;
  if (length <= 100) return undefined;
  if (length > 156) length = 156;
  else if (name[length - 1] === "/") length--;
  const i = name.lastIndexOf("/", length - 1);
  const nameLength = name.length - i - 1;
  if (i <= 0 || nameLength > 100 || nameLength === 0 || i > 155) return undefined;
  return { prefix: name.slice(0, i), name: name.slice(i + 1) };
}

/** Bytes up to the next 512-byte boundary. */
export function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function readString(block: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && block[end] !== 0) end++;
  return decoder.decode(block.subarray(offset, end));
}

/** Octal (NUL/space terminated) or GNU base-256 (high bit set) numeric field. */
function readNumber(block: Uint8Array, offset: number, length: number, field: string, where: string): number {
  const first = block[offset]!;
  if (first & 0x80) {
    if (first === 0xff) throw new MenderDeltaError(`${where}: negative ${field} in a GNU base-256 field; the tar is corrupt`);
    let value = first & 0x7f;
    for (let i = 1; i < length; i++) {
      value = value * 256 + block[offset + i]!;
      if (value > Number.MAX_SAFE_INTEGER) throw new MenderDeltaError(`${where}: ${field} is larger than 2^53; the tar is corrupt`);
    }
    return value;
  }
  // The whole field must be digits padded with spaces/NULs: stray bytes anywhere mean corruption.
  const raw = String.fromCharCode(...block.subarray(offset, offset + length));
  const m = /^ *([0-7]*)[ \0]*$/.exec(raw);
  if (!m) throw new MenderDeltaError(`${where}: ${field} field ${JSON.stringify(raw)} is not an octal number; the tar is corrupt`);
  return m[1] === "" ? 0 : parseInt(m[1]!, 8);
}

function kindOf(typeflag: string): RawTypeflag {
  switch (typeflag) {
    case "0":
    case "\0":
    case "7": // contiguous file: a regular file for every practical reader
      return "file";
    case "5":
      return "dir";
    case "1":
    case "2":
      return "link";
    case "x":
      return "pax";
    case "g":
      return "pax-global";
    case "L":
      return "gnu-longname";
    case "K":
      return "gnu-longlink";
    default:
      return "other";
  }
}

/**
 * Decodes one non-zero header block. `where` names the archive for error messages. The checksum is
 * verified (unsigned sum, or the signed sum some old tars wrote).
 */
export function decodeHeader(block: Uint8Array, where: string): DecodedHeader {
  const stored = readNumber(block, 148, 8, "checksum", where);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new MenderDeltaError(`${where}: tar header checksum mismatch (stored ${stored}, computed ${unsigned}); the file is corrupt or not a tar archive`);
  }
  const magic = readString(block, 257, 6);
  let name = readString(block, 0, 100);
  // POSIX ustar keeps the leading directories in `prefix`; GNU uses that area for other fields.
  if (magic === "ustar" && block[262] === 0) {
    const prefix = readString(block, 345, 155);
    if (prefix !== "") name = `${prefix}/${name}`;
  }
  const typeflag = String.fromCharCode(block[156]!);
  return {
    name,
    kind: kindOf(typeflag),
    typeflag,
    size: readNumber(block, 124, 12, "size", where),
    mode: readNumber(block, 100, 8, "mode", where),
    uid: readNumber(block, 108, 8, "uid", where),
    gid: readNumber(block, 116, 8, "gid", where),
    mtime: readNumber(block, 136, 12, "mtime", where),
    uname: readString(block, 265, 32),
    gname: readString(block, 297, 32),
  };
}

/** Parses PAX records ("<len> key=value\n"...). */
export function parsePaxRecords(data: Uint8Array, where: string): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad the record block with NULs
    let space = pos;
    while (space < data.length && data[space] !== 0x20) space++;
    const len = Number(decoder.decode(data.subarray(pos, space)));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new MenderDeltaError(`${where}: malformed PAX extended header record at byte ${pos}; the tar is corrupt`);
    }
    const record = decoder.decode(data.subarray(space + 1, pos + len - 1));
    const eq = record.indexOf("=");
    if (eq <= 0) throw new MenderDeltaError(`${where}: malformed PAX extended header record ${JSON.stringify(record)}`);
    records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return records;
}
