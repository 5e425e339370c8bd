/**
 * Compression levels 1..9: how densely the source is indexed (index memory and time) and how hard
 * each window searches.
 *
 * The thresholds are tuned for the delta as it ships: compressed again by xz (or gzip) at the
 * Artifact layer. Short copies, and target self-copies in particular, make the raw VCDIFF smaller
 * but the compressed delta larger (their addresses are noise to xz, while the literals they
 * replace compress well). Measured on an ext4 pair (48 MiB, security update): self-copies of >= 6
 * bytes gave 505 KB raw / 355 KB after xz -9; without them 1.19 MB raw / 256 KB after xz -9. So
 * copies must be long to be taken, and self-copies only replace long repeats.
 */
import type { MatchParams } from "./match-window";
import type { IndexParams } from "./source-index";

export const MIN_LEVEL = 1;
export const MAX_LEVEL = 9;
export const DEFAULT_LEVEL = 6;

export interface LevelParams {
  index: IndexParams;
  match: MatchParams;
}

export function levelParams(level: number): LevelParams {
  const l = Math.min(MAX_LEVEL, Math.max(MIN_LEVEL, Math.round(level)));
  return {
    // Anchors: one per 128 source bytes at levels 1-3, per 64 at 4-6, per 32 at 7-9.
    index: { anchorBits: l <= 3 ? 7 : l <= 6 ? 6 : 5, bucketSize: l <= 6 ? 4 : 8 },
    match: {
      minContinuation: 12,
      minSourceMatch: l <= 3 ? 64 : 80,
      selfChain: l <= 3 ? 0 : l <= 6 ? 2 : 4,
      minSelfMatch: l <= 6 ? 512 : 256,
      goodEnough: l <= 3 ? 64 : l <= 6 ? 256 : 4096,
      minRun: 32,
    },
  };
}
