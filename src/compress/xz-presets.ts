/**
 * xz's presets -0 .. -9 as this encoder follows them: the dictionary size of each (what a decoder
 * must reserve at most) and the parser (0-3 the fast one, 4-9 the optimal one, as xz's presets).
 * The match finder's other settings stay the encoder's own defaults at every level.
 */
import type { XzEncoderOptions } from "./xz-encoder.js";

export const XZ_MIN_PRESET = 0;
export const XZ_MAX_PRESET = 9;

/** Dictionary bytes of xz -0 .. -9. */
const PRESET_DICT = [256 << 10, 1 << 20, 2 << 20, 4 << 20, 4 << 20, 8 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20];

/** The dictionary size and parser of preset `level` (an integer from 0 to 9). */
export function xzPreset(level: number): Required<Pick<XzEncoderOptions, "dictSize" | "mode">> {
  const dictSize = PRESET_DICT[level];
  if (!Number.isInteger(level) || dictSize === undefined) throw new RangeError(`xz preset ${level} is not one of ${XZ_MIN_PRESET} to ${XZ_MAX_PRESET}`);
  return { dictSize, mode: level <= 3 ? "fast" : "normal" };
}
