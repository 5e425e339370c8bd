/**
 * The delta Artifacts the benchmarks compare, each made the way its tool is used:
 *   ours   the built mender-binary-delta-generator, FROM.mender TO.mender -> delta Artifact
 *   stock  Mender's own recipe: `xdelta3 -e -S lzma -A -s FROM.img TO.img`, the delta then wrapped
 *          by `mender-artifact write module-image`
 */
import fs from "node:fs";
import path from "node:path";
import { GENERATOR, sequence, timed, type Pair, type Timed } from "./pairs";

/** The part of the generator's `--json` summary the benchmarks read. */
export interface GeneratorSummary {
  artifactSize: number;
  delta: { size: number; mbdf?: { records?: Record<string, { count: number }> } };
  timeMs: { read: number; encode: number; write: number };
}

export interface MadeArtifact {
  artifact: string;
  time: Timed;
}

/**
 * Runs our generator (the built one, or `generator`: another build's, the formats bench's baseline
 * release) on the pair's Artifacts with `args` (e.g. `--delta-format mbdf`) into `out`.
 */
export function ourDeltaArtifact(pair: Pair, out: string, args: string[] = [], generator = GENERATOR): MadeArtifact & { summary: GeneratorSummary } {
  const time = timed(generator, ["--json", ...args, "-o", out, pair.fromArtifact, pair.toArtifact], [pair.fromArtifact, pair.toArtifact]);
  return { artifact: out, time, summary: JSON.parse(time.stdout) as GeneratorSummary };
}

/** The stock delta Artifact in `dir` (created): xdelta3's delta, then mender-artifact's wrapping, timed as one. */
export function stockDeltaArtifact(pair: Pair, dir: string): MadeArtifact & { delta: string } {
  fs.mkdirSync(dir, { recursive: true });
  const delta = path.join(dir, `${path.basename(pair.toImage)}.delta`);
  const xd = timed("xdelta3", ["-e", "-S", "lzma", "-A", "-f", "-s", pair.fromImage, pair.toImage, delta], [pair.fromImage, pair.toImage]);
  const artifact = path.join(dir, "stock.mender");
  const ma = timed("mender-artifact", ["write", "module-image", "-T", "mender-binary-delta", "-t", "qemux86-64", "-n", "stock", "-f", delta, "-o", artifact], [delta]);
  return { artifact, delta, time: sequence([xd, ma]) };
}
