/**
 * What GNU gzip's and zlib's deflate share: the 64 KiB window over the input, the 15-bit hash
 * chains, the window slide, the match search, the per-level limits, and the block output with
 * an optional comparison against an expected stream. gzip-deflate.ts and zlib-deflate.ts add
 * their own window filling and matching loops.
 */
import { BitWriter } from "./bit-writer.js";
import { type BlockRules, DeflateBlocks } from "./deflate-blocks.js";
import * as format from "./tables.js";

// Module-local copies: under a CommonJS transform (tsx) every use of an import is a getter call.
export const MIN_MATCH = format.MIN_MATCH;
export const MAX_MATCH = format.MAX_MATCH;
export const WSIZE = 0x8000;
export const WMASK = WSIZE - 1;
export const WINDOW_SIZE = 2 * WSIZE;
const HASH_BITS = 15;
export const HASH_MASK = (1 << HASH_BITS) - 1;
/** (HASH_BITS + MIN_MATCH - 1) / MIN_MATCH: a byte leaves the hash after 3 steps. */
export const H_SHIFT = 5;
export const MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1;
export const MAX_DIST = WSIZE - MIN_LOOKAHEAD;
/** A match of length 3 further away than this is not worth its distance bits (lazy levels). */
export const TOO_FAR = 4096;

/**
 * The per-level search limits of both gzip and zlib: [good_length, max_lazy, nice_length,
 * max_chain]. For the greedy levels 1..3, max_lazy is the longest match whose positions are
 * still hashed.
 */
const LEVELS: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 0, 0],
  [4, 4, 8, 4],
  [4, 5, 16, 8],
  [4, 6, 32, 32],
  [4, 4, 16, 16],
  [8, 16, 32, 32],
  [8, 16, 128, 128],
  [8, 32, 128, 256],
  [32, 128, 258, 1024],
  [32, 258, 258, 4096],
];

/** Thrown out of a compressor's loops when its output leaves the expected stream. */
const DIFFERS = new Error("output differs from the expected stream");

/** Runs `compress` and says whether it gave exactly `expected` (it stops at the first difference). */
export function givesExactly(compress: () => Uint8Array, expected: Uint8Array): boolean {
  try {
    return compress().length === expected.length;
  } catch (e) {
    if (e === DIFFERS) return false;
    throw e;
  }
}

/** The largest symbol buffer of any block rules (gzip's LIT_BUFSIZE). */
const MAX_SYMBOL_BUFFER = 0x8000;

/**
 * The compressor's large arrays, kept from one stream to the next by a caller that compresses
 * many (the device rebuilding hundreds of .gz files): fresh ones each time would pile up as
 * garbage faster than it is collected. Each stream starts from them cleared, exactly as from new
 * arrays (the window's stale bytes decide matches, so they must be zeros as in a fresh one).
 */
export class DeflateScratch {
  readonly window = new Uint8Array(WINDOW_SIZE);
  readonly prev = new Uint16Array(WSIZE);
  readonly head = new Uint16Array(1 << HASH_BITS);
  readonly symLc = new Uint8Array(MAX_SYMBOL_BUFFER);
  readonly symDist = new Uint16Array(MAX_SYMBOL_BUFFER);
  readonly out = new BitWriter(64);

  /** The arrays, cleared for a new stream, and the writer, empty with room for `capacity` bytes. */
  take(capacity: number): this {
    this.window.fill(0);
    this.prev.fill(0);
    this.head.fill(0);
    this.out.reset(capacity);
    return this;
  }
}

/**
 * The compressor's state. One concrete class for both gzip's and zlib's loops (functions over
 * it): with a subclass each, the shared methods see two object shapes and run about half as fast.
 */
export class DeflateWindow {
  readonly window: Uint8Array;
  /** The window read two bytes at a time by the match search (one load where gzip compares a ush). */
  private readonly view: DataView;
  /** Previous position with the same hash, indexed by position & WMASK; 0 ends a chain. */
  readonly prev: Uint16Array;
  readonly head: Uint16Array;
  readonly out: BitWriter;
  readonly blocks: DeflateBlocks;
  readonly goodMatch: number;
  readonly maxLazy: number;
  readonly niceMatch: number;
  readonly maxChain: number;
  inPos = 0;
  insH = 0;
  strstart = 0;
  /** Start of the current block in the window; negative once slid out of it. */
  blockStart = 0;
  lookahead = 0;
  matchStart = 0;
  prevLength = MIN_MATCH - 1;
  /** gzip: the input is all read. */
  eof = false;
  /** Output bytes already compared with `expected`. */
  private checked = 0;

  /**
   * `limitToData`: zlib never lets the search reach past the data (nice length and result cut
   * to lookahead); gzip searches on into stale window bytes and its caller cuts the result.
   */
  constructor(
    readonly input: Uint8Array,
    readonly level: number,
    private readonly expected: Uint8Array | null,
    rules: BlockRules,
    private readonly limitToData: boolean,
    scratch?: DeflateScratch,
  ) {
    if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`deflate level ${level}: 1..9`);
    [this.goodMatch, this.maxLazy, this.niceMatch, this.maxChain] = LEVELS[level]!;
    const capacity = (input.length >>> 1) + 64;
    const arrays = scratch?.take(capacity);
    this.window = arrays?.window ?? new Uint8Array(WINDOW_SIZE);
    this.view = new DataView(this.window.buffer, this.window.byteOffset, this.window.byteLength);
    this.prev = arrays?.prev ?? new Uint16Array(WSIZE);
    this.head = arrays?.head ?? new Uint16Array(1 << HASH_BITS);
    this.out = arrays?.out ?? new BitWriter(capacity);
    this.blocks = new DeflateBlocks(level, rules, this.out, arrays);
  }

  /** The raw deflate stream written so far. */
  output(): Uint8Array {
    return this.out.buf.slice(0, this.out.pos);
  }

  /** Moves the upper half of the window down and the hash chains with it. */
  slide(): void {
    this.window.copyWithin(0, WSIZE, WINDOW_SIZE);
    this.matchStart -= WSIZE;
    this.strstart -= WSIZE;
    this.blockStart -= WSIZE;
    // One loop over both tables (each of WSIZE entries): the first call is compiled on the stack
    // inside its loop, and code after that loop, never run before, has no type feedback; with a
    // second loop there, every slide left the compiled code (B's Download: 25 times a decode).
    const head = this.head;
    const prev = this.prev;
    for (let n = 0; n < WSIZE; n++) {
      const h = head[n]!;
      head[n] = h >= WSIZE ? h - WSIZE : 0;
      const p = prev[n]!;
      prev[n] = p >= WSIZE ? p - WSIZE : 0;
    }
  }

  /** Copies up to `max` input bytes into the window at `at`. */
  read(at: number, max: number): number {
    const n = Math.min(max, this.input.length - this.inPos);
    this.window.set(this.input.subarray(this.inPos, this.inPos + n), at);
    this.inPos += n;
    return n;
  }

  /** Restarts the rolling hash at `s` (its first two bytes). */
  restartHash(s: number): void {
    this.insH = ((this.window[s]! << H_SHIFT) ^ this.window[s + 1]!) & HASH_MASK;
  }

  /** Inserts the string at `s` into the hash chains; returns the chain's previous head. */
  insert(s: number): number {
    const h = (this.insH = ((this.insH << H_SHIFT) ^ this.window[s + MIN_MATCH - 1]!) & HASH_MASK);
    const head = this.head[h]!;
    this.prev[s & WMASK] = head;
    this.head[h] = s;
    return head;
  }

  /** Longest match at strstart along the chain from `curMatch`, longer than prevLength; sets matchStart. */
  longestMatch(curMatch: number): number {
    const w = this.window;
    const prev = this.prev;
    const scan = this.strstart;
    const strend = scan + MAX_MATCH;
    const lookahead = this.lookahead;
    let chain = this.maxChain;
    let bestLen = this.prevLength;
    const limit = scan > MAX_DIST ? scan - MAX_DIST : 0;
    const nice = this.limitToData && this.niceMatch > lookahead ? lookahead : this.niceMatch;
    const dv = this.view;
    const scanStart = dv.getUint16(scan, true);
    let scanEnd = dv.getUint16(scan + bestLen - 1, true);
    if (bestLen >= this.goodMatch) chain >>= 2;
    do {
      const m = curMatch;
      if (dv.getUint16(m + bestLen - 1, true) !== scanEnd || dv.getUint16(m, true) !== scanStart) continue;
      // The third byte is not compared: equal hashes and equal first two bytes imply it
      // (except past the data, where gzip's answer is what we reproduce).
      let p = scan + 3;
      let q = m + 3;
      while (p < strend && w[p] === w[q]) p++, q++;
      const len = p - scan;
      if (len > bestLen) {
        this.matchStart = m;
        bestLen = len;
        if (len >= nice) break;
        scanEnd = dv.getUint16(scan + bestLen - 1, true);
      }
    } while ((curMatch = prev[curMatch & WMASK]!) > limit && --chain !== 0);
    return this.limitToData && bestLen > lookahead ? lookahead : bestLen;
  }

  /** Writes the block from blockStart to strstart; with an expected stream, stops at a difference. */
  flushBlock(last: boolean): void {
    const start = this.blockStart;
    this.blocks.flush(this.window, start, this.strstart - start, last);
    this.blockStart = this.strstart;
    const expected = this.expected;
    if (expected) {
      // Bits of a partial last byte stay in the writer, so every byte in its buffer is final.
      const out = this.out;
      const end = out.pos;
      if (end > expected.length) throw DIFFERS;
      for (let i = this.checked; i < end; i++) if (out.buf[i] !== expected[i]) throw DIFFERS;
      this.checked = end;
    }
  }
}
