/**
 * Where an old file's bytes went in the new file, as an approximate diff's difference stretches
 * say: stretch k makes new[newStart, +length) from old[oldStart, +length), so an old byte inside it
 * is taken to have moved by newStart - oldStart. With both files' loadable segments this maps an
 * old virtual address to a new one: the prediction of executable-aware diffs (predict.ts).
 *
 * Rule (the device follows it too): the stretches of at least MIN_MAP_LENGTH bytes are ordered by
 * oldStart, then by their order in the diff; an old offset x projects through the last stretch in
 * that order with oldStart <= x that contains x, looking back at most LOOKBACK stretches; none ->
 * no projection.
 */
import { type ApproximateDiff, StretchReader } from "../approximate-diff";
import { type LoadSegments, offsetToVa, vaToOffset, zeroFillSegment } from "./elf-layout";
import type { MemoryBudget } from "./working-set";

/** Most difference stretches a map holds: bounds the device's memory. */
export const MAX_STRETCHES = 1 << 19;
/** Bytes per difference stretch: its new start, old start and length. */
const STRETCH_BYTES = 12;
/** Bytes per stretch of the map (MIN_MAP_LENGTH or longer): its index and old start, and a sort key while the map is made. */
const MAP_BYTES = 16;
/** How many stretches before the nearest one are tried: nested short stretches hide a long one. */
export const LOOKBACK = 16;
/**
 * Shorter stretches are left out of the map: in changed code the diff pairs a few bytes with any
 * old place that happens to match, and such stretches would hide the long one around them.
 */
export const MIN_MAP_LENGTH = 32;

export class AddressMapError extends Error {}

export interface Stretches {
  count: number;
  /** Per difference stretch (length >= 1), in diff order. */
  newStart: Int32Array;
  oldStart: Int32Array;
  length: Int32Array;
}

/**
 * The difference stretches of `diff` (checked as StretchReader checks them), in arrays of exactly
 * their number (counted in a first pass over the control stream: no arrays grown by doubling),
 * claimed from `budget` when there is one.
 */
export function readStretches(oldLength: number, diff: ApproximateDiff, newLength: number, budget?: MemoryBudget): Stretches {
  let count = 0;
  const s = new StretchReader(oldLength, diff, newLength);
  while (s.next()) {
    if (s.diffLength === 0) continue;
    if (count === MAX_STRETCHES) throw new AddressMapError(`more than ${MAX_STRETCHES} difference stretches`);
    count++;
  }
  s.finish();
  budget?.claim(STRETCH_BYTES * count, `${count} difference stretches`);
  const newStart = new Int32Array(count);
  const oldStart = new Int32Array(count);
  const length = new Int32Array(count);
  const again = new StretchReader(oldLength, diff, newLength);
  for (let k = 0; again.next(); ) {
    if (again.diffLength === 0) continue;
    newStart[k] = again.outPos;
    oldStart[k] = again.oldPos;
    length[k] = again.diffLength;
    k++;
  }
  return { count, newStart, oldStart, length };
}

export class AddressMap {
  /** Stretch indices ordered by oldStart, then diff order. */
  private readonly byOld: Int32Array;
  /** oldStart of byOld's stretches, for the binary search. */
  private readonly sortedOld: Int32Array;

  constructor(
    readonly stretches: Stretches,
    private readonly oldSegments: LoadSegments,
    private readonly newSegments: LoadSegments,
    budget?: MemoryBudget,
  ) {
    const { oldStart, length } = stretches;
    // oldStart < 2^31 and index < 2^20: the key is exact, and sorts as the rule says.
    let count = 0;
    for (let k = 0; k < stretches.count; k++) if (length[k]! >= MIN_MAP_LENGTH) count++;
    budget?.claim(MAP_BYTES * count, `an address map of ${count} stretches`);
    const keys = new Float64Array(count);
    for (let k = 0, j = 0; k < stretches.count; k++) if (length[k]! >= MIN_MAP_LENGTH) keys[j++] = oldStart[k]! * MAX_STRETCHES + k;
    keys.sort();
    this.byOld = new Int32Array(count);
    this.sortedOld = new Int32Array(count);
    for (let j = 0; j < count; j++) {
      const k = keys[j]! % MAX_STRETCHES;
      this.byOld[j] = k;
      this.sortedOld[j] = oldStart[k]!;
    }
  }

  /** The new file offset of old file offset `x`, or -1. */
  projectOffset(x: number): number {
    const { sortedOld, byOld } = this;
    const { newStart, oldStart, length } = this.stretches;
    let lo = 0;
    let hi = sortedOld.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sortedOld[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    for (let j = lo - 1; j >= 0 && j >= lo - LOOKBACK; j--) {
      const k = byOld[j]!;
      if (x < oldStart[k]! + length[k]!) return newStart[k]! + x - oldStart[k]!;
    }
    return -1;
  }

  /**
   * The new virtual address of old virtual address `va`, or NaN. An address with file bytes moves
   * as its byte does; one in a segment's zero-filled memory (.bss, which follows .data) keeps its
   * distance to the end of the segment's file bytes, in the new segment of the same index.
   */
  projectAddress(va: number): number {
    const x = vaToOffset(this.oldSegments, va);
    if (Number.isNaN(x)) {
      const i = zeroFillSegment(this.oldSegments, va);
      const o = this.oldSegments;
      const n = this.newSegments;
      if (i < 0 || i >= n.count) return NaN;
      const moved = va - (o.vaddr[i]! + o.filesz[i]!) + n.vaddr[i]! + n.filesz[i]!;
      return moved < n.vaddr[i]! + n.memsz[i]! ? moved : NaN;
    }
    const y = this.projectOffset(x);
    return y < 0 ? NaN : offsetToVa(this.newSegments, y);
  }

  /** The new virtual address of new file offset `offset`, or NaN. */
  newAddress(offset: number): number {
    return offsetToVa(this.newSegments, offset);
  }
}
