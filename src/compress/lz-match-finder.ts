/**
 * What the LZMA encoder's match finders share: the sliding window over the input (positions are
 * absolute stream offsets) and the interface the parsers use. The finders: `HashChainFinder`
 * (lz-hash-chain.ts, for the fast parser) and `BinaryTreeFinder` (lz-binary-tree.ts, for the
 * optimal parser).
 */
import * as layout from "./lzma-layout.js";

// Local copies: a module loader that turns imports into property reads (tsx in the tests) would
// otherwise pay for one on every use in the hot loops.
const { MATCH_LEN_MAX } = layout;

const HASH2_SIZE = 1 << 16;
const HASH3_BITS = 16;
const GOLDEN = 0x9e3779b1 | 0;

/** How far the encoder's coding position may trail the finder (the optimal parser plans ahead). */
const PLANNED_MAX = 8192;
/** Input the window takes beyond the history it must keep (larger: fewer, bigger slides). */
const WINDOW_SLACK = 4 << 20;
/** Room after the last input byte that a window sized to its input keeps (the search reads a match's length past a position). */
const READ_PAST_END = MATCH_LEN_MAX + 8;
/** Zero bytes an input given in place (MatchFinderOptions.inPlace) must have after it in its buffer. */
export const IN_PLACE_PADDING = READ_PAST_END;
const MIN_SIZED_WINDOW = 64 << 10;

/**
 * Tables of finished finders, by size, kept for the next finder on this thread: the generator's
 * size estimates compress hundreds of small inputs one after another, and a finder's new tables
 * cost more to fault in than compressing a small input. A reused table is cleared first, so a
 * finder starts exactly as with new ones (stale entries and window bytes would change the matches:
 * the xz-encoder tests fail without it). Only tables up to SPARE_MAX are kept (a large encoder's
 * stay its own), and at most SPARE_TOTAL bytes of them.
 */
const spare = new Map<number, ArrayBuffer[]>();
const SPARE_MAX = 8 << 20;
const SPARE_TOTAL = 32 << 20;
let spareBytes = 0;
/**
 * Spare tables kept per size: a finder takes several of one size (the 2- and 3-byte prefix
 * tables always; the 4-byte one and a fast finder's chain for a 1 MiB dictionary), and keeping one
 * left the others to be made anew by every finder: 4.25 MiB of garbage per 1 MiB estimate.
 */
const SPARE_PER_SIZE = 3;

/** Bytes of spare tables this thread holds (at most SPARE_TOTAL). */
export function spareTableBytes(): number {
  return spareBytes;
}

/** `bytes` bytes of zeros: a spare table of that size, cleared, or a new one. */
function zeroedTable(bytes: number): ArrayBuffer {
  const reused = spare.get(bytes)?.pop();
  if (reused === undefined) return new ArrayBuffer(bytes);
  spareBytes -= bytes;
  new Uint8Array(reused).fill(0);
  return reused;
}

export interface MatchFinderOptions {
  /** Longest distance a match may reach back (the LZMA dictionary size). */
  dictSize: number;
  /** History the window keeps before the read position besides the dictionary (LZMA2 chunk replay). */
  keepExtra: number;
  /** A match this long is taken without looking further. */
  niceLen: number;
  /** Candidates examined per position (chain entries, or tree nodes). */
  depth: number;
  /**
   * Bytes the caller expects to append in all, if known (a hint). The window then starts that large
   * (with room for the search to read past the last byte) instead of the history plus
   * WINDOW_SLACK, which for a 1 MiB input is 6 MiB to clear and fault in; more input than expected
   * grows it to full size first (see append).
   */
  expectedInput?: number;
  /**
   * All of the input, when the caller has it in one array followed in its buffer by at least
   * IN_PLACE_PADDING zero bytes, and appends exactly its subarrays in order: that array is then
   * the window (nothing is copied into one of the finder's own: an xz part's worker holds its input
   * once instead of twice). The matches, and so the output, are the same as with a window of its own.
   */
  inPlace?: Uint8Array;
}

/** `input` with its padding as a window, or undefined when its buffer does not end in IN_PLACE_PADDING zero bytes. */
function inPlaceWindow(input: Uint8Array): Uint8Array | undefined {
  if (input.buffer.byteLength - input.byteOffset < input.length + IN_PLACE_PADDING) return undefined;
  const window = new Uint8Array(input.buffer, input.byteOffset, input.length + IN_PLACE_PADDING);
  for (let k = input.length; k < window.length; k++) if (window[k] !== 0) return undefined;
  return window;
}

export abstract class MatchFinder {
  /** The window: window[k] is stream byte `base + k`. */
  window: Uint8Array;
  base = 0;
  /** Window index one past the last byte received. */
  end = 0;
  /** Absolute position of the next byte to be looked up or skipped. */
  pos = 0;

  /**
   * options.dictSize as an int32 (callers cap it at 1.5 GiB), whatever representation it arrived
   * in: dictionaryFor's product is a double, and a subclass that derives its hot state from a
   * double (the tree's ring size and position offset, the chain's reach) computes it in floating
   * point for every position (one 8 MiB part through XzEncoder: 7.5 -> 6.7 s median of ten).
   */
  protected readonly dictSize: number;
  private readonly keep: number;
  /** The window's full size: the history kept plus WINDOW_SLACK. */
  private readonly fullWindow: number;
  protected readonly niceLen: number;
  protected readonly depth: number;
  /** The tables this finder took (zeroedTable), given back by release(). */
  private readonly tables: ArrayBuffer[] = [];
  // Newest position (in the finder's stored form) per 2-, 3- and 4-byte prefix hash.
  private readonly hash2 = new Uint32Array(this.table(4 * HASH2_SIZE));
  private readonly hash3 = new Uint32Array(this.table(4 << HASH3_BITS));
  private readonly hash4: Uint32Array;
  private readonly hash4Shift: number;
  /** What `enterPrefixes` found for the 2- and 3-byte prefixes. */
  protected prev2 = 0;
  protected prev3 = 0;

  constructor(options: MatchFinderOptions, hash4Bits: number) {
    this.dictSize = options.dictSize | 0;
    this.hash4 = new Uint32Array(this.table(4 << hash4Bits));
    this.hash4Shift = 32 - hash4Bits;
    this.keep = Math.max(options.dictSize, options.keepExtra) + PLANNED_MAX + MATCH_LEN_MAX + 8;
    this.fullWindow = this.keep + WINDOW_SLACK;
    const expected = options.expectedInput;
    // A power of two (64 KiB at least): a few sizes, so that finished finders' windows are reused.
    const fitting = expected !== undefined && expected >= 0 ? Math.max(MIN_SIZED_WINDOW, 2 ** Math.ceil(Math.log2(expected + READ_PAST_END))) : Infinity;
    const inPlace = options.inPlace === undefined ? undefined : inPlaceWindow(options.inPlace);
    this.window = inPlace ?? new Uint8Array(this.table(Math.min(this.fullWindow, fitting)));
    this.niceLen = Math.min(options.niceLen, MATCH_LEN_MAX);
    this.depth = options.depth;
  }

  /** A zeroed table of `bytes` bytes for this finder (subclasses take theirs here too). */
  protected table(bytes: number): ArrayBuffer {
    const buffer = zeroedTable(bytes);
    this.tables.push(buffer);
    return buffer;
  }

  /** Called when `window` is a new array (it grew): a subclass refreshes what it derived from it. */
  protected windowReplaced(): void {}

  /** Gives the tables to the next finder on this thread: this one is not used again. */
  release(): void {
    for (const buffer of this.tables) {
      if (buffer.byteLength > SPARE_MAX || spareBytes + buffer.byteLength > SPARE_TOTAL) continue;
      let kept = spare.get(buffer.byteLength);
      if (kept === undefined) spare.set(buffer.byteLength, (kept = []));
      if (kept.length < SPARE_PER_SIZE) {
        kept.push(buffer);
        spareBytes += buffer.byteLength;
      }
    }
    this.tables.length = 0;
  }

  /**
   * Makes `stored` the newest position for the prefixes of the 4 bytes at window index i. Leaves
   * the previous newest for 2 and 3 bytes in prev2/prev3 and returns the one for 4 bytes.
   */
  protected enterPrefixes(i: number, stored: number): number {
    const w = this.window;
    const b01 = w[i]! | (w[i + 1]! << 8);
    const word3 = b01 | (w[i + 2]! << 16);
    const h3 = Math.imul(word3, GOLDEN) >>> (32 - HASH3_BITS);
    const h4 = Math.imul(word3 | (w[i + 3]! << 24), GOLDEN) >>> this.hash4Shift;
    this.prev2 = this.hash2[b01]!;
    this.prev3 = this.hash3[h3]!;
    const head = this.hash4[h4]!;
    this.hash2[b01] = stored;
    this.hash3[h3] = stored;
    this.hash4[h4] = stored;
    return head;
  }

  /** Rewrites every stored position in the prefix tables with `f`. */
  protected remapPrefixes(f: (v: number) => number): void {
    for (const table of [this.hash2, this.hash3, this.hash4]) {
      for (let k = 0; k < table.length; k++) table[k] = f(table[k]!);
    }
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
    if (this.end === this.window.length && this.window.length < this.fullWindow) {
      // More input than expected: the window grows to the size it would have had from the start
      // (same bytes, zeros after them), before any slide, so the output is the same either way.
      const grown = new Uint8Array(this.table(this.fullWindow));
      grown.set(this.window.subarray(0, this.end));
      this.window = grown;
      this.windowReplaced();
    } else if (this.end === this.window.length) {
      const drop = this.pos - this.base - this.keep;
      if (drop > 0) {
        this.window.copyWithin(0, drop, this.end);
        this.base += drop;
        this.end -= drop;
      }
    }
    const n = Math.min(end - start, this.window.length - this.end);
    // An input given in place is already where it goes.
    const there = data.buffer === this.window.buffer && data.byteOffset + start === this.window.byteOffset + this.end;
    if (!there) this.window.set(data.subarray(start, start + n), this.end);
    this.end += n;
    return n;
  }

  /**
   * Finds matches at `pos` and advances it by one. Writes the matches in order of increasing
   * length into lens/dists (distances zero-based: 0 is the previous byte) and returns how many.
   */
  abstract find(lens: Int32Array, dists: Int32Array): number;

  /**
   * Enters the next n positions into the finder's tables without reporting matches; with a
   * `stride` above 1 only the positions that are a multiple of it (a primed history, cheaper:
   * a match into it is still found at most stride - 1 bytes after it starts).
   */
  abstract skip(n: number, stride?: number): void;
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
