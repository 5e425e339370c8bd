/**
 * What the Artifact layer knows of one compression of the inner tars (`header.tar<suffix>`,
 * `data/NNNN.tar<suffix>`): as in mender-artifact, one module per compressor behind this interface
 * (index.ts lists them). The reader, the writer, the generator's options and help take everything
 * compression-specific from here.
 */
import type { Transform } from "node:stream";

export interface LevelRange {
  min: number;
  max: number;
  /** The level used when none is given. */
  default: number;
}

/** Another name for a compression (mender-artifact's), with the level it implies, if any. */
export interface CompressionAlias {
  name: string;
  level?: number;
}

export interface ArtifactCompression<Id extends string = string> {
  /** The name in ArtifactSpec.compression, the generator's --compression and the reader's result. */
  id: Id;
  /** Appended to an inner tar's name; "" for uncompressed members. */
  suffix: string;
  /** The levels the writer takes; undefined when the compression has none. */
  levels?: LevelRange;
  /** mender-artifact's names for it that the generator accepts too. */
  aliases: readonly CompressionAlias[];
  /** Why to pick it (which Mender clients read it, what it costs), in the generator's help. */
  summary?: string;
  /** What the level means, in the generator's help, beyond its range and default. */
  levelMeaning?: string;
  /** A decompressing Transform. */
  createReader(): Transform;
  /**
   * A compressing Transform at `level` (undefined: the default), for about `sizeHint` input bytes
   * when known (xz sizes its dictionary to it). `tuning` is for the compressions that use it (xz).
   */
  createWriter(level: number | undefined, sizeHint?: number, tuning?: CompressionTuning): Transform;
}

/** Knobs that change speed (threads) or the output's bytes (partSize), for compressions having them. */
export interface CompressionTuning {
  /** Threads compressing in parallel. Default: CPUs, at most 8. The output does not depend on it. */
  threads?: number;
  /** Input bytes per part compressed in parallel (xz). Default: the compression's own. */
  partSize?: number;
}
