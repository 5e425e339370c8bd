/**
 * A raw deflate compressor whose output is byte for byte that of GNU gzip (levels 1..9) when
 * gzip reads its input from a regular file. It follows gzip's deflate.c step by step: the
 * 64 KiB window filled by reads of whatever room is left, the 15-bit rolling hash with its
 * chains, the window slide at 32 KiB - 262, the unchecked third byte of a match candidate,
 * greedy matching for levels 1..3 and lazy matching for 4..9, and block ends from gzip's
 * trees.c (see deflate-blocks.ts).
 *
 * Why the window's stale bytes are kept exactly: the match search may compare past the end of
 * the data, and although a match is then cut to the data, which of two candidates won depends
 * on those bytes.
 *
 * gzip keeps calling read(2) until the room it asked for is full or the input ends, so its
 * output does not depend on how the input arrives (checked: a pipe fed 997 bytes at a time
 * gives the same bytes as a file). A read here is therefore one copy of all that fits.
 */
import { BitWriter } from "./bit-writer.js";
import { DeflateBlocks, GZIP_BLOCKS } from "./deflate-blocks.js";
import * as format from "./tables.js";

// Module-local copies of the imported constants: where the code runs through a CommonJS
// transform (the tests, tsx), each use of an import is a property getter call in the hot loop.
const MIN_MATCH = format.MIN_MATCH;
const MAX_MATCH = format.MAX_MATCH;

const WSIZE = 0x8000;
const WMASK = WSIZE - 1;
const WINDOW_SIZE = 2 * WSIZE;
const HASH_BITS = 15;
const HASH_MASK = (1 << HASH_BITS) - 1;
const H_SHIFT = 5; // (HASH_BITS + MIN_MATCH - 1) / MIN_MATCH: a byte leaves the hash after 3 steps
const MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1;
const MAX_DIST = WSIZE - MIN_LOOKAHEAD;
/** A match of length 3 further away than this is not worth its distance bits (lazy levels). */
const TOO_FAR = 4096;

/**
 * gzip's per-level search limits, which zlib shares: [good_length, max_lazy, nice_length,
 * max_chain]. For the greedy levels 1..3, max_lazy is the longest match whose positions are
 * still hashed.
 */
export const LEVELS: readonly (readonly [number, number, number, number])[] = [
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

/** Raw deflate of `data` as `gzip -<level>` writes it (level 1..9), from a file or a pipe. */
export function gzipDeflate(data: Uint8Array, level: number): Uint8Array {
  return new GzipCompressor(data, level, null).run();
}

/**
 * Whether `gzip -<level>` turns `data` into exactly the raw deflate stream `expected`. Stops at
 * the first block that differs, so a wrong level costs little.
 */
export function gzipDeflateMatches(data: Uint8Array, level: number, expected: Uint8Array): boolean {
  try {
    const out = new GzipCompressor(data, level, expected).run();
    return out.length === expected.length;
  } catch (e) {
    if (e === DIFFERS) return false;
    throw e;
  }
}

/** Thrown out of the compressor's loops when its output leaves the expected stream. */
export const DIFFERS = new Error("output differs from the expected stream");

/** The XFL byte gzip writes for a level: 4 for the fastest, 2 for the best, else 0. */
export function gzipExtraFlags(level: number): number {
  return level === 1 ? 4 : level === 9 ? 2 : 0;
}

class GzipCompressor {
  private readonly window = new Uint8Array(WINDOW_SIZE);
  /** Previous position with the same hash, indexed by position & WMASK; 0 ends a chain. */
  private readonly prev = new Uint16Array(WSIZE);
  private readonly head = new Uint16Array(1 << HASH_BITS);
  private readonly out: BitWriter;
  private readonly blocks: DeflateBlocks;
  private readonly goodMatch: number;
  private readonly maxLazy: number;
  private readonly niceMatch: number;
  private readonly maxChain: number;
  private inPos = 0;
  private insH = 0;
  private strstart = 0;
  /** Start of the current block in the window; negative once slid out of it. */
  private blockStart = 0;
  private lookahead = 0;
  private eof = false;
  private matchStart = 0;
  private prevLength = 0;
  /** Output bytes already compared with `expected`. */
  private checked = 0;

  constructor(
    private readonly input: Uint8Array,
    private readonly level: number,
    private readonly expected: Uint8Array | null,
  ) {
    if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`gzip level ${level}: 1..9`);
    [this.goodMatch, this.maxLazy, this.niceMatch, this.maxChain] = LEVELS[level]!;
    this.out = new BitWriter((input.length >>> 1) + 64);
    this.blocks = new DeflateBlocks(level, GZIP_BLOCKS, this.out);
  }

  run(): Uint8Array {
    this.lookahead = this.read(0, WINDOW_SIZE);
    if (this.lookahead === 0) this.eof = true;
    else {
      while (this.lookahead < MIN_LOOKAHEAD && !this.eof) this.fillWindow();
      this.insH = ((this.window[0]! << H_SHIFT) ^ this.window[1]!) & HASH_MASK;
    }
    if (this.level <= 3) this.deflateGreedy();
    else this.deflateLazy();
    return this.out.buf.slice(0, this.out.pos);
  }

  /** Copies up to `max` input bytes into the window at `at`, as gzip's read loop does. */
  private read(at: number, max: number): number {
    const n = Math.min(max, this.input.length - this.inPos);
    this.window.set(this.input.subarray(this.inPos, this.inPos + n), at);
    this.inPos += n;
    return n;
  }

  /** Slides the window when the search position nears its end, then reads into the free room. */
  private fillWindow(): void {
    let more = WINDOW_SIZE - this.lookahead - this.strstart;
    if (this.strstart >= WSIZE + MAX_DIST) {
      this.window.copyWithin(0, WSIZE, WINDOW_SIZE);
      this.matchStart -= WSIZE;
      this.strstart -= WSIZE;
      this.blockStart -= WSIZE;
      const head = this.head;
      for (let n = 0; n < head.length; n++) {
        const m = head[n]!;
        head[n] = m >= WSIZE ? m - WSIZE : 0;
      }
      const prev = this.prev;
      for (let n = 0; n < WSIZE; n++) {
        const m = prev[n]!;
        prev[n] = m >= WSIZE ? m - WSIZE : 0;
      }
      more += WSIZE;
    }
    if (!this.eof) {
      const at = this.strstart + this.lookahead;
      const n = this.read(at, more);
      if (n === 0) {
        this.eof = true;
        // gzip clears the two bytes after the data that the last hash updates read.
        this.window.fill(0, at, at + MIN_MATCH - 1);
      } else this.lookahead += n;
    }
  }

  /** Inserts the string at `s` into the hash chains; returns the chain's previous head. */
  private insert(s: number): number {
    const h = (this.insH = ((this.insH << H_SHIFT) ^ this.window[s + MIN_MATCH - 1]!) & HASH_MASK);
    const head = this.head[h]!;
    this.prev[s & WMASK] = head;
    this.head[h] = s;
    return head;
  }

  /**
   * Longest match at strstart along the chain from `curMatch`, longer than prevLength; sets
   * matchStart. May run past the data into stale window bytes: the caller cuts to lookahead.
   */
  private longestMatch(curMatch: number): number {
    const w = this.window;
    const prev = this.prev;
    const scan = this.strstart;
    const strend = scan + MAX_MATCH;
    let chain = this.maxChain;
    let bestLen = this.prevLength;
    const limit = scan > MAX_DIST ? scan - MAX_DIST : 0;
    const nice = this.niceMatch;
    const s0 = w[scan]!;
    const s1 = w[scan + 1]!;
    let scanEnd1 = w[scan + bestLen - 1]!;
    let scanEnd = w[scan + bestLen]!;
    if (bestLen >= this.goodMatch) chain >>= 2;
    do {
      const m = curMatch;
      if (w[m + bestLen] !== scanEnd || w[m + bestLen - 1] !== scanEnd1 || w[m] !== s0 || w[m + 1] !== s1) continue;
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
        scanEnd1 = w[scan + bestLen - 1]!;
        scanEnd = w[scan + bestLen]!;
      }
    } while ((curMatch = prev[curMatch & WMASK]!) > limit && --chain !== 0);
    return bestLen;
  }

  private flushBlock(last: boolean): void {
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

  /** Levels 1..3: take the first match found; hash the positions inside short matches only. */
  private deflateGreedy(): void {
    const w = this.window;
    const blocks = this.blocks;
    let matchLength = 0;
    this.prevLength = MIN_MATCH - 1;
    while (this.lookahead !== 0) {
      const hashHead = this.insert(this.strstart);
      if (hashHead !== 0 && this.strstart - hashHead <= MAX_DIST && this.strstart <= WINDOW_SIZE - MIN_LOOKAHEAD) {
        matchLength = this.longestMatch(hashHead);
        if (matchLength > this.lookahead) matchLength = this.lookahead;
      }
      let flush: boolean;
      if (matchLength >= MIN_MATCH) {
        flush = blocks.tally(this.strstart - this.matchStart, matchLength - MIN_MATCH, this.strstart - this.blockStart);
        this.lookahead -= matchLength;
        if (matchLength <= this.maxLazy) {
          matchLength--;
          do this.insert(++this.strstart);
          while (--matchLength !== 0);
          this.strstart++;
        } else {
          this.strstart += matchLength;
          matchLength = 0;
          this.insH = ((w[this.strstart]! << H_SHIFT) ^ w[this.strstart + 1]!) & HASH_MASK;
        }
      } else {
        flush = blocks.tally(0, w[this.strstart]!, this.strstart - this.blockStart);
        this.lookahead--;
        this.strstart++;
      }
      if (flush) this.flushBlock(false);
      while (this.lookahead < MIN_LOOKAHEAD && !this.eof) this.fillWindow();
    }
    this.flushBlock(true);
  }

  /** Levels 4..9: a match is only taken when the next position has no longer one. */
  private deflateLazy(): void {
    const w = this.window;
    const blocks = this.blocks;
    let matchLength = MIN_MATCH - 1;
    let matchAvailable = false;
    while (this.lookahead !== 0) {
      const hashHead = this.insert(this.strstart);
      const prevLength = (this.prevLength = matchLength);
      const prevMatch = this.matchStart;
      matchLength = MIN_MATCH - 1;
      if (
        hashHead !== 0 &&
        prevLength < this.maxLazy &&
        this.strstart - hashHead <= MAX_DIST &&
        this.strstart <= WINDOW_SIZE - MIN_LOOKAHEAD
      ) {
        matchLength = this.longestMatch(hashHead);
        if (matchLength > this.lookahead) matchLength = this.lookahead;
        if (matchLength === MIN_MATCH && this.strstart - this.matchStart > TOO_FAR) matchLength--;
      }
      if (prevLength >= MIN_MATCH && matchLength <= prevLength) {
        const flush = blocks.tally(this.strstart - 1 - prevMatch, prevLength - MIN_MATCH, this.strstart - this.blockStart);
        this.lookahead -= prevLength - 1;
        let n = prevLength - 2;
        do this.insert(++this.strstart);
        while (--n !== 0);
        matchAvailable = false;
        matchLength = MIN_MATCH - 1;
        this.strstart++;
        if (flush) this.flushBlock(false);
      } else if (matchAvailable) {
        if (blocks.tally(0, w[this.strstart - 1]!, this.strstart - this.blockStart)) this.flushBlock(false);
        this.strstart++;
        this.lookahead--;
      } else {
        matchAvailable = true;
        this.strstart++;
        this.lookahead--;
      }
      while (this.lookahead < MIN_LOOKAHEAD && !this.eof) this.fillWindow();
    }
    if (matchAvailable) blocks.tally(0, w[this.strstart - 1]!, this.strstart - this.blockStart);
    this.flushBlock(true);
  }
}
