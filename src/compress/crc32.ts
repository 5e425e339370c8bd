/**
 * CRC32 (IEEE 802.3, reflected polynomial 0xEDB88320) as xz uses it for headers, the index and
 * the CRC32 block check. Slicing-by-8 because block checks run over every decompressed byte.
 */
import zlib from "node:zlib";

const TABLES = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/**
 * zlib's own CRC32 when the runtime has it (Node >= 20.15 / 22.2: the x86_64 and aarch64 builds;
 * the armhf build's Node 20.11 does not): it folds with carry-less multiplies, about 20x the
 * table loop below, which matters on a device that checks a CRC over every byte it writes.
 */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
/** Below this many bytes the call into C costs more than the table loop. */
const NATIVE_FROM = 256;

/** Continues a CRC32 over data[start..end); pass 0 to begin. Returns the unsigned CRC. */
export function crc32(data: Uint8Array, crc = 0, start = 0, end = data.length): number {
  if (nativeCrc32 !== undefined && end - start >= NATIVE_FROM) {
    return nativeCrc32(start === 0 && end === data.length ? data : data.subarray(start, end), crc);
  }
  return crc32Table(data, crc, start, end);
}

/** The portable CRC32 (slicing-by-8): runtimes without zlib.crc32, and short spans. */
export function crc32Table(data: Uint8Array, crc = 0, start = 0, end = data.length): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  for (const stop8 = end - 8; i <= stop8; i += 8) {
    const a = c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// Run both loops a few times at load (V8 collects type feedback only after a few calls): the
// 8-byte loop is otherwise optimized on-stack before the tail loop has ever run, and every
// later call with a tail then deoptimizes (measured: once per 1 MiB of checked output).
for (let k = 0; k < 20; k++) crc32Table(new Uint8Array(15));

const ZERO_CHUNK = new Uint8Array(1 << 16);
/** CRC32s of zero runs by length: an image's free space is a few distinct lengths, met many times. */
const zeroRunCrcs = new Map<number, number>();

/**
 * The CRC32 of `length` zero bytes (from 0), remembered for the last lengths asked: a file-aware
 * delta's ZERO records cover most of an image, and hashing their zeros costs as much as hashing data.
 */
export function crc32OfZeros(length: number): number {
  const known = zeroRunCrcs.get(length);
  if (known !== undefined) return known;
  let crc = 0;
  for (let left = length; left > 0; left -= ZERO_CHUNK.length) crc = crc32(ZERO_CHUNK, crc, 0, Math.min(ZERO_CHUNK.length, left));
  if (zeroRunCrcs.size >= 64) zeroRunCrcs.clear();
  zeroRunCrcs.set(length, crc);
  return crc;
}

/** A 32-bit checksum (CRC-32, Adler-32) as the 8 hex digits messages show. */
export function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}
