/**
 * Compression of the Artifact's inner tars (`header.tar<ext>`, `data/NNNN.tar<ext>`). As in
 * mender-artifact, the member name's suffix is the only indication of the compressor.
 *
 * - gzip: fflate, streaming (read and write).
 * - zstd: Node's zlib, which has it from Node 22.15 / 23.8 (the generator's runtime); a Mender
 *   client older than 3.5 (and mender-artifact older than 3.10) cannot read zstd Artifacts.
 * - xz: read only (the project's xz decoder). Writing xz is not offered: neither Node nor fflate has
 *   an LZMA2 encoder (docs/artifact-library.md has the measurements behind that choice).
 */
import { Transform, type TransformCallback } from "node:stream";
import * as zlib from "node:zlib";
import { Gunzip, Gzip } from "fflate";
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
        `use gzip, which every Mender client reads`,
    );
  }
  return z as ZstdZlib;
}

/** A gzip stream through fflate, in a Node Transform so it composes with pipelines. */
class FflateTransform extends Transform {
  private readonly codec: Gzip | Gunzip;
  constructor(kind: "compress" | "decompress", level: number) {
    super();
    const ondata = (chunk: Uint8Array): void => {
      this.push(chunk);
    };
    // mtime 0 keeps the gzip header, and so the Artifact, reproducible.
    this.codec = kind === "compress" ? new Gzip({ level: level as 6, mtime: 0 }, ondata) : new Gunzip(ondata);
  }
  override _transform(chunk: Uint8Array, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.codec.push(chunk, false);
      done();
    } catch (err) {
      done(gzipError(err));
    }
  }
  override _flush(done: TransformCallback): void {
    try {
      this.codec.push(new Uint8Array(0), true);
      done();
    } catch (err) {
      done(gzipError(err));
    }
  }
}

function gzipError(err: unknown): MenderDeltaError {
  return new MenderDeltaError(`invalid gzip data (${err instanceof Error ? err.message : String(err)})`);
}

/** A decompressing Transform for `kind` ("none" passes bytes through). */
export function createDecompressor(kind: Compression): Transform {
  switch (kind) {
    case "none":
      return new Transform({ transform: (chunk, _e, done) => done(null, chunk) });
    case "gzip":
      return new FflateTransform("decompress", 0);
    case "zstd":
      return zstdZlib("read").createZstdDecompress();
    case "xz":
      throw new MenderDeltaError("cannot read xz-compressed Artifact members yet (xz decoder not available in this build); re-create the Artifact with --compression gzip");
  }
}

/** Default levels: gzip 6 (as mender-artifact's pgzip default), zstd 3 (zstd's default). */
export function createCompressor(kind: Compression, level?: number): Transform {
  switch (kind) {
    case "none":
      return new Transform({ transform: (chunk, _e, done) => done(null, chunk) });
    case "gzip":
      return new FflateTransform("compress", level ?? 6);
    case "zstd": {
      const z = zstdZlib("write");
      return z.createZstdCompress({ params: { [z.constants.ZSTD_c_compressionLevel]: level ?? 3 } });
    }
    case "xz":
      throw new MenderDeltaError(
        "writing xz-compressed Artifacts is not supported (no LZMA2 encoder in Node); use gzip (every client) or zstd (Mender client 3.5 and newer)",
      );
  }
}
