/**
 * The .xz container around one LZMA2 block (xz file format 1.0.4): stream header, block header
 * with the LZMA2 filter, the block's CRC64 check, the index and the stream footer. Sizes are not
 * known in advance, so the block header leaves them out (the index records them).
 *
 * The dictionary is the size a decoder must allocate: it is the smallest xz dictionary size
 * covering `sizeHint` (the input's expected size) up to `dictSize` (default 64 MiB, as xz -9 and
 * mender-artifact's lzma), so a small payload never makes a device reserve 64 MiB.
 *
 * The pieces of the container (stream header, block header, index and footer) are exported for
 * the parallel writer (xz-parallel-stream.ts), so both write the same framing.
 */
import { Transform, type TransformCallback } from "node:stream";
import { crc32 } from "./crc32.js";
import { Crc64 } from "./crc64.js";
import { Lzma2Encoder } from "./lzma2-encoder.js";
import { CHECK_CRC64 } from "./xz-check.js";

const MIN_DICT = 4096;
export const XZ_DEFAULT_DICT = 64 << 20;
const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const LZMA2_FILTER_ID = 0x21;

export interface XzEncoderOptions {
  /** Largest dictionary to use (bytes, at most 1.5 GiB). Default 64 MiB. */
  dictSize?: number;
  /** The expected input size: the dictionary is not made larger than needed for it. */
  sizeHint?: number;
  /** Parser and match finder effort (see Lzma2EncoderOptions). */
  mode?: "normal" | "fast";
  niceLen?: number;
  depth?: number;
}

/** The smallest dictionary size xz can declare (2^n or 3 * 2^(n-1)) that is >= size, and its byte. */
export function dictionaryFor(size: number): { size: number; byte: number } {
  for (let byte = 0; byte < 40; byte++) {
    const d = (2 | (byte & 1)) * 2 ** (Math.floor(byte / 2) + 11);
    if (d >= size) return { size: d, byte };
  }
  return { size: 3 * 2 ** 30, byte: 39 };
}

/** xz's variable-length integer (7 bits a byte, little-endian). */
function multibyte(value: number, out: number[]): void {
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

function le32(value: number, out: number[]): void {
  for (let k = 0; k < 4; k++) out.push((value >>> (8 * k)) & 0xff);
}

function withCrc32(bytes: number[]): Uint8Array {
  const crc = crc32(Uint8Array.from(bytes));
  le32(crc, bytes);
  return Uint8Array.from(bytes);
}

/** The dictionary a stream declares for these options: see the module comment. */
export function xzDictionary(options: XzEncoderOptions): { size: number; byte: number } {
  const cap = Math.min(options.dictSize ?? XZ_DEFAULT_DICT, 1536 << 20);
  const want = options.sizeHint !== undefined ? Math.min(cap, Math.max(options.sizeHint, MIN_DICT)) : cap;
  return dictionaryFor(Math.max(want, MIN_DICT));
}

/** Stream header: magic, flags (the check type), CRC32 of the flags alone. */
export function xzStreamHeader(): Uint8Array {
  const streamHeader = new Uint8Array(12);
  streamHeader.set(MAGIC);
  streamHeader.set(withCrc32([0x00, CHECK_CRC64]), 6);
  return streamHeader;
}

/**
 * Block header: size, flags (one filter; the sizes when known), LZMA2 filter with its dictionary
 * byte, padding, CRC32. A block of a multi-block stream states both sizes, as xz -T writes them.
 */
export function xzBlockHeader(dictByte: number, sizes?: { compressed: number; uncompressed: number }): Uint8Array {
  const header = [0, sizes ? 0xc0 : 0x00];
  if (sizes) {
    multibyte(sizes.compressed, header);
    multibyte(sizes.uncompressed, header);
  }
  header.push(LZMA2_FILTER_ID, 1, dictByte);
  while ((header.length + 4) % 4 !== 0) header.push(0);
  header[0] = (header.length + 4) / 4 - 1;
  return withCrc32(header);
}

/** One index record: a block's unpadded size (header + data + check) and uncompressed size. */
export interface XzIndexRecord {
  unpadded: number;
  uncompressed: number;
}

/** The index of `records` and the stream footer after it. */
export function xzStreamEnd(records: readonly XzIndexRecord[]): Uint8Array {
  const index = [0x00];
  multibyte(records.length, index);
  for (const r of records) {
    multibyte(r.unpadded, index);
    multibyte(r.uncompressed, index);
  }
  while (index.length % 4 !== 0) index.push(0);
  const indexBytes = withCrc32(index);

  const footer: number[] = [];
  le32(indexBytes.length / 4 - 1, footer);
  footer.push(0x00, CHECK_CRC64);
  const out: number[] = [];
  le32(crc32(Uint8Array.from(footer)), out);
  out.push(...footer, 0x59, 0x5a);
  const end = new Uint8Array(indexBytes.length + out.length);
  end.set(indexBytes);
  end.set(out, indexBytes.length);
  return end;
}

/** Incremental .xz writer: `write` input, then `end`; output goes to `emit` in order. */
export class XzEncoder {
  private readonly lzma2: Lzma2Encoder;
  private readonly check = new Crc64();
  private uncompressed = 0;
  private blockData = 0;
  private readonly blockHeaderSize: number;
  /** The dictionary size the stream declares. */
  readonly dictSize: number;

  constructor(
    options: XzEncoderOptions,
    private readonly emit: (bytes: Uint8Array) => void,
  ) {
    const dict = xzDictionary(options);
    this.dictSize = dict.size;
    const lzma2Options = { dictSize: dict.size, mode: options.mode, niceLen: options.niceLen, depth: options.depth, expectedInput: options.sizeHint };
    this.lzma2 = new Lzma2Encoder(lzma2Options, (bytes) => {
      this.blockData += bytes.length;
      this.emit(bytes);
    });
    const blockHeader = xzBlockHeader(dict.byte);
    this.blockHeaderSize = blockHeader.length;
    emit(xzStreamHeader());
    emit(blockHeader);
  }

  write(data: Uint8Array): void {
    this.check.update(data);
    this.uncompressed += data.length;
    this.lzma2.write(data);
  }

  end(): void {
    this.lzma2.end();
    const padding = (4 - (this.blockData % 4)) % 4;
    const trailer = new Uint8Array(padding + 8);
    this.check.digestInto(trailer, padding);
    this.emit(trailer);

    const unpadded = this.blockHeaderSize + this.blockData + 8;
    this.emit(xzStreamEnd([{ unpadded, uncompressed: this.uncompressed }]));
  }
}

/** A Transform that xz-compresses what goes through it. */
export function createXzCompressStream(options: XzEncoderOptions = {}): Transform {
  let encoder: XzEncoder;
  const stream = new Transform({
    transform(chunk: Uint8Array, _encoding: BufferEncoding, done: TransformCallback): void {
      encoder.write(chunk);
      done();
    },
    flush(done: TransformCallback): void {
      encoder.end();
      done();
    },
  });
  encoder = new XzEncoder(options, (bytes) => stream.push(bytes));
  return stream;
}
