/**
 * Compression of the Artifact's inner tars (`header.tar<ext>`, `data/NNNN.tar<ext>`) through the
 * registry in compressions/. As in mender-artifact, the member name's suffix is the only
 * indication of the compressor.
 */
import type { Transform } from "node:stream";
import { COMPRESSIONS, compressionById, type Compression } from "./compressions";
import type { CompressionTuning } from "./compressions/artifact-compression";

export type { Compression } from "./compressions";

export function compressionSuffix(c: Compression): string {
  return compressionById(c).suffix;
}

/** The compressor named by a member's suffix: `header.tar.gz` -> gzip, `data/0000.tar` -> none. */
export function compressionOfName(name: string): Compression {
  return COMPRESSIONS.find((c) => c.suffix !== "" && name.endsWith(c.suffix))?.id ?? "none";
}

/** A decompressing Transform for `kind` ("none" passes bytes through). */
export function createDecompressor(kind: Compression): Transform {
  return compressionById(kind).createReader();
}

/**
 * A compressing Transform for `kind` at `level` (undefined: the compression's default), for about
 * `sizeHint` input bytes when known.
 */
export function createCompressor(kind: Compression, level?: number, sizeHint?: number, tuning?: CompressionTuning): Transform {
  return compressionById(kind).createWriter(level, sizeHint, tuning);
}
