/**
 * The device's side of a rebuild: compresses content again with the compressor, level and
 * header that findRebuild recorded when the delta was made, giving the original bytes.
 */
import { adler32 } from "../vcdiff/format/adler32.js";
import type { Compressor, GzipRebuild, StreamRebuild, ZlibRebuild } from "./find-rebuild.js";
import { gzipDeflate } from "./gzip-deflate.js";
import { gzipWrap } from "./gzip-member.js";
import { zlibDeflate } from "./zlib-deflate.js";

/** Raw deflate of `data` by the named compressor. */
export function deflateWith(compressor: Compressor, data: Uint8Array, level: number): Uint8Array {
  return compressor === "gzip" ? gzipDeflate(data, level) : zlibDeflate(data, level);
}

export function rebuildRaw(data: Uint8Array, r: StreamRebuild): Uint8Array {
  return deflateWith(r.compressor, data, r.level);
}

export function rebuildGzip(data: Uint8Array, r: GzipRebuild): Uint8Array {
  return gzipWrap(r.header, deflateWith(r.compressor, data, r.level), data);
}

export function rebuildZlib(data: Uint8Array, r: ZlibRebuild): Uint8Array {
  const stream = deflateWith(r.compressor, data, r.level);
  const out = new Uint8Array(stream.length + 6);
  out[0] = r.header[0];
  out[1] = r.header[1];
  out.set(stream, 2);
  const a = adler32(data) >>> 0;
  const t = stream.length + 2;
  out[t] = a >>> 24;
  out[t + 1] = a >>> 16;
  out[t + 2] = a >>> 8;
  out[t + 3] = a;
  return out;
}
