/**
 * A raw deflate compressor whose output is byte for byte that of upstream zlib's deflate()
 * (levels 1..9, default strategy, windowBits 15, memLevel 8) given all input at once, as
 * zlib's compress2() and Python's zlib.compress do. It shares gzip's match search, levels and
 * Huffman code, and differs where zlib's deflate.c does:
 *  - no position is hashed unless three bytes of data follow it, so matches never reach past
 *    the data and the search limits itself to what is left (nice length, returned length);
 *  - short matches (greedy levels) are hashed only while three bytes of data remain;
 *  - a block ends at 16383 symbols and never early (no "compresses well" check).
 */
import { BitWriter } from "./bit-writer.js";
import { DeflateBlocks, ZLIB_BLOCKS } from "./deflate-blocks.js";
import * as gzip from "./gzip-deflate.js";
import * as format from "./tables.js";

// Module-local copies: under a CommonJS transform (tsx) every use of an import is a getter call.
const MIN_MATCH = format.MIN_MATCH;
const MAX_MATCH = format.MAX_MATCH;
const LEVELS = gzip.LEVELS;
const DIFFERS = gzip.DIFFERS;
const WSIZE = 0x8000;
const WMASK = WSIZE - 1;
const WINDOW_SIZE = 2 * WSIZE;
const HASH_MASK = (1 << 15) - 1;
const H_SHIFT = 5;
const MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1;
const MAX_DIST = WSIZE - MIN_LOOKAHEAD;
const TOO_FAR = 4096;

/** Raw deflate of `data` as zlib's deflate() writes it at `level` (1..9) with Z_FINISH. */
export function zlibDeflate(data: Uint8Array, level: number): Uint8Array {
  return new ZlibCompressor(data, level, null).run();
}

/** Whether zlib at `level` turns `data` into exactly `expected`; stops at the first block that differs. */
export function zlibDeflateMatches(data: Uint8Array, level: number, expected: Uint8Array): boolean {
  try {
    return new ZlibCompressor(data, level, expected).run().length === expected.length;
  } catch (e) {
    if (e === DIFFERS) return false;
    throw e;
  }
}

class ZlibCompressor {
  private readonly window = new Uint8Array(WINDOW_SIZE);
  private readonly prev = new Uint16Array(WSIZE);
  private readonly head = new Uint16Array(HASH_MASK + 1);
  private readonly out: BitWriter;
  private readonly blocks: DeflateBlocks;
  private readonly goodMatch: number;
  private readonly maxLazy: number;
  private readonly niceMatch: number;
  private readonly maxChain: number;
  private inPos = 0;
  private insH = 0;
  private strstart = 0;
  private blockStart = 0;
  private lookahead = 0;
  private matchStart = 0;
  private prevLength = MIN_MATCH - 1;
  private checked = 0;

  constructor(
    private readonly input: Uint8Array,
    private readonly level: number,
    private readonly expected: Uint8Array | null,
  ) {
    if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`zlib level ${level}: 1..9`);
    [this.goodMatch, this.maxLazy, this.niceMatch, this.maxChain] = LEVELS[level]!;
    this.out = new BitWriter((input.length >>> 1) + 64);
    this.blocks = new DeflateBlocks(level, ZLIB_BLOCKS, this.out);
  }

  run(): Uint8Array {
    if (this.level <= 3) this.deflateGreedy();
    else this.deflateLazy();
    return this.out.buf.slice(0, this.out.pos);
  }

  /** Slides the window when needed and reads all the input that fits. */
  private fillWindow(): void {
    do {
      let more = WINDOW_SIZE - this.lookahead - this.strstart;
      if (this.strstart >= WSIZE + MAX_DIST) {
        this.window.copyWithin(0, WSIZE, WINDOW_SIZE);
        this.matchStart -= WSIZE;
        this.strstart -= WSIZE;
        this.blockStart -= WSIZE;
        const head = this.head;
        for (let n = 0; n < head.length; n++) head[n] = head[n]! >= WSIZE ? head[n]! - WSIZE : 0;
        const prev = this.prev;
        for (let n = 0; n < WSIZE; n++) prev[n] = prev[n]! >= WSIZE ? prev[n]! - WSIZE : 0;
        more += WSIZE;
      }
      if (this.inPos === this.input.length) break;
      const n = Math.min(more, this.input.length - this.inPos);
      this.window.set(this.input.subarray(this.inPos, this.inPos + n), this.strstart + this.lookahead);
      this.inPos += n;
      this.lookahead += n;
      // zlib restarts the rolling hash at strstart after each read (same value as rolling on).
      if (this.lookahead >= MIN_MATCH) this.insH = ((this.window[this.strstart]! << H_SHIFT) ^ this.window[this.strstart + 1]!) & HASH_MASK;
    } while (this.lookahead < MIN_LOOKAHEAD && this.inPos < this.input.length);
  }

  private insert(s: number): number {
    const h = (this.insH = ((this.insH << H_SHIFT) ^ this.window[s + MIN_MATCH - 1]!) & HASH_MASK);
    const head = this.head[h]!;
    this.prev[s & WMASK] = head;
    this.head[h] = s;
    return head;
  }

  /** gzip's search, limited to the data: nice length and the result never exceed lookahead. */
  private longestMatch(curMatch: number): number {
    const w = this.window;
    const prev = this.prev;
    const scan = this.strstart;
    const strend = scan + MAX_MATCH;
    let chain = this.maxChain;
    let bestLen = this.prevLength;
    const limit = scan > MAX_DIST ? scan - MAX_DIST : 0;
    const lookahead = this.lookahead;
    const nice = this.niceMatch > lookahead ? lookahead : this.niceMatch;
    const s0 = w[scan]!;
    const s1 = w[scan + 1]!;
    let scanEnd1 = w[scan + bestLen - 1]!;
    let scanEnd = w[scan + bestLen]!;
    if (bestLen >= this.goodMatch) chain >>= 2;
    do {
      const m = curMatch;
      if (w[m + bestLen] !== scanEnd || w[m + bestLen - 1] !== scanEnd1 || w[m] !== s0 || w[m + 1] !== s1) continue;
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
    return bestLen <= lookahead ? bestLen : lookahead;
  }

  private flushBlock(last: boolean): void {
    const start = this.blockStart;
    this.blocks.flush(this.window, start, this.strstart - start, last);
    this.blockStart = this.strstart;
    const expected = this.expected;
    if (expected) {
      const out = this.out;
      if (out.pos > expected.length) throw DIFFERS;
      for (let i = this.checked; i < out.pos; i++) if (out.buf[i] !== expected[i]) throw DIFFERS;
      this.checked = out.pos;
    }
  }

  private deflateGreedy(): void {
    const w = this.window;
    const blocks = this.blocks;
    let matchLength = MIN_MATCH - 1;
    for (;;) {
      if (this.lookahead < MIN_LOOKAHEAD) {
        this.fillWindow();
        if (this.lookahead === 0) break;
      }
      let hashHead = 0;
      if (this.lookahead >= MIN_MATCH) hashHead = this.insert(this.strstart);
      if (hashHead !== 0 && this.strstart - hashHead <= MAX_DIST) matchLength = this.longestMatch(hashHead);
      let flush: boolean;
      if (matchLength >= MIN_MATCH) {
        flush = blocks.tally(this.strstart - this.matchStart, matchLength - MIN_MATCH, 0);
        this.lookahead -= matchLength;
        if (matchLength <= this.maxLazy && this.lookahead >= MIN_MATCH) {
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
        flush = blocks.tally(0, w[this.strstart]!, 0);
        this.lookahead--;
        this.strstart++;
      }
      if (flush) this.flushBlock(false);
    }
    this.flushBlock(true);
  }

  private deflateLazy(): void {
    const w = this.window;
    const blocks = this.blocks;
    let matchLength = MIN_MATCH - 1;
    let matchAvailable = false;
    for (;;) {
      if (this.lookahead < MIN_LOOKAHEAD) {
        this.fillWindow();
        if (this.lookahead === 0) break;
      }
      let hashHead = 0;
      if (this.lookahead >= MIN_MATCH) hashHead = this.insert(this.strstart);
      const prevLength = (this.prevLength = matchLength);
      const prevMatch = this.matchStart;
      matchLength = MIN_MATCH - 1;
      if (hashHead !== 0 && prevLength < this.maxLazy && this.strstart - hashHead <= MAX_DIST) {
        matchLength = this.longestMatch(hashHead);
        // A far match of 3 is not worth its distance bits (Z_FILTERED, not offered here, drops up to 5).
        if (matchLength === MIN_MATCH && this.strstart - this.matchStart > TOO_FAR) matchLength = MIN_MATCH - 1;
      }
      if (prevLength >= MIN_MATCH && matchLength <= prevLength) {
        const maxInsert = this.strstart + this.lookahead - MIN_MATCH;
        const flush = blocks.tally(this.strstart - 1 - prevMatch, prevLength - MIN_MATCH, 0);
        this.lookahead -= prevLength - 1;
        let n = prevLength - 2;
        do if (++this.strstart <= maxInsert) this.insert(this.strstart);
        while (--n !== 0);
        matchAvailable = false;
        matchLength = MIN_MATCH - 1;
        this.strstart++;
        if (flush) this.flushBlock(false);
      } else if (matchAvailable) {
        if (blocks.tally(0, w[this.strstart - 1]!, 0)) this.flushBlock(false);
        this.strstart++;
        this.lookahead--;
      } else {
        matchAvailable = true;
        this.strstart++;
        this.lookahead--;
      }
    }
    if (matchAvailable) blocks.tally(0, w[this.strstart - 1]!, 0);
    this.flushBlock(true);
  }
}
