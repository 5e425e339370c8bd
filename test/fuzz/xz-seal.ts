/**
 * Re-seals a mutated .xz file: recomputes the CRC32 of the stream header flags, of every block
 * header, of the index and of the stream footer, so a mutated header field (filter flags, sizes,
 * dictionary, index records) reaches the decoder's parsing instead of stopping at a CRC. The
 * block checks (CRC32/CRC64/SHA-256 of the data) are left alone: recomputing them would mean
 * decoding. Best effort: at the first thing it cannot walk, it returns what it has fixed so far.
 */
import { crc32 } from "node:zlib";

const HEADER_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

function putCrc(buf: Uint8Array, at: number, from: number, to: number): void {
  new DataView(buf.buffer, buf.byteOffset).setUint32(at, crc32(buf.subarray(from, to)), true);
}

/** Reads a multibyte integer (xz: little-endian 7-bit groups); returns [value, next offset] or null. */
function varint(buf: Uint8Array, at: number): [number, number] | null {
  let value = 0;
  for (let i = 0; i < 9 && at + i < buf.length; i++) {
    const b = buf[at + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [value, at + i + 1];
  }
  return null;
}

/** Offset just after the LZMA2 data starting at `at` (its end marker), or -1. */
function skipLzma2(buf: Uint8Array, at: number): number {
  while (at < buf.length) {
    const control = buf[at]!;
    if (control === 0x00) return at + 1;
    if (control === 0x01 || control === 0x02) {
      if (at + 3 > buf.length) return -1;
      at += 3 + ((buf[at + 1]! << 8) | buf[at + 2]!) + 1;
    } else if (control >= 0x80) {
      if (at + 5 > buf.length) return -1;
      const packed = ((buf[at + 3]! << 8) | buf[at + 4]!) + 1;
      at += 5 + (control >= 0xc0 ? 1 : 0) + packed;
    } else return -1;
  }
  return -1;
}

export function resealXz(input: Uint8Array): Uint8Array {
  const buf = input.slice();
  let at = 0;
  while (at + 12 <= buf.length && HEADER_MAGIC.every((m, i) => buf[at + i] === m)) {
    putCrc(buf, at + 8, at + 6, at + 8);
    const checkId = buf[at + 7]! & 0x0f;
    const checkBytes = checkId === 0 ? 0 : 4 << Math.floor((checkId - 1) / 3);
    at += 12;
    // Blocks until the index indicator (a zero byte where a block header size would be).
    while (at < buf.length && buf[at] !== 0) {
      const headerSize = (buf[at]! + 1) * 4;
      if (at + headerSize > buf.length) return buf;
      putCrc(buf, at + headerSize - 4, at, at + headerSize - 4);
      const end = skipLzma2(buf, at + headerSize);
      if (end < 0) return buf;
      at = end + ((4 - ((end - at) % 4)) % 4) + checkBytes;
    }
    const indexStart = at;
    let p: [number, number] | null = varint(buf, at + 1);
    if (!p) return buf;
    const records = p[0];
    let q = p[1];
    for (let r = 0; r < records && r < 10_000; r++) {
      for (let k = 0; k < 2; k++) {
        p = varint(buf, q);
        if (!p) return buf;
        q = p[1];
      }
    }
    q += (4 - ((q - indexStart) % 4)) % 4;
    if (q + 4 > buf.length) return buf;
    putCrc(buf, q, indexStart, q);
    at = q + 4;
    if (at + 12 > buf.length) return buf;
    putCrc(buf, at, at + 4, at + 10);
    at += 12;
    while (at + 4 <= buf.length && buf[at] === 0 && buf[at + 1] === 0 && buf[at + 2] === 0 && buf[at + 3] === 0) at += 4;
  }
  return buf;
}
