/**
 * Compression of the Artifact's inner tars (`header.tar<ext>`, `data/NNNN.tar<ext>`). As in
 * mender-artifact, the member name's suffix is the only indication of the compressor.
 *
 * - gzip: read with Node's zlib (native speed, full validation), write with fflate (streaming,
 *   pinned, so the same bytes on every runtime).
 * - zstd: Node's zlib, which has it from Node 22.15 / 23.8 (the generator's runtime); a Mender
 *   client older than 3.5 (and mender-artifact older than 3.10) cannot read zstd Artifacts.
 * - xz: the project's own codec both ways (src/compress). Every Mender client reads it, and on a
 *   delta payload it is some 25% smaller than gzip -9.
 */
import { Transform, type TransformCallback } from "node:stream";
import * as zlib from "node:zlib";
import { Gzip } from "fflate";
import { createXzCompressStream, createXzDecompressStream } from "../compress/xz";
import { MenderDeltaError } from "../errors";

export type Compression = "none" | "gzip" | "xz" | "zstd";

const SUFFIX: Record<Compression, string> = { none: "", gzip: ".gz", xz: ".xz", zstd: ".zst" };

export function compressionSuffix(c: Compression): string {
  return SUFFIX[c];
}

/** The compressor named by a member's suffix: `header.tar.gz` -> gzip, `data/0000.tar` -> none. */
export function compressionOfName(name: string): Compression {
  if (name.endsWith(".gz")) return "gzip";
  if (name.endsWith(".xz")) return "xz";
  if (name.endsWith(".zst")) return "zstd";
  return "none";
}

interface ZstdZlib {
  createZstdCompress(options?: { params?: Record<number, number> }): Transform;
  createZstdDecompress(): Transform;
  constants: { ZSTD_c_compressionLevel: number };
}

function zstdZlib(action: string): ZstdZlib {
  const z = zlib as unknown as Partial<ZstdZlib>;
  if (typeof z.createZstdCompress !== "function" || typeof z.createZstdDecompress !== "function") {
    throw new MenderDeltaError(
      `cannot ${action} zstd: this program runs on Node ${process.versions.node}, which has no zstd (Node 22.15+ has it); ` +
        `use gzip, which every Mender client reads (zstd Artifacts need Mender client 3.5 or newer anyway)`,
    );
  }
  return z as ZstdZlib;
}

/** gzip writing through fflate (pinned: the same bytes on every Node version), as a Node Transform. */
class FflateGzip extends Transform {
  private readonly gzip: Gzip;
  constructor(level: number) {
    super();
    // mtime 0 keeps the gzip header, and so the Artifact, reproducible.
    this.gzip = new Gzip({ level: level as 6, mtime: 0 }, (chunk) => this.push(chunk));
  }
  override _transform(chunk: Uint8Array, _enc: BufferEncoding, done: TransformCallback): void {
    this.gzip.push(chunk, false);
    done();
  }
  override _flush(done: TransformCallback): void {
    this.gzip.push(new Uint8Array(0), true);
    done();
  }
}

/** A decompressing Transform for `kind` ("none" passes bytes through). */
export function createDecompressor(kind: Compression): Transform {
  switch (kind) {
    case "none":
      return new Transform({ transform: (chunk, _e, done) => done(null, chunk) });
    case "gzip":
      // Node's zlib, not fflate: 6-10x faster on multi-GB images, and it checks what fflate skips
      // (stored-block lengths, the CRC-32/length trailer), so a flipped byte cannot pass unnoticed.
      return zlib.createGunzip({ chunkSize: 1 << 16 });
    case "zstd":
      return zstdZlib("read").createZstdDecompress();
    case "xz":
      // mender-artifact's `--compression lzma` is xz preset 9: a 64 MiB dictionary, the decoder's default limit.
      return createXzDecompressStream();
  }
}

/** xz's dictionary size per preset level (as xz -1 .. -9): what the decoder must reserve at most. */
const XZ_LEVEL_DICT = [256 << 10, 1 << 20, 2 << 20, 4 << 20, 4 << 20, 8 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20];

/**
 * Default levels: gzip 6 (as mender-artifact's pgzip default), zstd 3 (zstd's default), xz 9
 * (the dictionary of xz -9 and of mender-artifact's lzma, 64 MiB, but never larger than
 * `sizeHint`, the expected input size, needs).
 */
export function createCompressor(kind: Compression, level?: number, sizeHint?: number): Transform {
  switch (kind) {
    case "none":
      return new Transform({ transform: (chunk, _e, done) => done(null, chunk) });
    case "gzip":
      return new FflateGzip(level ?? 6);
    case "zstd": {
      const z = zstdZlib("write");
      return z.createZstdCompress({ params: { [z.constants.ZSTD_c_compressionLevel]: level ?? 3 } });
    }
    case "xz": {
      const l = level ?? 9;
      if (!Number.isInteger(l) || l < 0 || l > 9) throw new MenderDeltaError(`xz level ${l} is out of range: use 0 to 9 (it sets the dictionary size, as xz -0 to -9)`);
      // As xz's presets: 0-3 use the fast parser, 4-9 the optimal one.
      try {
        return createXzCompressStream({ dictSize: XZ_LEVEL_DICT[l], sizeHint, mode: l <= 3 ? "fast" : "normal" });
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        // The match finder's tables take about 10 bytes per dictionary byte.
        throw new MenderDeltaError(
          `not enough memory for the xz encoder at level ${l} (about 10 bytes per byte of its dictionary, up to ${XZ_LEVEL_DICT[l]! >> 20 || 1} MiB): use a lower level (e.g. --compression-level 6: 8 MiB) or gzip`,
        );
      }
    }
  }
}
