/**
 * The scratch directory (beside the output) receives the images extracted from Artifact inputs,
 * then the delta and the staged Artifact. The images' sizes are known from the Artifacts' headers,
 * so a file system too small for them is reported before anything is extracted, with the numbers.
 */
import { promises as fsp } from "node:fs";
import { MenderDeltaError } from "../errors";
import type { InputRelease } from "./inputs";

const mib = (bytes: number): string => `${(bytes / (1 << 20)).toFixed(1)} MiB`;

/** Free bytes an unprivileged writer may use in `dir`'s file system; undefined when it cannot be asked. */
async function availableBytes(dir: string): Promise<number | undefined> {
  try {
    const fs = await fsp.statfs(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return undefined;
  }
}

/**
 * Fails when `dir` cannot hold the images extracted from `inputs` (raw images are read in place
 * and need nothing). The delta and the Artifact come on top: at least this much is needed.
 */
export async function checkScratchSpace(dir: string, inputs: InputRelease[]): Promise<void> {
  const needed = inputs.reduce((sum, r) => sum + r.extractedSize, 0);
  if (needed === 0) return;
  const available = await availableBytes(dir);
  if (available === undefined || available >= needed) return;
  const images = inputs.filter((r) => r.extractedSize > 0).map((r) => `${r.side} ${r.extractedSize}`).join(" + ");
  throw new MenderDeltaError(
    `not enough free space in ${dir} for the scratch files: the images extracted from the Artifacts need at least ${needed} bytes ` +
      `(${mib(needed)}: ${images}), the file system has ${available} bytes (${mib(available)}) available; the scratch files are made ` +
      `beside the output, so give -o a path on a file system with more room, or give the images with --from-image/--to-image (read where they are)`,
  );
}
