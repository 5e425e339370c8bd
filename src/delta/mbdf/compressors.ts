/**
 * The deflate compressors a REDEFLATE record may name, by id. Each must make the same bytes on
 * every device for the same content and level, or the record's CRC fails: so each is this
 * project's own TypeScript (src/deflate/), never the runtime's zlib, whose output may differ by
 * version and CPU. Stored blocks (0) are trivially reproducible; GNU gzip's (1) and zlib's (2)
 * deflate are byte-exact ports (docs/deflate.md).
 */
import { gzipDeflate } from "../../deflate/gzip-deflate";
import { zlibDeflate } from "../../deflate/zlib-deflate";
import type { DeflateScratch } from "../../deflate/deflate-window";
import { Compressor } from "./format";

/** Content and level in, a raw deflate stream out; `scratch` is reused state (deflate-window.ts). */
export type DeflateCompressor = (content: Uint8Array, level: number, scratch?: DeflateScratch) => Uint8Array;

/** The largest stored block (LEN is 16 bits). */
const STORED_BLOCK = 0xffff;

/**
 * Stored deflate blocks (RFC 1951 3.2.4): every block full (65535 bytes) but the last, which has
 * BFINAL set; each begins byte-aligned, so the stream is header bytes and content, nothing else.
 */
export function storedDeflate(content: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(content.length / STORED_BLOCK));
  const out = new Uint8Array(content.length + 5 * blocks);
  let pos = 0;
  for (let b = 0; b < blocks; b++) {
    const start = b * STORED_BLOCK;
    const n = Math.min(STORED_BLOCK, content.length - start);
    out[pos] = b === blocks - 1 ? 1 : 0;
    out[pos + 1] = n & 0xff;
    out[pos + 2] = n >>> 8;
    out[pos + 3] = ~n & 0xff;
    out[pos + 4] = (~n >>> 8) & 0xff;
    out.set(content.subarray(start, start + n), pos + 5);
    pos += 5 + n;
  }
  return out;
}

export interface CompressorEntry {
  name: string;
  min: number;
  max: number;
  compress: DeflateCompressor;
}

/** Every compressor id the format defines, with the levels it accepts. */
export const COMPRESSORS: Record<number, CompressorEntry> = {
  [Compressor.stored]: { name: "stored blocks", min: 0, max: 0, compress: storedDeflate },
  [Compressor.gnuGzip]: { name: "GNU gzip's deflate", min: 1, max: 9, compress: gzipDeflate },
  [Compressor.zlib]: { name: "zlib's deflate", min: 1, max: 9, compress: zlibDeflate },
};
