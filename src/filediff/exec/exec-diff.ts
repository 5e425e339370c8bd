/**
 * The executable-aware diff of one ELF file against its old version, for the generator: the
 * approximate diff's control and literals, its differences taken against the predicted bases
 * (predict.ts), and what the device needs to predict the same: the transform and the new file's
 * loadable segments. Anything unusual (not the same architecture with EXEC support on both sides,
 * no code section, too many references or stretches) gives undefined: the caller keeps the plain
 * approximate diff.
 */
import { approximateDiff, type ApproximateDiff, diffAlong } from "../approximate-diff";
import { AddressMapError } from "./address-map";
import type { Architecture } from "./architecture";
import { architectureOfMachine, architectureOfTransform } from "./architectures";
import { type ElfLayout, type LoadSegments, MAX_ADDRESS, MAX_SEGMENTS, readElfLayout } from "./elf-layout";
import { type Prediction, predictionFor } from "./predict";
import { MAX_REFERENCES, ReferenceScratch, type References } from "./references";
import { execBudget, type MemoryBudget, WorkingSetError } from "./working-set";

/**
 * The transform byte's high bit: the record carries the old and new files' holes (filediff/holes.ts)
 * and diffs the whole files; the low bits name the architecture.
 */
export const WITH_HOLES = 0x80;

export interface ExecDiff {
  transform: number;
  /** The new file's loadable segments, as the record carries them. */
  newSegments: LoadSegments;
  /** The references the device's scan of the old file must find (a check that both scans agree). */
  referenceCount: number;
  diff: ApproximateDiff;
}

/** `bytes` with every reference's field zeroed: what stays when addresses move. */
function withoutReferences(bytes: Uint8Array, references: References, fieldSize: Uint8Array): Uint8Array {
  const out = bytes.slice();
  for (let r = 0; r < references.count; r++) out.fill(0, references.position[r]!, references.position[r]! + fieldSize[references.kind[r]!]!);
  return out;
}

/** What EXEC reads of a pair of files before diffing them (scanPair). */
export interface PairScan {
  oldLayout: ElfLayout;
  newLayout: ElfLayout;
  architecture: Architecture;
  /** The old file's references. */
  references: References;
}

/** The pair's layouts, architecture and the old file's references, or why EXEC cannot diff it. */
function scanPair(old: Uint8Array, neu: Uint8Array): PairScan | string {
  const oldLayout = readElfLayout(old);
  const newLayout = readElfLayout(neu);
  if (!oldLayout || !newLayout) return `the ${oldLayout ? "new" : "old"} file is not a readable little-endian ELF file`;
  if (oldLayout.machine !== newLayout.machine) return `the ELF machine changed (${oldLayout.machine} to ${newLayout.machine})`;
  const architecture = architectureOfMachine(oldLayout.machine);
  if (!architecture) return `no executable-aware diff for ELF machine ${oldLayout.machine}`;
  const references = architecture.findReferences(old, oldLayout);
  if (!references) return `the old file has no code section or more than ${MAX_REFERENCES} references`;
  return { oldLayout, newLayout, architecture, references };
}

/** The control stream of EXEC's second alignment (below), or undefined when the new file's references cannot be found. */
function normalizedControl(old: Uint8Array, neu: Uint8Array, scan: PairScan): Uint8Array | undefined {
  const { architecture, references } = scan;
  const newReferences = architecture.findReferences(neu, scan.newLayout);
  if (!newReferences) return undefined;
  const { fieldSize } = architecture;
  return approximateDiff(withoutReferences(old, references, fieldSize), withoutReferences(neu, newReferences, fieldSize)).control;
}

/**
 * `approx` (the approximate diff of `neu` against `old`) with predicted differences, or undefined.
 * Two alignments are tried: `approx`'s, and one found on both files with their references zeroed
 * (tables of pointers, which change all over when code moves, then align as well as code does);
 * the one `size` (the caller's yardstick of a diff's cost) finds smaller is kept. Each is applied once as the device applies it
 * (execPrediction): a file on which the two would disagree is left to the plain approximate diff.
 * `whyNot` hears, for the generator's debug log, why a file gets no EXEC diff. Given `normalized`
 * (what normalizedAlignment found for this pair), `approx` already follows the second alignment:
 * it is the only one tried, and the pair is not scanned again.
 */
export function execDiff(
  old: Uint8Array, neu: Uint8Array, approx: ApproximateDiff, size: (diff: ApproximateDiff) => number, whyNot: (reason: string) => void = () => {},
  normalized?: NormalizedAlignment,
): ExecDiff | undefined {
  const no = (reason: string): undefined => {
    whyNot(reason);
    return undefined;
  };
  const scan = normalized?.scan ?? scanPair(old, neu);
  if (typeof scan === "string") return no(scan);
  const { oldLayout, newLayout, architecture, references } = scan;
  const segments = segmentProblem(newLayout.segments, neu.length);
  if (segments) return no(`the new file's segment table: ${segments}`);
  // An EXEC diff along `diff`'s alignment, or why there is none.
  const along = (diff: ApproximateDiff): ExecDiff | string => {
    try {
      const prediction = predictionFor(old, architecture, oldLayout.segments, references, diff, neu.length, newLayout.segments);
      const result: ExecDiff = {
        transform: architecture.transform,
        newSegments: newLayout.segments,
        referenceCount: references.count,
        diff: { control: diff.control, differences: prediction.differences(neu), literals: diff.literals },
      };
      const { control, literals } = result.diff;
      const budget = execBudget(old.length, neu.length, control.length, literals.length);
      const check = execPrediction(old, result.transform, result.newSegments, result.referenceCount, result.diff, neu.length, budget);
      const made = check.apply(result.diff, new Uint8Array(neu.length));
      return Buffer.compare(made, neu) === 0 ? result : "applying the prediction did not give the new file back (a bug: the APPROX diff is kept)";
    } catch (err) {
      if (err instanceof AddressMapError || err instanceof WorkingSetError) return err.message;
      throw err;
    }
  };
  const first = along(approx);
  if (normalized) return typeof first === "string" ? no(first) : first;
  const control = normalizedControl(old, neu, scan);
  const second = control ? along(diffAlong(control, old, neu)) : `the new file has no code section or more than ${MAX_REFERENCES} references`;
  // Only when neither alignment gives one does the log hear why.
  if (typeof first === "string") return typeof second === "string" ? no(first) : second;
  if (typeof second === "string") return first;
  return size(second.diff) < size(first.diff) ? second : first;
}

/** EXEC's second alignment of a pair, and what was read of the pair to find it (for execDiff). */
export interface NormalizedAlignment {
  /** The control stream of the approximate diff with every reference's field zeroed on both sides. */
  control: Uint8Array;
  scan: PairScan;
}

/**
 * EXEC's second alignment (above) of `neu` against `old`, or undefined when EXEC cannot diff the
 * pair (not ELF files of one architecture EXEC knows, or too many references).
 */
export function normalizedAlignment(old: Uint8Array, neu: Uint8Array): NormalizedAlignment | undefined {
  const scan = scanPair(old, neu);
  if (typeof scan === "string") return undefined;
  const control = normalizedControl(old, neu, scan);
  return control && { control, scan };
}

/** An EXEC record's prediction cannot be made: what is wrong, and whether the old file is to blame. */
export class ExecDiffError extends Error {
  constructor(
    message: string,
    readonly blame: "delta" | "source" = "delta",
  ) {
    super(message);
  }
}

/** Why `segments` cannot be a new file's loadable segments for `newLength` bytes, or undefined when they can. */
export function segmentProblem(segments: LoadSegments, newLength: number): string | undefined {
  if (segments.count < 1 || segments.count > MAX_SEGMENTS) return `${segments.count} loadable segments, 1 to ${MAX_SEGMENTS} allowed`;
  for (let i = 0; i < segments.count; i++) {
    const o = segments.offset[i]!;
    const f = segments.filesz[i]!;
    if (o + f > newLength) return `segment ${i} holds file bytes [${o}, +${f}) past the file's ${newLength} bytes`;
    if (segments.memsz[i]! < f) return `segment ${i} has less memory (${segments.memsz[i]}) than file bytes (${f})`;
    if (segments.vaddr[i]! + segments.memsz[i]! > MAX_ADDRESS) return `segment ${i} ends past address 2^48`;
  }
  return undefined;
}

/**
 * The device side: the prediction an EXEC record's diff is applied with. Throws ExecDiffError when
 * the transform is unknown, the new segments are not sane, or the old file is not an ELF file of
 * the transform's architecture with `referenceCount` references the generator scanned; ApproximateDiffError or
 * AddressMapError when the diff's stretches are out of range or too many; WorkingSetError when
 * the references, stretches and map would not fit the record's `budget` (working-set.ts), before
 * they are made. Nothing is written. The references live in `scratch` (a decoder's) until its
 * next use or release(). The generator checks each record it makes through here too.
 */
export function execPrediction(
  old: Uint8Array,
  transform: number,
  newSegments: LoadSegments,
  referenceCount: number,
  diff: ApproximateDiff,
  newLength: number,
  budget: MemoryBudget,
  scratch = new ReferenceScratch(),
): Prediction {
  const architecture: Architecture | undefined = architectureOfTransform(transform);
  if (!architecture) throw new ExecDiffError(`unknown transform ${transform}`);
  const problem = segmentProblem(newSegments, newLength);
  if (problem) throw new ExecDiffError(`the new file's segment table: ${problem}`);
  const layout = readElfLayout(old);
  if (!layout || layout.machine !== architecture.machine) throw new ExecDiffError(`the old file is not an ${architecture.name} ELF file`, "source");
  // The scan finds the declared count, and a few that overlap others and are dropped (up to 1.7 %
  // in Thumb-2 code): room for both, so that the arrays need not grow.
  scratch.budget = budget;
  scratch.reserve(referenceCount + (referenceCount >> 4) + 64, layout.segments);
  const references = architecture.findReferences(old, layout, scratch);
  if (!references || references.count !== referenceCount) {
    throw new ExecDiffError(`the old file has ${references ? references.count : `more than ${MAX_REFERENCES}`} references, the delta expects ${referenceCount}`, "source");
  }
  return predictionFor(old, architecture, layout.segments, references, diff, newLength, newSegments, budget);
}
