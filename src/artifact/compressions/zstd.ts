/**
 * zstd: Node's zlib both ways, which has it from Node 22.15 / 23.8 (the generator's runtime); a
 * Mender client older than 3.5 (and mender-artifact older than 3.10) cannot read zstd Artifacts.
 */
import type { Transform } from "node:stream";
import * as zlib from "node:zlib";
import { MenderDeltaError } from "../../errors";
import type { ArtifactCompression, LevelRange } from "./artifact-compression";

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

/** Default 3: zstd's own default. */
const LEVELS: LevelRange = { min: 1, max: 19, default: 3 };

export const zstd: ArtifactCompression<"zstd"> = {
  id: "zstd",
  suffix: ".zst",
  levels: LEVELS,
  /**
   * mender-artifact's zstd names are the four speeds of the Go zstd encoder it uses
   * (klauspost/compress), which that library documents as roughly zstd levels 1, 3, 7-8 and 11;
   * the same levels here keep the name's meaning (size and writing time alike).
   */
  aliases: [
    { name: "zstd_fastest", level: 1 },
    { name: "zstd_fast", level: 1 },
    { name: "zstd_default", level: 3 },
    { name: "zstd_better", level: 7 },
    { name: "zstd_best", level: 11 },
  ],
  summary: "client 3.5+",
  createReader: () => zstdZlib("read").createZstdDecompress(),
  createWriter(level) {
    const z = zstdZlib("write");
    return z.createZstdCompress({ params: { [z.constants.ZSTD_c_compressionLevel]: level ?? LEVELS.default } });
  },
};
