/**
 * One self-contained xz block: its own LZMA2 dictionary (nothing refers to an earlier block), a
 * header stating both sizes, the data, padding and the CRC64 of the block's input. Blocks made
 * this way can be compressed on any thread and concatenated in order into one stream.
 */
import { Crc64 } from "./crc64.js";
import { Lzma2Encoder } from "./lzma2-encoder.js";
import { xzBlockHeader } from "./xz-encoder.js";

/** What every block of a stream is compressed with (plain data: it is posted to workers). */
export interface XzBlockSettings {
  dictSize: number;
  /** The dictionary size as the filter's byte (see dictionaryFor). */
  dictByte: number;
  mode?: "normal" | "fast";
  niceLen?: number;
  depth?: number;
}

export interface XzBlock {
  /** The whole block, padding and check included. */
  bytes: Uint8Array;
  /** Header + data + check, without the padding: the index's record. */
  unpadded: number;
  uncompressed: number;
}

export function encodeXzBlock(data: Uint8Array, settings: XzBlockSettings): XzBlock {
  const pieces: Uint8Array[] = [];
  let compressed = 0;
  const lzma2Options = { dictSize: settings.dictSize, mode: settings.mode, niceLen: settings.niceLen, depth: settings.depth, expectedInput: data.length };
  const lzma2 = new Lzma2Encoder(lzma2Options, (bytes) => {
    pieces.push(bytes);
    compressed += bytes.length;
  });
  lzma2.write(data);
  lzma2.end();
  const header = xzBlockHeader(settings.dictByte, { compressed, uncompressed: data.length });
  const padding = (4 - (compressed % 4)) % 4;
  const bytes = new Uint8Array(header.length + compressed + padding + 8);
  bytes.set(header);
  let at = header.length;
  for (const p of pieces) {
    bytes.set(p, at);
    at += p.length;
  }
  const check = new Crc64();
  check.update(data);
  check.digestInto(bytes, at + padding);
  return { bytes, unpadded: header.length + compressed + 8, uncompressed: data.length };
}
