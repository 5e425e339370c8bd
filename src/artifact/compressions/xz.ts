/**
 * xz: the project's own codec both ways (src/compress). Every Mender client reads it, and on a
 * delta payload it is the smallest (docs/xz.md).
 */
import { createXzParallelStream, createXzDecompressStream, xzPreset, XZ_MAX_PRESET, XZ_MIN_PRESET } from "../../compress/xz";
import { MenderDeltaError } from "../../errors";
import type { ArtifactCompression, CompressionTuning, LevelRange } from "./artifact-compression";

/**
 * Default 9: the dictionary of xz -9 and of mender-artifact's lzma, 64 MiB, but never larger than
 * the expected input size needs.
 */
const LEVELS: LevelRange = { min: XZ_MIN_PRESET, max: XZ_MAX_PRESET, default: 9 };

export const xz: ArtifactCompression<"xz"> = {
  id: "xz",
  suffix: ".xz",
  levels: LEVELS,
  aliases: [{ name: "lzma" }],
  summary: "the smallest; every Mender client reads it",
  levelMeaning: "smallest; caps the dictionary as xz -N does; 0-3 use a faster parser: quicker to write, larger",
  // Any dictionary up to the decoder's default limit, 64 MiB: mender-artifact's lzma is xz preset 9.
  createReader: () => createXzDecompressStream(),
  createWriter(level, sizeHint, tuning?: CompressionTuning) {
    const l = level ?? LEVELS.default;
    if (!Number.isInteger(l) || l < XZ_MIN_PRESET || l > XZ_MAX_PRESET) {
      throw new MenderDeltaError(`xz level ${l} is out of range: use 0 to 9 (it sets the dictionary size, as xz -0 to -9)`);
    }
    const preset = xzPreset(l);
    try {
      // Parts of one block compressed in parallel; a payload of one part is written by one encoder.
      return createXzParallelStream({ ...preset, sizeHint, threads: tuning?.threads, partSize: tuning?.partSize });
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      // The match finder's tables take about 10 bytes per dictionary byte.
      throw new MenderDeltaError(
        `not enough memory for the xz encoder at level ${l} (about 10 bytes per byte of its dictionary, up to ${preset.dictSize >> 20 || 1} MiB): use a lower level (e.g. --compression-level 6: 8 MiB) or gzip`,
      );
    }
  },
};
