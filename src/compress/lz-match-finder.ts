/**
 * The LZMA encoder's match finder: a sliding window over the input with hash chains on 2-, 3-
 * and 4-byte prefixes (the "hc4" finder of liblzma's fast modes).
 *
 * Positions are absolute stream offsets. The tables store them modulo 2^32; a stale or
 * wrapped entry only costs a byte comparison, because every candidate is checked against the
 * window before it is used and distances beyond the dictionary are never followed. The chain
 * is a ring indexed by position, one slot per dictionary byte, so a slot is only overwritten
 * once its position is out of reach.
 */
import * as layout from "./lzma-layout.js";

// Local copies: a module loader that turns imports into property reads (tsx in the tests) would
// otherwise pay for one on every use in the hot loops.
const { MATCH_LEN_MAX } = layout;

const HASH2_SIZE = 1 << 16;
const HASH3_BITS = 16;
const HASH4_BITS = 20;
const GOLDEN = 0x9e3779b1 | 0;
/** How far the encoder's coding position may trail the finder (the optimal parser plans ahead). */
const PLANNED_MAX = 8192;
/** Input the window takes beyond the history it must keep (larger: fewer, bigger slides). */
const WINDOW_SLACK = 4 << 20;

export interface MatchFinderOptions {
  /** Longest distance a match may reach back (the LZMA dictionary size). */
  dictSize: number;
  /** History the window keeps before the read position besides the dictionary (LZMA2 chunk replay). */
  keepExtra: number;
  /** A match this long is taken without looking further. */
  niceLen: number;
  /** Chain entries examined per position. */
  depth: number;
}

export class MatchFinder {
  /** The window: window[k] is stream byte `base + k`. */
  window: Uint8Array;
  base = 0;
  /** Window index one past the last byte received. */
  end = 0;
  /** Absolute position of the next byte to be looked up or skipped. */
  pos = 0;

  private readonly hash2 = new Uint32Array(HASH2_SIZE);
  private readonly hash3 = new Uint32Array(1 << HASH3_BITS);
  private readonly hash4 = new Uint32Array(1 << HASH4_BITS);
  private readonly chain: Uint32Array;
  private readonly chainMask: number;
  private readonly maxDistance: number;
  private readonly keep: number;
  private readonly niceLen: number;
  private readonly depth: number;

  constructor(options: MatchFinderOptions) {
    let ring = 1;
    while (ring < options.dictSize) ring *= 2;
    this.chain = new Uint32Array(ring);
    this.chainMask = ring - 1;
    // Strictly less than the ring: the slot of a position `ring` back is the current one.
    this.maxDistance = Math.min(options.dictSize, ring - 1);
    this.keep = Math.max(options.dictSize, options.keepExtra) + PLANNED_MAX + MATCH_LEN_MAX + 8;
    this.window = new Uint8Array(this.keep + WINDOW_SLACK);
    this.niceLen = Math.min(options.niceLen, MATCH_LEN_MAX);
    this.depth = options.depth;
  }

  /** Bytes received but not yet looked up. */
  get available(): number {
    return this.end - (this.pos - this.base);
  }

  /**
   * Copies as much of data[start..end) into the window as fits (sliding the window when history
   * allows); returns how many bytes were taken.
   */
  append(data: Uint8Array, start: number, end: number): number {
    if (this.end === this.window.length) {
      const drop = this.pos - this.base - this.keep;
      if (drop > 0) {
        this.window.copyWithin(0, drop, this.end);
        this.base += drop;
        this.end -= drop;
      }
    }
    const n = Math.min(end - start, this.window.length - this.end);
    this.window.set(data.subarray(start, start + n), this.end);
    this.end += n;
    return n;
  }

  /**
   * Finds matches at `pos` and advances it by one. Writes the matches in order of increasing
   * length into lens/dists (distances zero-based: 0 is the previous byte) and returns how many.
   */
  find(lens: Int32Array, dists: Int32Array): number {
    const w = this.window;
    const i = this.pos - this.base;
    const avail = Math.min(this.end - i, MATCH_LEN_MAX);
    if (avail < 4) {
      this.pos++;
      return 0;
    }
    const cur = this.pos >>> 0;
    const b0 = w[i]!;
    const b1 = w[i + 1]!;
    const b2 = w[i + 2]!;
    const word3 = b0 | (b1 << 8) | (b2 << 16);
    const h2 = b0 | (b1 << 8);
    const h3 = Math.imul(word3, GOLDEN) >>> (32 - HASH3_BITS);
    const h4 = Math.imul(word3 | (w[i + 3]! << 24), GOLDEN) >>> (32 - HASH4_BITS);
    const d2 = (cur - this.hash2[h2]!) >>> 0;
    const d3 = (cur - this.hash3[h3]!) >>> 0;
    let candidate = this.hash4[h4]!;
    this.hash2[h2] = cur;
    this.hash3[h3] = cur;
    this.hash4[h4] = cur;
    this.chain[cur & this.chainMask] = candidate;
    this.pos++;

    const reach = Math.min(this.maxDistance, i);
    const nice = Math.min(this.niceLen, avail);
    let best = 1;
    let count = 0;
    if (d2 >= 1 && d2 <= reach && w[i - d2] === b0 && w[i - d2 + 1] === b1) {
      let len = 2;
      const j = i - d2;
      while (len < avail && w[j + len] === w[i + len]) len++;
      best = len;
      lens[count] = len;
      dists[count++] = d2 - 1;
      if (best >= nice) return count;
    }
    if (d3 !== d2 && d3 >= 1 && d3 <= reach && w[i - d3] === b0 && w[i - d3 + 1] === b1 && w[i - d3 + 2] === b2) {
      let len = 3;
      const j = i - d3;
      while (len < avail && w[j + len] === w[i + len]) len++;
      if (len > best) {
        best = len;
        lens[count] = len;
        dists[count++] = d3 - 1;
        if (best >= nice) return count;
      }
    }
    const chain = this.chain;
    const mask = this.chainMask;
    let d = (cur - candidate) >>> 0;
    for (let depth = this.depth; depth > 0 && d >= 1 && d <= reach; depth--) {
      const j = i - d;
      // The byte that would make this candidate longer than the best first: most fail there.
      if (w[j + best] === w[i + best] && w[j] === b0 && w[j + 1] === b1) {
        let len = 2;
        while (len < avail && w[j + len] === w[i + len]) len++;
        if (len > best) {
          best = len;
          lens[count] = len;
          dists[count++] = d - 1;
          if (best >= nice) break;
        }
      }
      candidate = chain[candidate & mask]!;
      const next = (cur - candidate) >>> 0;
      if (next <= d) break; // chains only go back in time; anything else is a stale slot
      d = next;
    }
    return count;
  }

  /** Enters the next n positions into the hash tables without looking for matches. */
  skip(n: number): void {
    const w = this.window;
    for (; n > 0; n--) {
      const i = this.pos - this.base;
      if (this.end - i >= 4) {
        const cur = this.pos >>> 0;
        const b0 = w[i]!;
        const b1 = w[i + 1]!;
        const word3 = b0 | (b1 << 8) | (w[i + 2]! << 16);
        const h4 = Math.imul(word3 | (w[i + 3]! << 24), GOLDEN) >>> (32 - HASH4_BITS);
        this.hash2[b0 | (b1 << 8)] = cur;
        this.hash3[Math.imul(word3, GOLDEN) >>> (32 - HASH3_BITS)] = cur;
        this.chain[cur & this.chainMask] = this.hash4[h4]!;
        this.hash4[h4] = cur;
      }
      this.pos++;
    }
  }
}

/**
 * The matches at the parser's position, from the finder or from a look-ahead the parser kept:
 * a parser that searched one position further and then stopped there hands those matches to
 * the next step instead of searching again.
 */
export class MatchCursor {
  lens = new Int32Array(MATCH_LEN_MAX + 1);
  dists = new Int32Array(MATCH_LEN_MAX + 1);
  private keptLens = new Int32Array(MATCH_LEN_MAX + 1);
  private keptDists = new Int32Array(MATCH_LEN_MAX + 1);
  private keptCount = -1;

  constructor(private readonly mf: MatchFinder) {}

  /** The matches at the finder's next position (or the kept ones) into lens/dists; returns how many. */
  next(): number {
    if (this.keptCount < 0) return this.mf.find(this.lens, this.dists);
    const count = this.keptCount;
    this.keptCount = -1;
    this.swap();
    return count;
  }

  /** Keeps the `count` matches in lens/dists for the next `next()`: the next step starts at their position. */
  keep(count: number): void {
    this.swap();
    this.keptCount = count;
  }

  private swap(): void {
    const l = this.lens;
    const d = this.dists;
    this.lens = this.keptLens;
    this.dists = this.keptDists;
    this.keptLens = l;
    this.keptDists = d;
  }
}
