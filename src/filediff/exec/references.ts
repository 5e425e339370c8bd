/**
 * The references of an executable found by an architecture's scan (architecture.ts): the file
 * offsets of fields that hold an address, each with its kind and target, in typed arrays that a
 * scan fills in found order and sorts in place, so a device scanning a large executable holds each
 * reference once.
 */
import type { LoadSegments } from "./elf-layout";
import type { MemoryBudget } from "./working-set";

/**
 * Most references a file may have: bounds the device's memory whatever the old file holds; a file
 * with more is diffed without prediction.
 */
export const MAX_REFERENCES = 1 << 19;

/**
 * A target is an address inside a loadable segment (every scan checks it). When all segments lie
 * below 2^32, as in every file seen so far, targets are kept in 4 bytes instead of 8.
 */
export type Targets = Uint32Array | Float64Array;

/** A file's references, sorted by position, not overlapping. */
export interface References {
  count: number;
  /** File offset of each reference's field. */
  position: Int32Array;
  /** What the field is: its size and how its value is encoded (the architecture's kinds). */
  kind: Uint8Array;
  /** The virtual address each one refers to. */
  target: Targets;
}

/** References as parallel arrays. */
interface ReferenceArrays {
  position: Int32Array;
  kind: Uint8Array;
  target: Targets;
}

/** Whether some segment of `segments` reaches past 2^32, so that targets need 8 bytes. */
export function wideTargets(segments: LoadSegments): boolean {
  for (let i = 0; i < segments.count; i++) if (segments.vaddr[i]! + segments.memsz[i]! > 2 ** 32) return true;
  return false;
}

/** Bytes per reference in found order: position, kind and target. */
const referenceBytes = (wide: boolean): number => 5 + (wide ? 8 : 4);

/** Entry i of `src` into slot j of `dst`. */
function moveEntry(dst: ReferenceArrays, j: number, src: ReferenceArrays, i: number): void {
  dst.position[j] = src.position[i]!;
  dst.kind[j] = src.kind[i]!;
  dst.target[j] = src.target[i]!;
}

/** Entries [from, to) of `src` into `dst` from its slot 0. */
function copyEntries(dst: ReferenceArrays, src: ReferenceArrays, from: number, to: number): void {
  dst.position.set(src.position.subarray(from, to));
  dst.kind.set(src.kind.subarray(from, to));
  dst.target.set(src.target.subarray(from, to));
}

const noArrays = (): ReferenceArrays => ({ position: new Int32Array(0), kind: new Uint8Array(0), target: new Uint32Array(0) });

/**
 * Arrays for scans: the references (in found order, then sorted in place) and the copy a sort's
 * merge takes, grown as a scan needs. A scan's result lives in them until the next scan or release().
 * With a budget (the device's, and the generator's check of what it made: working-set.ts), every
 * array is claimed before it is made.
 */
export class ReferenceScratch {
  found = noArrays();
  sorted = noArrays();
  budget: MemoryBudget | undefined;

  /**
   * Lets the arrays go. The device calls it after each EXEC record: EXEC records are few (large
   * changed executables) and the other records' buffers peak elsewhere, so keeping a scan's arrays
   * (9 to 26 bytes per reference) for the rest of the image would only add to the decode's peak.
   */
  release(): void {
    this.found = noArrays();
    this.sorted = noArrays();
    this.budget = undefined;
  }

  /**
   * Room for `n` references found (at most MAX_REFERENCES) before a scan of a file laid out in
   * `segments` that expects about that many: the device knows the count from the record. Growing
   * by doubling instead would leave the smaller arrays as garbage next to the larger ones at the
   * decode's peak (pair U-arm64: several MiB).
   */
  reserve(n: number, segments: LoadSegments): void {
    this.found = this.ensure(this.found, Math.min(Math.max(n, 0), MAX_REFERENCES), 0, wideTargets(segments));
  }

  /** `a` with room for `n` entries, its first `keep` kept (the same arrays when they are large enough and of the width asked). */
  ensure(a: ReferenceArrays, n: number, keep: number, wide: boolean): ReferenceArrays {
    if (a.position.length >= n && (a.target instanceof Float64Array) === wide) return a;
    this.budget?.claim(n * referenceBytes(wide), `${n} references`);
    const b = { position: new Int32Array(n), kind: new Uint8Array(n), target: wide ? new Float64Array(n) : new Uint32Array(n) };
    copyEntries(b, a, 0, keep);
    return b;
  }
}

/** Collects references in found order into the scratch (then sorted by `sorted`). */
export class ReferenceList {
  count = 0;
  overflow = false;
  private found: ReferenceArrays;

  private readonly wide: boolean;

  constructor(
    private readonly scratch: ReferenceScratch,
    /** By kind, the size of a reference's field: a reference overlapping the one before it is dropped. */
    private readonly fieldSize: Uint8Array,
    /** The scanned file's loadable segments, which hold every target. */
    segments: LoadSegments,
  ) {
    this.wide = wideTargets(segments);
    this.found = scratch.found = scratch.ensure(scratch.found, 0, 0, this.wide);
  }

  add(position: number, kind: number, target: number): void {
    if (this.count === MAX_REFERENCES) {
      this.overflow = true;
      return;
    }
    if (this.count === this.found.position.length) {
      this.found = this.scratch.found = this.scratch.ensure(this.found, Math.min(Math.max(2 * this.count, 4096), MAX_REFERENCES), this.count, this.wide);
    }
    this.found.position[this.count] = position;
    this.found.kind[this.count] = kind;
    this.found.target[this.count] = target;
    this.count++;
  }

  /** Whether found reference i sorts before j: by position, then kind, then target. */
  private before(i: number, j: number): boolean {
    const { position, kind, target } = this.found;
    if (position[i] !== position[j]) return position[i]! < position[j]!;
    if (kind[i] !== kind[j]) return kind[i]! < kind[j]!;
    return target[i]! < target[j]!;
  }

  private swap(i: number, j: number): void {
    const { position, kind, target } = this.found;
    const p = position[i]!;
    position[i] = position[j]!;
    position[j] = p;
    const k = kind[i]!;
    kind[i] = kind[j]!;
    kind[j] = k;
    const t = target[i]!;
    target[i] = target[j]!;
    target[j] = t;
  }

  /**
   * Sorts [from, to) of the found arrays in place (heapsort: no memory besides the arrays) by
   * position, kind and target: a total order, so the result does not depend on the algorithm.
   */
  private sortInPlace(from: number, to: number): void {
    const length = to - from;
    const siftDown = (root: number, size: number): void => {
      for (;;) {
        let child = 2 * root + 1;
        if (child >= size) return;
        if (child + 1 < size && this.before(from + child, from + child + 1)) child++;
        if (!this.before(from + root, from + child)) return;
        this.swap(from + root, from + child);
        root = child;
      }
    };
    for (let i = (length >> 1) - 1; i >= 0; i--) siftDown(i, length);
    for (let size = length - 1; size > 0; size--) {
      this.swap(from, from + size);
      siftDown(0, size);
    }
  }

  /**
   * Merges the sorted [0, run) and [run, n) in place, the first's references in front on equal
   * positions, through a copy of the shorter one: a short tail is merged from the end, a short
   * run from the start (a slot written is then never one still to be read).
   */
  private merge(run: number, n: number): void {
    const found = this.found;
    const { position } = found;
    const tail = n - run;
    const copy = (this.scratch.sorted = this.scratch.ensure(this.scratch.sorted, Math.min(run, tail), 0, this.wide));
    if (tail <= run) {
      copyEntries(copy, found, run, n);
      for (let a = run, k = tail, w = n - 1; k > 0; w--) {
        if (a > 0 && position[a - 1]! > copy.position[k - 1]!) moveEntry(found, w, found, --a);
        else moveEntry(found, w, copy, --k);
      }
    } else {
      copyEntries(copy, found, 0, run);
      for (let a = 0, k = run, w = 0; a < run; w++) {
        if (k < n && position[k]! < copy.position[a]!) moveEntry(found, w, found, k++);
        else moveEntry(found, w, copy, a++);
      }
    }
  }

  /**
   * Sorted by position (on equal positions: references found in order first, in found order; the
   * rest by kind, then target), overlaps dropped. The first references found (the code's, mostly)
   * often come in order already: the rest is sorted in place and merged with them through a copy
   * of the shorter of the two, so the arrays hold each reference once and sorting takes at most 9
   * (or 13) bytes per reference of the shorter side.
   */
  sorted(): References {
    const found = this.found;
    const { position, kind, target } = found;
    const n = this.count;
    let run = 1;
    while (run < n && position[run - 1]! <= position[run]!) run++;
    if (run < n) {
      this.sortInPlace(run, n);
      this.merge(run, n);
    }
    let count = 0;
    let end = 0;
    for (let i = 0; i < n; i++) {
      const at = position[i]!;
      if (at < end) continue;
      end = at + this.fieldSize[kind[i]!]!;
      moveEntry(found, count++, found, i);
    }
    return { count, position: position.subarray(0, count), kind: kind.subarray(0, count), target: target.subarray(0, count) };
  }
}
