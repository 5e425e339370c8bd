/**
 * Suffix array of a byte string by induced sorting (SA-IS: Nong, Zhang and Chan, 2009), linear in
 * time. The approximate-match differ binary-searches it for the longest match of every new
 * position in the old file.
 *
 * Each text symbol carries its suffix's type in its low bit (symbol * 2 + S-type): inducing reads
 * one array at a random place instead of two, which is most of the time on large files. The first
 * level's text fits 16 bits (bytes shifted by one, a 0 sentinel), the recursion's needs 32.
 *
 * Memory: the result (4 bytes a byte, plus one for the end) and, while sorting, the 16-bit typed
 * text: about 6 bytes a source byte, which is why the generator runs it per file or per bounded
 * window, never on a whole image.
 */

type Text = Uint16Array | Int32Array;

/**
 * The suffix array of `bytes` with the empty suffix first: `sa[0] === bytes.length`, then the start
 * of every suffix in lexicographic order. Length `bytes.length + 1`.
 */
export function suffixArray(bytes: Uint8Array): Int32Array {
  const n = bytes.length + 1;
  // Shift the alphabet by one so that 0 is a unique sentinel at the end, smaller than any byte.
  const text = new Uint16Array(n);
  for (let i = 0; i < bytes.length; i++) text[i] = (bytes[i]! + 1) << 1;
  return sortSuffixes(typed(text, n), n, 257);
}

/**
 * Sets each symbol's type bit: 1 when its suffix is smaller than the next one (S-type), 0 when
 * larger (L-type); the sentinel is S-type. `text` holds symbol * 2 with the bit clear.
 */
function typed<T extends Text>(text: T, n: number): T {
  text[n - 1] = 1;
  for (let i = n - 2; i >= 0; i--) {
    const a = text[i]! >> 1;
    const b = text[i + 1]! >> 1;
    if (a < b || (a === b && (text[i + 1]! & 1) === 1)) text[i] = text[i]! | 1;
  }
  return text;
}

/** Whether position i starts a leftmost S-type suffix (an S-type one after an L-type one). */
const isLms = (text: Text, i: number): boolean => i > 0 && (text[i]! & 1) === 1 && (text[i - 1]! & 1) === 0;

/** `text` is typed (above), its last symbol the only 0 (the sentinel), every symbol below `alphabet`. */
function sortSuffixes(text: Text, n: number, alphabet: number): Int32Array {
  const sa = new Int32Array(n);
  if (n === 1) return sa;
  const counts = new Int32Array(alphabet);
  for (let i = 0; i < n; i++) counts[text[i]! >> 1]!++;
  const bucket = new Int32Array(alphabet);

  // Step 1: sort the LMS substrings by inducing from their unsorted positions.
  sa.fill(-1);
  bucketEnds(counts, bucket);
  for (let i = 1; i < n; i++) if (isLms(text, i)) sa[--bucket[text[i]! >> 1]!] = i;
  induce(text, sa, counts, bucket, n);

  // Step 2: name the sorted LMS substrings; equal substrings share a name.
  let lmsCount = 0;
  for (let i = 0; i < n; i++) if (isLms(text, sa[i]!)) sa[lmsCount++] = sa[i]!;
  sa.fill(-1, lmsCount);
  let names = 0;
  let previous = -1;
  for (let i = 0; i < lmsCount; i++) {
    const pos = sa[i]!;
    let differs = previous < 0;
    // Symbols and types compared at once: the packed values.
    for (let d = 0; !differs; d++) {
      if (text[pos + d] !== text[previous + d]) differs = true;
      else if (d > 0 && (isLms(text, pos + d) || isLms(text, previous + d))) break;
    }
    if (differs) {
      names++;
      previous = pos;
    }
    // Two LMS positions are at least two apart, so pos >> 1 is a unique slot above lmsCount.
    sa[lmsCount + (pos >> 1)] = names - 1;
  }
  const reduced = new Int32Array(lmsCount);
  for (let i = lmsCount, j = 0; i < n; i++) if (sa[i]! >= 0) reduced[j++] = sa[i]! << 1;

  // Step 3: the order of the LMS suffixes, recursively when two LMS substrings are equal.
  let reducedOrder: Int32Array;
  if (names < lmsCount) {
    reducedOrder = sortSuffixes(typed(reduced, lmsCount), lmsCount, names);
  } else {
    reducedOrder = new Int32Array(lmsCount);
    for (let i = 0; i < lmsCount; i++) reducedOrder[reduced[i]! >> 1] = i;
  }
  const lmsPositions = reduced; // reused: the names are no longer needed
  for (let i = 1, j = 0; i < n; i++) if (isLms(text, i)) lmsPositions[j++] = i;

  // Step 4: place the sorted LMS suffixes at their buckets' ends and induce the rest.
  sa.fill(-1);
  bucketEnds(counts, bucket);
  for (let i = lmsCount - 1; i >= 0; i--) {
    const pos = lmsPositions[reducedOrder[i]!]!;
    sa[--bucket[text[pos]! >> 1]!] = pos;
  }
  induce(text, sa, counts, bucket, n);
  return sa;
}

function bucketStarts(counts: Int32Array, bucket: Int32Array): void {
  let sum = 0;
  for (let c = 0; c < counts.length; c++) {
    bucket[c] = sum;
    sum += counts[c]!;
  }
}

function bucketEnds(counts: Int32Array, bucket: Int32Array): void {
  let sum = 0;
  for (let c = 0; c < counts.length; c++) {
    sum += counts[c]!;
    bucket[c] = sum;
  }
}

/** L-type suffixes from left to right, then S-type ones from right to left. */
function induce(text: Text, sa: Int32Array, counts: Int32Array, bucket: Int32Array, n: number): void {
  bucketStarts(counts, bucket);
  for (let i = 0; i < n; i++) {
    const j = sa[i]! - 1;
    if (j < 0) continue;
    const t = text[j]!;
    if ((t & 1) === 0) sa[bucket[t >> 1]!++] = j;
  }
  bucketEnds(counts, bucket);
  for (let i = n - 1; i >= 0; i--) {
    const j = sa[i]! - 1;
    if (j < 0) continue;
    const t = text[j]!;
    if ((t & 1) === 1) sa[--bucket[t >> 1]!] = j;
  }
}
