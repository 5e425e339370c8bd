/**
 * Compression levels 1..9: how densely the source is indexed and how hard each window searches.
 * Higher levels cost index memory and time for (usually a few percent) smaller deltas.
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
  // One anchor per 64 bytes at the low end, per 16 at the top.
  const anchorBits = l <= 2 ? 6 : l <= 7 ? 5 : 4;
  const bucketSize = l <= 2 ? 2 : l <= 5 ? 4 : 8;
  return {
    index: { anchorBits, bucketSize },
    match: {
      minContinuation: l <= 2 ? 8 : 5,
      minSourceMatch: l <= 2 ? 32 : 16,
      selfChain: l <= 3 ? 0 : l <= 6 ? 4 : 16,
      minSelfMatch: l <= 6 ? 6 : 5,
      goodEnough: l <= 2 ? 32 : l <= 6 ? 64 : 256,
    },
  };
}
