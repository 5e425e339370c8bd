/**
 * The references of an executable found by an architecture's scan (architecture.ts): the file
 * offsets of fields that hold an address, each with its kind and target, in typed arrays that a
 * scan fills in found order and sorts in place, so a device scanning a large executable holds each
 * reference once.
 */

/**
 * Most references a file may have: bounds the device's memory (34 bytes each: found order, sorted
 * order and sort key, in a ReferenceScratch) whatever the old file holds; a file with more is
 * diffed without prediction.
 */
export const MAX_REFERENCES = 1 << 19;

/** A file's references, sorted by position, not overlapping. */
export interface References {
  count: number;
  /** File offset of each reference's field. */
  position: Int32Array;
  /** What the field is: its size and how its value is encoded (the architecture's kinds). */
  kind: Uint8Array;
  /** The virtual address each one refers to. */
  target: Float64Array;
}

/** References as parallel arrays. */
interface ReferenceArrays {
  position: Int32Array;
  kind: Uint8Array;
  target: Float64Array;
}

const noArrays = (): ReferenceArrays => ({ position: new Int32Array(0), kind: new Uint8Array(0), target: new Float64Array(0) });

/**
 * Arrays for scans: the references (in found order, then sorted in place), the out-of-order ones
 * set aside while they are sorted, and the sort keys, grown as a scan needs. A scan's result lives in them until the next scan or release().
 */
export class ReferenceScratch {
  found = noArrays();
  sorted = noArrays();
  keys = new Float64Array(0);

  /**
   * Lets the arrays go. The device calls it after each EXEC record: EXEC records are few (large
   * changed executables) and the other records' buffers peak elsewhere, so keeping a scan's arrays
   * (34 bytes per reference) for the rest of the image would only add to the decode's peak.
   */
  release(): void {
    this.found = noArrays();
    this.sorted = noArrays();
    this.keys = new Float64Array(0);
  }

  /**
   * Room for `n` references found (at most MAX_REFERENCES) before a scan that expects about that
   * many: the device knows the count from the record. Growing by doubling instead would leave the
   * smaller arrays as garbage next to the larger ones at the decode's peak (pair U-arm64: several MiB).
   */
  reserve(n: number): void {
    this.found = ensure(this.found, Math.min(Math.max(n, 0), MAX_REFERENCES), 0);
  }
}

/** `a` with room for `n` entries, its first `keep` kept (the same arrays when they are large enough). */
function ensure(a: ReferenceArrays, n: number, keep: number): ReferenceArrays {
  if (a.position.length >= n) return a;
  const b = { position: new Int32Array(n), kind: new Uint8Array(n), target: new Float64Array(n) };
  b.position.set(a.position.subarray(0, keep));
  b.kind.set(a.kind.subarray(0, keep));
  b.target.set(a.target.subarray(0, keep));
  return b;
}

/** Collects references in found order into the scratch (then sorted by `sorted`). */
export class ReferenceList {
  count = 0;
  overflow = false;
  private found: ReferenceArrays;

  constructor(
    private readonly scratch: ReferenceScratch,
    /** By kind, the size of a reference's field: a reference overlapping the one before it is dropped. */
    private readonly fieldSize: Uint8Array,
  ) {
    this.found = scratch.found;
  }

  add(position: number, kind: number, target: number): void {
    if (this.count === MAX_REFERENCES) {
      this.overflow = true;
      return;
    }
    if (this.count === this.found.position.length) {
      this.found = this.scratch.found = ensure(this.found, Math.min(Math.max(2 * this.count, 4096), MAX_REFERENCES), this.count);
    }
    this.found.position[this.count] = position;
    this.found.kind[this.count] = kind;
    this.found.target[this.count] = target;
    this.count++;
  }

  /**
   * Sorted by position (found order among equal positions), overlaps dropped. The code sections'
   * references come in order already: only the rest (the RELA tables', found after them) is sorted,
   * set aside, and merged back from the end, so the arrays hold each reference once (a device
   * scanning a large executable holds no second copy of them).
   */
  sorted(): References {
    const { position, kind, target } = this.found;
    const n = this.count;
    let run = 1;
    while (run < n && position[run - 1]! <= position[run]!) run++;
    const tail = n - run;
    if (this.scratch.keys.length < tail) this.scratch.keys = new Float64Array(tail);
    const keys = this.scratch.keys.subarray(0, tail);
    // position < 2^31 and index < 2^19: the key is exact and sorts numerically.
    for (let i = run; i < n; i++) keys[i - run] = position[i]! * MAX_REFERENCES + i;
    keys.sort();
    const t = (this.scratch.sorted = ensure(this.scratch.sorted, tail, 0));
    for (let j = 0; j < tail; j++) {
      const i = keys[j]! % MAX_REFERENCES;
      t.position[j] = position[i]!;
      t.kind[j] = kind[i]!;
      t.target[j] = target[i]!;
    }
    // Merge from the end: slot w is never one of the run's still unread [0, a). On equal
    // positions the run's reference (found first) stays in front of the tail's.
    for (let a = run, k = tail, w = n; k > 0; ) {
      w--;
      if (a > 0 && position[a - 1]! > t.position[k - 1]!) {
        a--;
        position[w] = position[a]!;
        kind[w] = kind[a]!;
        target[w] = target[a]!;
      } else {
        k--;
        position[w] = t.position[k]!;
        kind[w] = t.kind[k]!;
        target[w] = t.target[k]!;
      }
    }
    let count = 0;
    let end = 0;
    for (let i = 0; i < n; i++) {
      const at = position[i]!;
      if (at < end) continue;
      position[count] = at;
      kind[count] = kind[i]!;
      target[count] = target[i]!;
      count++;
      end = at + this.fieldSize[kind[i]!]!;
    }
    return { count, position: position.subarray(0, count), kind: kind.subarray(0, count), target: target.subarray(0, count) };
  }
}
