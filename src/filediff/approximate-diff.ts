/**
 * Approximate-match differencing of one new file against one old file, in the manner of bsdiff
 * (Percival, "Naive differences of executable code", 2003): the new file is covered by stretches
 * that are "mostly equal" to a stretch of the old file, stored as byte differences (new - old,
 * mod 256), and by literal bytes in between. A recompiled binary differs from its old build in a
 * scatter of shifted addresses; exact-match copies (VCDIFF) break at every one of them, while the
 * difference stream of an approximate match is mostly zeros and compresses to little.
 *
 * Output is three streams, kept apart because each compresses best alone:
 * - control: per stretch, three varints (VCDIFF's code, vcdiff/format/varint.ts): difference length, literal length, and the signed seek of
 *   the old position after it (zig-zag coded);
 * - differences: the bytes of every difference stretch, in order;
 * - literals: the bytes of every literal stretch, in order.
 */
import { writeVarint, varintLength } from "../vcdiff/format/varint";
import { ByteCursor, VarintProblem } from "../vcdiff/format/varint-reader";
import { suffixArray } from "./suffix-array";

/** A diff that would read or write out of range, or whose streams do not add up: refused. */
export class ApproximateDiffError extends Error {}

export interface ApproximateDiff {
  control: Uint8Array;
  differences: Uint8Array;
  literals: Uint8Array;
}

/** Grows a byte buffer as bytes are appended (amortised doubling). */
export class ByteBuilder {
  private buf: Uint8Array;
  length = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }
  private reserve(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + extra));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  push(byte: number): void {
    this.reserve(1);
    this.buf[this.length++] = byte;
  }
  append(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  /** A VCDIFF varint (RFC 3284 section 2), the one integer code of every delta format here. */
  varint(value: number): void {
    this.reserve(varintLength(value));
    this.length = writeVarint(this.buf, this.length, value);
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** A signed seek as the control stream codes it (0, -1, 1, -2, ... as 0, 1, 2, 3, ...). */
export function zigzag(value: number): number {
  return value < 0 ? -2 * value - 1 : 2 * value;
}

function unzigzag(value: number): number {
  return value % 2 === 1 ? -(value + 1) / 2 : value / 2;
}

/**
 * Matches are measured up to this many bytes. Without a cap, a long run that both files hold at
 * different alignments (zero padding between segments) costs the scan, which looks for a match at
 * every position of it, a comparison as long as the rest of the run for every step of every
 * binary search: quadratic (an arm64 program with 64 KiB of padding took 55 s). A match this long
 * is taken anyway; the next search goes on where it stops.
 */
const MAX_MATCH = 1 << 12;

/** Length of the common prefix of old[oldPos..] and neu[newPos..], at most MAX_MATCH. */
function commonPrefix(old: Uint8Array, oldPos: number, neu: Uint8Array, newPos: number): number {
  const limit = Math.min(old.length - oldPos, neu.length - newPos, MAX_MATCH);
  let i = 0;
  while (i < limit && old[oldPos + i] === neu[newPos + i]) i++;
  return i;
}

/**
 * Where each two-byte prefix's suffixes start in old's suffix array: starts[k] is the first index
 * whose suffix begins with bytes >= (k >> 8, k & 255), starts[65536] the array's length. A
 * one-byte suffix "a" counts as (a - 1, 255): after every suffix below it, before "a" followed by
 * anything. The binary search of a match then starts inside its prefix's range (a few steps
 * instead of ~22 on a 4 MiB file) and ends at the same place as a search of the whole array.
 */
function prefixStarts(sa: Int32Array, old: Uint8Array): Int32Array {
  const starts = new Int32Array(65537);
  let k = 0;
  // sa[0] is the empty suffix, below every key.
  for (let i = 1; i < sa.length; i++) {
    const p = sa[i]!;
    const key = p + 1 < old.length ? (old[p]! << 8) | old[p + 1]! : (old[p]! << 8) - 1;
    while (k <= key) starts[k++] = i;
  }
  while (k <= 65536) starts[k++] = sa.length;
  return starts;
}

/**
 * The longest exact match of neu[newPos..] in old, by binary search over old's suffix array.
 * Returns the length; the position is left in `found[0]`.
 *
 * Suffixes are compared over their first MAX_MATCH bytes at most (equal that far: not less). Each
 * comparison starts past the bytes both bounds of the search are known to share with neu[newPos..]
 * (every suffix between them shares those too, the array being sorted), so a long match is not
 * compared again from its start at every step; the bounds' common lengths are then the answer.
 */
function longestMatch(sa: Int32Array, starts: Int32Array, old: Uint8Array, neu: Uint8Array, newPos: number, found: Int32Array): number {
  let lo = 0;
  let hi = sa.length - 1;
  if (newPos + 1 < neu.length) {
    // Every suffix before the prefix's range sorts below neu[newPos..], every one after it above.
    const key = (neu[newPos]! << 8) | neu[newPos + 1]!;
    lo = starts[key]! - 1;
    hi = Math.min(starts[key + 1]!, sa.length - 1);
  }
  // Bytes sa[lo]'s and sa[hi]'s suffixes share with neu[newPos..]: -1 until compared.
  let loCommon = -1;
  let hiCommon = -1;
  const newLeft = neu.length - newPos;
  while (hi - lo >= 2) {
    const mid = lo + ((hi - lo) >> 1);
    const p = sa[mid]!;
    const limit = Math.min(old.length - p, newLeft);
    const n = Math.min(limit, MAX_MATCH);
    let i = Math.max(0, Math.min(loCommon, hiCommon));
    while (i < n && old[p + i] === neu[newPos + i]) i++;
    const less = i < n ? old[p + i]! < neu[newPos + i]! : n === limit && old.length - p < newLeft;
    if (less) {
      lo = mid;
      loCommon = i;
    } else {
      hi = mid;
      hiCommon = i;
    }
  }
  const a = loCommon >= 0 ? loCommon : commonPrefix(old, sa[lo]!, neu, newPos);
  const b = hiCommon >= 0 ? hiCommon : commonPrefix(old, sa[hi]!, neu, newPos);
  if (a >= b) {
    found[0] = sa[lo]!;
    return a;
  }
  found[0] = sa[hi]!;
  return b;
}

/** A new match must beat the current alignment by this many bytes to start a new stretch. */
const SWITCH_GAIN = 8;

/** Differences `neu` against `old`. */
export function approximateDiff(old: Uint8Array, neu: Uint8Array): ApproximateDiff {
  const sa = suffixArray(old);
  const starts = prefixStarts(sa, old);
  const control = new ByteBuilder(64);
  const differences = new ByteBuilder(neu.length);
  const literals = new ByteBuilder(neu.length >> 3);
  const found = new Int32Array(1);

  let scan = 0;
  let matchLen = 0;
  let matchPos = 0;
  let lastScan = 0;
  let lastPos = 0;
  let lastOffset = 0;
  while (scan < neu.length) {
    // Walk forward until an exact match is found that the current alignment (lastOffset) does not
    // already explain: the bytes it would match at the old alignment are counted in `oldScore`.
    let oldScore = 0;
    scan += matchLen;
    let scored = scan;
    while (scan < neu.length) {
      matchLen = longestMatch(sa, starts, old, neu, scan, found);
      matchPos = found[0]!;
      for (; scored < scan + matchLen; scored++) {
        const o = scored + lastOffset;
        if (o >= 0 && o < old.length && old[o] === neu[scored]) oldScore++;
      }
      if ((matchLen === oldScore && matchLen !== 0) || matchLen > oldScore + SWITCH_GAIN) break;
      const o = scan + lastOffset;
      if (o >= 0 && o < old.length && old[o] === neu[scan]) oldScore--;
      scan++;
    }
    if (matchLen === oldScore && scan !== neu.length) continue;

    // Extend the previous alignment forward from lastScan, and the new one backward from scan, as
    // far as each keeps more than half its bytes equal.
    let forward = 0;
    for (let i = 0, equal = 0, best = 0; lastScan + i < scan && lastPos + i < old.length; ) {
      if (old[lastPos + i] === neu[lastScan + i]) equal++;
      i++;
      if (equal * 2 - i > best * 2 - forward) {
        best = equal;
        forward = i;
      }
    }
    let backward = 0;
    if (scan < neu.length) {
      for (let i = 1, equal = 0, best = 0; scan >= lastScan + i && matchPos >= i; i++) {
        if (old[matchPos - i] === neu[scan - i]) equal++;
        if (equal * 2 - i > best * 2 - backward) {
          best = equal;
          backward = i;
        }
      }
    }
    // Where the two extensions overlap, split at the point that keeps the most equal bytes.
    if (lastScan + forward > scan - backward) {
      const overlap = lastScan + forward - (scan - backward);
      let score = 0;
      let bestScore = 0;
      let split = 0;
      for (let i = 0; i < overlap; i++) {
        if (neu[lastScan + forward - overlap + i] === old[lastPos + forward - overlap + i]) score++;
        if (neu[scan - backward + i] === old[matchPos - backward + i]) score--;
        if (score > bestScore) {
          bestScore = score;
          split = i + 1;
        }
      }
      forward += split - overlap;
      backward -= split;
    }

    for (let i = 0; i < forward; i++) differences.push((neu[lastScan + i]! - old[lastPos + i]!) & 0xff);
    const literalStart = lastScan + forward;
    const literalEnd = scan - backward;
    literals.append(neu.subarray(literalStart, literalEnd));
    control.varint(forward);
    control.varint(literalEnd - literalStart);
    control.varint(zigzag(matchPos - backward - (lastPos + forward)));

    lastScan = scan - backward;
    lastPos = matchPos - backward;
    lastOffset = matchPos - scan;
  }
  return { control: control.bytes(), differences: differences.bytes(), literals: literals.bytes() };
}

/**
 * Walks a diff's stretches in order, each checked before it is returned: it reads inside `old`,
 * writes inside the new file and finds its bytes in the streams. After next() returned true, the
 * fields describe the stretch: diffLength bytes made from old[oldPos..] and differences[dPos..]
 * into out[outPos..], then literalLength bytes of literals[lPos..]. finish() checks that the diff
 * made exactly the declared length and used every stream byte.
 */
export class StretchReader {
  outPos = 0;
  oldPos = 0;
  dPos = 0;
  lPos = 0;
  diffLength = 0;
  literalLength = 0;
  private seek = 0;
  private readonly control: ByteCursor;

  constructor(
    private readonly oldLength: number,
    private readonly diff: ApproximateDiff,
    private readonly newLength: number,
  ) {
    this.control = new ByteCursor(diff.control, 0, diff.control.length);
  }

  private varint(): number {
    try {
      return this.control.offset();
    } catch (err) {
      if (!(err instanceof VarintProblem)) throw err;
      throw new ApproximateDiffError(
        err.kind === "truncated" ? "approximate diff: the control stream ends inside a value" : "approximate diff: a control value is too large",
      );
    }
  }

  next(): boolean {
    this.outPos += this.diffLength + this.literalLength;
    this.oldPos += this.diffLength + this.seek;
    this.dPos += this.diffLength;
    this.lPos += this.literalLength;
    this.diffLength = this.literalLength = 0;
    if (this.control.remaining === 0) return false;
    const diffLen = this.varint();
    const literalLen = this.varint();
    this.seek = unzigzag(this.varint());
    if (this.outPos + diffLen + literalLen > this.newLength) throw new ApproximateDiffError("approximate diff: writes past the declared length");
    if (this.oldPos < 0 || this.oldPos + diffLen > this.oldLength) throw new ApproximateDiffError("approximate diff: reads outside the old file");
    if (this.dPos + diffLen > this.diff.differences.length || this.lPos + literalLen > this.diff.literals.length) {
      throw new ApproximateDiffError("approximate diff: a stream ends early");
    }
    this.diffLength = diffLen;
    this.literalLength = literalLen;
    return true;
  }

  finish(): void {
    const { differences, literals } = this.diff;
    if (this.outPos !== this.newLength) throw new ApproximateDiffError(`approximate diff: produced ${this.outPos} bytes, ${this.newLength} declared`);
    if (this.dPos !== differences.length || this.lPos !== literals.length) {
      throw new ApproximateDiffError(
        `approximate diff: ${differences.length - this.dPos} difference and ${literals.length - this.lPos} literal bytes left unused`,
      );
    }
  }
}

/**
 * Rebuilds the new file from `old` and a diff; throws ApproximateDiffError on a diff that reads or
 * writes out of range. `into` may hold the differences stream at its end (differences =
 * into.subarray(literals.length)): every output byte lands at or before the difference byte it is
 * made from, so the diff applies in place.
 */
export function applyApproximateDiff(old: Uint8Array, diff: ApproximateDiff, newLength: number, into?: Uint8Array): Uint8Array {
  if (into && into.length !== newLength) throw new RangeError(`the output buffer is ${into.length} bytes, the diff makes ${newLength}`);
  const out = into ?? new Uint8Array(newLength);
  const { differences, literals } = diff;
  const s = new StretchReader(old.length, diff, newLength);
  while (s.next()) {
    const { outPos, oldPos, dPos, diffLength } = s;
    for (let i = 0; i < diffLength; i++) out[outPos + i] = (old[oldPos + i]! + differences[dPos + i]!) & 0xff;
    out.set(literals.subarray(s.lPos, s.lPos + s.literalLength), outPos + diffLength);
  }
  s.finish();
  return out;
}

/**
 * The diff of `neu` against `old` along the stretches of `control` (found by another diff, e.g. of
 * transformed bytes): its difference and literal streams taken from these two files. Throws
 * ApproximateDiffError when the control does not describe exactly `neu.length` bytes.
 */
export function diffAlong(control: Uint8Array, old: Uint8Array, neu: Uint8Array): ApproximateDiff {
  // First pass: the streams' lengths (only lengths are checked against the placeholders).
  const placeholder = { control, differences: neu, literals: neu };
  let differencesLength = 0;
  let s = new StretchReader(old.length, placeholder, neu.length);
  while (s.next()) differencesLength += s.diffLength;
  if (s.outPos !== neu.length) throw new ApproximateDiffError(`approximate diff: produced ${s.outPos} bytes, ${neu.length} declared`);
  const differences = new Uint8Array(differencesLength);
  const literals = new Uint8Array(neu.length - differencesLength);
  s = new StretchReader(old.length, placeholder, neu.length);
  while (s.next()) {
    const { outPos, oldPos, dPos, diffLength } = s;
    for (let i = 0; i < diffLength; i++) differences[dPos + i] = (neu[outPos + i]! - old[oldPos + i]!) & 0xff;
    literals.set(neu.subarray(outPos + diffLength, outPos + diffLength + s.literalLength), s.lPos);
  }
  return { control, differences, literals };
}
