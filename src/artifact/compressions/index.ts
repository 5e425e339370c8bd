/**
 * The compressions of an Artifact's inner tars, one module each. Their order here is the order
 * messages, the help and the docs list them in (a program's default first where it has one).
 */
import type { ArtifactCompression } from "./artifact-compression";
import { gzip } from "./gzip";
import { none } from "./none";
import { xz } from "./xz";
import { zstd } from "./zstd";

export type { ArtifactCompression, CompressionAlias, LevelRange } from "./artifact-compression";

export const COMPRESSIONS = [gzip, xz, zstd, none] as const;

export type Compression = (typeof COMPRESSIONS)[number]["id"];

/** What the Artifact writer uses when the spec names none: every Mender client reads gzip. */
export const DEFAULT_ARTIFACT_COMPRESSION: Compression = "gzip";

export function isCompression(id: unknown): id is Compression {
  return COMPRESSIONS.some((c) => c.id === id);
}

export function compressionById(id: Compression): ArtifactCompression<Compression> {
  return COMPRESSIONS.find((c) => c.id === id)!;
}

/** The ids in registry order with `first` (a program's default) moved to the front. */
export function compressionsDefaultFirst(first: Compression): ArtifactCompression<Compression>[] {
  const def = compressionById(first);
  return [def, ...COMPRESSIONS.filter((c) => c !== def)];
}

/** The suffixes of compressed members, in registry order: `.gz`, `.xz`, `.zst`. */
export const COMPRESSED_SUFFIXES: readonly string[] = COMPRESSIONS.map((c) => c.suffix).filter((s) => s !== "");
