/**
 * A raw deflate compressor whose output is byte for byte that of GNU gzip (levels 1..9). It
 * follows gzip's deflate.c step by step (shared parts in deflate-window.ts): the
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
import {
  DeflateWindow,
  MAX_DIST,
  MIN_LOOKAHEAD,
  MIN_MATCH,
  TOO_FAR,
  WINDOW_SIZE,
  WSIZE,
  givesExactly,
} from "./deflate-window.js";
import { GZIP_BLOCKS } from "./deflate-blocks.js";

/** Raw deflate of `data` as `gzip -<level>` writes it (level 1..9), from a file or a pipe. */
export function gzipDeflate(data: Uint8Array, level: number): Uint8Array {
  return new GzipCompressor(data, level, null).run();
}

/**
 * Whether `gzip -<level>` turns `data` into exactly the raw deflate stream `expected`. Stops at
 * the first block that differs, so a wrong level costs little.
 */
export function gzipDeflateMatches(data: Uint8Array, level: number, expected: Uint8Array): boolean {
  return givesExactly(() => new GzipCompressor(data, level, expected).run(), expected);
}

/** The XFL byte gzip writes for a level: 4 for the fastest, 2 for the best, else 0. */
export function gzipExtraFlags(level: number): number {
  return level === 1 ? 4 : level === 9 ? 2 : 0;
}

class GzipCompressor extends DeflateWindow {
  private eof = false;

  constructor(input: Uint8Array, level: number, expected: Uint8Array | null) {
    super(input, level, expected, GZIP_BLOCKS, false);
  }

  protected compress(): void {
    this.lookahead = this.read(0, WINDOW_SIZE);
    if (this.lookahead === 0) this.eof = true;
    else {
      while (this.lookahead < MIN_LOOKAHEAD && !this.eof) this.fillWindow();
      this.restartHash(0);
    }
    if (this.level <= 3) this.deflateGreedy();
    else this.deflateLazy();
  }

  /** Slides the window when the search position nears its end, then reads into the free room. */
  private fillWindow(): void {
    let more = WINDOW_SIZE - this.lookahead - this.strstart;
    if (this.strstart >= WSIZE + MAX_DIST) {
      this.slide();
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
          this.restartHash(this.strstart);
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
