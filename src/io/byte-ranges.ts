/**
 * Byte ranges of an image, [start, end) with end exclusive: as tuples where they are few (messages,
 * a filesystem's metadata) and as flat sorted pairs in a Float64Array where they are many (the
 * ranges a delta reads, free space), with one way to sort and merge each.
 */

export type ByteRange = [start: number, end: number];

/** Sorts and merges (overlapping or touching) ranges; drops empty ones. */
export function normalizeRanges(ranges: readonly ByteRange[] | Float64Array): Float64Array {
  const n = ranges instanceof Float64Array ? ranges.length >>> 1 : ranges.length;
  const order: number[] = [];
  const starts = new Float64Array(n);
  const ends = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = ranges instanceof Float64Array ? ranges[2 * i]! : ranges[i]![0];
    const e = ranges instanceof Float64Array ? ranges[2 * i + 1]! : ranges[i]![1];
    if (!(Number.isSafeInteger(s) && Number.isSafeInteger(e) && s >= 0 && e >= s)) throw new RangeError(`bad byte range [${s}, ${e})`);
    starts[i] = s;
    ends[i] = e;
    if (e > s) order.push(i);
  }
  order.sort((a, b) => starts[a]! - starts[b]!);
  const out = new Float64Array(order.length * 2);
  let k = 0;
  for (const i of order) {
    if (k > 0 && starts[i]! <= out[k - 1]!) {
      if (ends[i]! > out[k - 1]!) out[k - 1] = ends[i]!;
    } else {
      out[k++] = starts[i]!;
      out[k++] = ends[i]!;
    }
  }
  return out.slice(0, k);
}

/** Sorts and merges byte ranges (touching ones too) as tuples; empty ranges are dropped. */
export function mergeByteRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const pairs = normalizeRanges(ranges);
  const out: ByteRange[] = [];
  for (let i = 0; i < pairs.length; i += 2) out.push([pairs[i]!, pairs[i + 1]!]);
  return out;
}

/** Total bytes of flat [start, end) pairs. */
export function rangesLength(pairs: Float64Array): number {
  let n = 0;
  for (let i = 0; i + 1 < pairs.length; i += 2) n += pairs[i + 1]! - pairs[i]!;
  return n;
}

/** Index of the first of the sorted, merged flat pairs whose end is > `at` (pairs.length / 2 when none). */
export function firstRangeEndingAfter(pairs: Float64Array, at: number): number {
  let lo = 0;
  let hi = pairs.length >>> 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pairs[2 * mid + 1]! > at) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Whether [start, end) shares a byte with any of the sorted, merged flat pairs. */
export function overlapsRanges(pairs: Float64Array, start: number, end: number): boolean {
  const i = firstRangeEndingAfter(pairs, start);
  return 2 * i < pairs.length && pairs[2 * i]! < end && end > start;
}
