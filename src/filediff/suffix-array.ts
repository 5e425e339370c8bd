/**
 * Suffix array of a byte string by induced sorting (SA-IS: Nong, Zhang and Chan, 2009), linear in
 * time. The approximate-match differ binary-searches it for the longest match of every new
 * position in the old file.
 *
 * Memory: the result (4 bytes a byte, plus one for the end) and, while sorting, an Int32 copy of
 * the text and a type bit per byte: about 9 bytes a source byte, which is why the generator runs it
 * per file or per bounded window, never on a whole image.
 */

/**
 * The suffix array of `bytes` with the empty suffix first: `sa[0] === bytes.length`, then the start
 * of every suffix in lexicographic order. Length `bytes.length + 1`.
 */
export function suffixArray(bytes: Uint8Array): Int32Array {
  const n = bytes.length + 1;
  // Shift the alphabet by one so that 0 is a unique sentinel at the end, smaller than any byte.
  const text = new Int32Array(n);
  for (let i = 0; i < bytes.length; i++) text[i] = bytes[i]! + 1;
  return sortSuffixes(text, n, 257);
}

/** `text[n - 1]` must be 0 and appear nowhere else; every value is below `alphabet`. */
function sortSuffixes(text: Int32Array, n: number, alphabet: number): Int32Array {
  const sa = new Int32Array(n);
  if (n === 1) return sa;
  // sType[i] = 1: suffix i is smaller than suffix i+1 (S-type); 0: larger (L-type).
  const sType = new Uint8Array(n);
  sType[n - 1] = 1;
  for (let i = n - 2; i >= 0; i--) {
    const a = text[i]!;
    const b = text[i + 1]!;
    sType[i] = a < b || (a === b && sType[i + 1] === 1) ? 1 : 0;
  }
  const isLms = (i: number): boolean => i > 0 && sType[i] === 1 && sType[i - 1] === 0;
  const counts = new Int32Array(alphabet);
  for (let i = 0; i < n; i++) counts[text[i]!]!++;
  const bucket = new Int32Array(alphabet);

  // Step 1: sort the LMS substrings by inducing from their unsorted positions.
  sa.fill(-1);
  bucketEnds(counts, bucket);
  for (let i = 1; i < n; i++) if (isLms(i)) sa[--bucket[text[i]!]!] = i;
  induce(text, sa, sType, counts, bucket, n);

  // Step 2: name the sorted LMS substrings; equal substrings share a name.
  let lmsCount = 0;
  for (let i = 0; i < n; i++) if (isLms(sa[i]!)) sa[lmsCount++] = sa[i]!;
  sa.fill(-1, lmsCount);
  let names = 0;
  let previous = -1;
  for (let i = 0; i < lmsCount; i++) {
    const pos = sa[i]!;
    let differs = previous < 0;
    for (let d = 0; !differs; d++) {
      if (text[pos + d] !== text[previous + d] || sType[pos + d] !== sType[previous + d]) differs = true;
      else if (d > 0 && (isLms(pos + d) || isLms(previous + d))) break;
    }
    if (differs) {
      names++;
      previous = pos;
    }
    // Two LMS positions are at least two apart, so pos >> 1 is a unique slot above lmsCount.
    sa[lmsCount + (pos >> 1)] = names - 1;
  }
  const reduced = new Int32Array(lmsCount);
  for (let i = lmsCount, j = 0; i < n; i++) if (sa[i]! >= 0) reduced[j++] = sa[i]!;

  // Step 3: the order of the LMS suffixes, recursively when two LMS substrings are equal.
  let reducedOrder: Int32Array;
  if (names < lmsCount) {
    reducedOrder = sortSuffixes(reduced, lmsCount, names);
  } else {
    reducedOrder = new Int32Array(lmsCount);
    for (let i = 0; i < lmsCount; i++) reducedOrder[reduced[i]!] = i;
  }
  const lmsPositions = reduced; // reused: the names are no longer needed
  for (let i = 1, j = 0; i < n; i++) if (isLms(i)) lmsPositions[j++] = i;

  // Step 4: place the sorted LMS suffixes at their buckets' ends and induce the rest.
  sa.fill(-1);
  bucketEnds(counts, bucket);
  for (let i = lmsCount - 1; i >= 0; i--) {
    const pos = lmsPositions[reducedOrder[i]!]!;
    sa[--bucket[text[pos]!]!] = pos;
  }
  induce(text, sa, sType, counts, bucket, n);
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
function induce(text: Int32Array, sa: Int32Array, sType: Uint8Array, counts: Int32Array, bucket: Int32Array, n: number): void {
  bucketStarts(counts, bucket);
  for (let i = 0; i < n; i++) {
    const j = sa[i]! - 1;
    if (j >= 0 && sType[j] === 0) sa[bucket[text[j]!]!++] = j;
  }
  bucketEnds(counts, bucket);
  for (let i = n - 1; i >= 0; i--) {
    const j = sa[i]! - 1;
    if (j >= 0 && sType[j] === 1) sa[--bucket[text[j]!]!] = j;
  }
}
