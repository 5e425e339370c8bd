/**
 * Input `index` of a run: a mutation of the target's seeds, with the target's post-processing.
 * Shared by the worker (which runs it) and the watchdog (which rebuilds the input a stuck worker
 * was on), so both always agree.
 */
import { resealArtifact } from "./artifact-seal";
import { ext4Input } from "./ext4-seeds";
import { mutatedInput } from "./mutate";
import { resealXz } from "./xz-seal";
import type { TargetName } from "./targets";

/** Largest input: keeps every run fast. */
const MAX_INPUT = 256 << 10;

export function fuzzInput(target: TargetName, seeds: readonly Uint8Array[], seed: number, index: number): Uint8Array {
  if (target === "ext4") return ext4Input(seeds, seed, index, MAX_INPUT);
  const input = mutatedInput(seeds, seed, index, { varints: target === "vcdiff" || target === "mbdf", maxLength: MAX_INPUT });
  // Every other Artifact gets checksums that match the mutation: otherwise nearly all mutations
  // stop at the manifest check and the parsers behind it are never reached.
  if (target === "artifact" && index % 2 === 1) return resealArtifact(input);
  // Same for the CRC32s of the xz headers, index and footer.
  if (target === "xz" && index % 2 === 1) return resealXz(input);
  return input;
}
