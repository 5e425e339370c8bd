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
import { ZLIB_BLOCKS } from "./deflate-blocks.js";
import { DeflateWindow, MAX_DIST, MIN_LOOKAHEAD, MIN_MATCH, TOO_FAR, WINDOW_SIZE, WSIZE, givesExactly } from "./deflate-window.js";

/** Raw deflate of `data` as zlib's deflate() writes it at `level` (1..9) with Z_FINISH. */
export function zlibDeflate(data: Uint8Array, level: number): Uint8Array {
  return new ZlibCompressor(data, level, null).run();
}

/** Whether zlib at `level` turns `data` into exactly `expected`; stops at the first block that differs. */
export function zlibDeflateMatches(data: Uint8Array, level: number, expected: Uint8Array): boolean {
  return givesExactly(() => new ZlibCompressor(data, level, expected).run(), expected);
}

class ZlibCompressor extends DeflateWindow {
  constructor(input: Uint8Array, level: number, expected: Uint8Array | null) {
    super(input, level, expected, ZLIB_BLOCKS, true);
  }

  protected compress(): void {
    if (this.level <= 3) this.deflateGreedy();
    else this.deflateLazy();
  }

  /** Slides the window when needed and reads all the input that fits. */
  private fillWindow(): void {
    do {
      let more = WINDOW_SIZE - this.lookahead - this.strstart;
      if (this.strstart >= WSIZE + MAX_DIST) {
        this.slide();
        more += WSIZE;
      }
      if (this.inPos === this.input.length) break;
      this.lookahead += this.read(this.strstart + this.lookahead, more);
      // zlib restarts the rolling hash at strstart after each read (same value as rolling on).
      if (this.lookahead >= MIN_MATCH) this.restartHash(this.strstart);
    } while (this.lookahead < MIN_LOOKAHEAD && this.inPos < this.input.length);
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
          this.restartHash(this.strstart);
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
