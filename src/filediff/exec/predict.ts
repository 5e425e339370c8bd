/**
 * Executable-aware approximate diffs: the same three streams as an approximate diff
 * (approximate-diff.ts), but each difference stretch is taken against a *predicted* base instead
 * of the old bytes: every old reference (x86-64-references.ts) fully inside the stretch whose
 * target projects to a new address (address-map.ts) is replaced by the value it would have in the
 * new file. A recompiled binary's shifted calls and addresses are then predicted and cost zero
 * difference bytes; the generator and the device compute the base identically.
 */
import { type ApproximateDiff, StretchReader } from "../approximate-diff";
import { AddressMap, readStretches } from "./address-map";
import type { Architecture } from "./architecture";
import type { LoadSegments } from "./elf-layout";
import type { References } from "./references";
import type { MemoryBudget } from "./working-set";

/**
 * Predicted bytes are made in pieces of this size: the scratch memory whatever a stretch's length.
 * Small, since it counts against a small file's working set (working-set.ts); the bytes made do
 * not depend on it.
 */
const PIECE = 1 << 12;

export class Prediction {
  private readonly scratch: Uint8Array;
  private readonly value = new Uint8Array(8);

  constructor(
    private readonly old: Uint8Array,
    private readonly architecture: Architecture,
    private readonly references: References,
    readonly map: AddressMap,
    newLength: number,
    budget?: MemoryBudget,
  ) {
    // A piece is never longer than a stretch, nor a stretch than the new file.
    const scratchLength = Math.min(PIECE, newLength);
    budget?.claim(scratchLength, "the prediction's scratch");
    this.scratch = new Uint8Array(scratchLength);
  }

  /** Index of the first reference at or after `position`. */
  private firstAt(position: number): number {
    const p = this.references.position;
    let lo = 0;
    let hi = this.references.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p[mid]! < position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The new value of reference r when stretch k carries it, in this.value (the architecture's
   * encoding of its field); false when there is none: its target does not project, or the field
   * cannot reach it from its new place.
   */
  private predictValue(r: number, k: number): boolean {
    const { kind, position, target } = this.references;
    const { newStart, oldStart } = this.map.stretches;
    const newTarget = this.map.projectAddress(target[r]!);
    if (Number.isNaN(newTarget)) return false;
    const newAddress = this.map.newAddress(newStart[k]! + position[r]! - oldStart[k]!);
    if (Number.isNaN(newAddress)) return false;
    return this.architecture.encode(kind[r]!, this.old, position[r]!, newAddress, newTarget, this.value);
  }

  /** The predicted base of bytes [from, from + n) of stretch k (n <= PIECE), in the scratch. */
  private piece(k: number, from: number, n: number): Uint8Array {
    const { kind, position } = this.references;
    const o0 = this.map.stretches.oldStart[k]!;
    const end0 = o0 + this.map.stretches.length[k]!;
    const lo = o0 + from;
    const hi = lo + n;
    const out = this.scratch;
    out.set(this.old.subarray(lo, hi));
    // References overlapping [lo, hi) start at most 7 bytes before it (fields are 8 bytes at most).
    for (let r = this.firstAt(lo - 7); r < this.references.count && position[r]! < hi; r++) {
      const p = position[r]!;
      const size = this.architecture.fieldSize[kind[r]!]!;
      if (p + size <= lo || p < o0 || p + size > end0 || !this.predictValue(r, k)) continue;
      for (let b = 0; b < size; b++) {
        const at = p + b - lo;
        if (at >= 0 && at < n) out[at] = this.value[b]!;
      }
    }
    return out;
  }

  /** The difference stream against the predicted bases, for `neu` made by `diff`'s stretches. */
  differences(neu: Uint8Array): Uint8Array {
    const { count, newStart, length } = this.map.stretches;
    let total = 0;
    for (let k = 0; k < count; k++) total += length[k]!;
    const out = new Uint8Array(total);
    let d = 0;
    for (let k = 0; k < count; k++) {
      const len = length[k]!;
      for (let from = 0; from < len; from += PIECE) {
        const n = Math.min(PIECE, len - from);
        const base = this.piece(k, from, n);
        const at = newStart[k]! + from;
        for (let i = 0; i < n; i++) out[d + i] = (neu[at + i]! - base[i]!) & 0xff;
        d += n;
      }
    }
    return out;
  }

  /**
   * Applies `diff` (its differences taken against the predicted bases) into `out`, which may hold
   * the differences stream at its end, as applyApproximateDiff allows: an output byte is written
   * only after the difference byte at or after it was read.
   */
  apply(diff: ApproximateDiff, out: Uint8Array): Uint8Array {
    const { differences, literals } = diff;
    const s = new StretchReader(this.old.length, diff, out.length);
    let k = 0;
    while (s.next()) {
      const { outPos, dPos, diffLength } = s;
      for (let from = 0; from < diffLength; from += PIECE) {
        const n = Math.min(PIECE, diffLength - from);
        const base = this.piece(k, from, n);
        for (let i = 0; i < n; i++) out[outPos + from + i] = (base[i]! + differences[dPos + from + i]!) & 0xff;
      }
      if (diffLength > 0) k++;
      out.set(literals.subarray(s.lPos, s.lPos + s.literalLength), outPos + diffLength);
    }
    s.finish();
    return out;
  }
}

/**
 * The prediction for `diff` from `old` (its references found already) to a new file of
 * `newLength` bytes whose loadable segments are `newSegments`. Throws ApproximateDiffError or
 * AddressMapError when the diff's stretches are out of range or too many, WorkingSetError when
 * `budget` (the record's, working-set.ts) cannot hold them.
 */
export function predictionFor(
  old: Uint8Array,
  architecture: Architecture,
  oldSegments: LoadSegments,
  references: References,
  diff: ApproximateDiff,
  newLength: number,
  newSegments: LoadSegments,
  budget?: MemoryBudget,
): Prediction {
  const map = new AddressMap(readStretches(old.length, diff, newLength, budget), oldSegments, newSegments, budget);
  return new Prediction(old, architecture, references, map, newLength, budget);
}
