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
import { DeflateWindow, givesExactly, type DeflateScratch } from "./deflate-window.js";
import * as win from "./deflate-window.js";

// Module-local copies: under a CommonJS transform (tsx) every use of an import is a getter call.
const MAX_DIST = win.MAX_DIST;
const MIN_LOOKAHEAD = win.MIN_LOOKAHEAD;
const MIN_MATCH = win.MIN_MATCH;
const TOO_FAR = win.TOO_FAR;
const WINDOW_SIZE = win.WINDOW_SIZE;
const WSIZE = win.WSIZE;

/** Raw deflate of `data` as zlib's deflate() writes it at `level` (1..9) with Z_FINISH. */
export function zlibDeflate(data: Uint8Array, level: number, scratch?: DeflateScratch): Uint8Array {
  return compress(new DeflateWindow(data, level, null, ZLIB_BLOCKS, true, scratch));
}

/** Whether zlib at `level` turns `data` into exactly `expected`; stops at the first block that differs. */
export function zlibDeflateMatches(data: Uint8Array, level: number, expected: Uint8Array): boolean {
  return givesExactly(() => compress(new DeflateWindow(data, level, expected, ZLIB_BLOCKS, true)), expected);
}

/** The whole input as one raw deflate stream. */
function compress(s: DeflateWindow): Uint8Array {
  if (s.level <= 3) deflateGreedy(s);
  else deflateLazy(s);
  return s.output();
}

/** Slides the window when needed and reads all the input that fits. */
function fillWindow(s: DeflateWindow): void {
  do {
    let more = WINDOW_SIZE - s.lookahead - s.strstart;
    if (s.strstart >= WSIZE + MAX_DIST) {
      s.slide();
      more += WSIZE;
    }
    if (s.inPos === s.input.length) break;
    s.lookahead += s.read(s.strstart + s.lookahead, more);
    // zlib restarts the rolling hash at strstart after each read (same value as rolling on).
    if (s.lookahead >= MIN_MATCH) s.restartHash(s.strstart);
  } while (s.lookahead < MIN_LOOKAHEAD && s.inPos < s.input.length);
}

function deflateGreedy(s: DeflateWindow): void {
  const w = s.window;
  const blocks = s.blocks;
  let matchLength = MIN_MATCH - 1;
  for (;;) {
    if (s.lookahead < MIN_LOOKAHEAD) {
      fillWindow(s);
      if (s.lookahead === 0) break;
    }
    let hashHead = 0;
    if (s.lookahead >= MIN_MATCH) hashHead = s.insert(s.strstart);
    if (hashHead !== 0 && s.strstart - hashHead <= MAX_DIST) matchLength = s.longestMatch(hashHead);
    let flush: boolean;
    if (matchLength >= MIN_MATCH) {
      flush = blocks.tally(s.strstart - s.matchStart, matchLength - MIN_MATCH, 0);
      s.lookahead -= matchLength;
      if (matchLength <= s.maxLazy && s.lookahead >= MIN_MATCH) {
        matchLength--;
        do s.insert(++s.strstart);
        while (--matchLength !== 0);
        s.strstart++;
      } else {
        s.strstart += matchLength;
        matchLength = 0;
        s.restartHash(s.strstart);
      }
    } else {
      flush = blocks.tally(0, w[s.strstart]!, 0);
      s.lookahead--;
      s.strstart++;
    }
    if (flush) s.flushBlock(false);
  }
  s.flushBlock(true);
}

function deflateLazy(s: DeflateWindow): void {
  const w = s.window;
  const blocks = s.blocks;
  let matchLength = MIN_MATCH - 1;
  let matchAvailable = false;
  for (;;) {
    if (s.lookahead < MIN_LOOKAHEAD) {
      fillWindow(s);
      if (s.lookahead === 0) break;
    }
    let hashHead = 0;
    if (s.lookahead >= MIN_MATCH) hashHead = s.insert(s.strstart);
    const prevLength = (s.prevLength = matchLength);
    const prevMatch = s.matchStart;
    matchLength = MIN_MATCH - 1;
    if (hashHead !== 0 && prevLength < s.maxLazy && s.strstart - hashHead <= MAX_DIST) {
      matchLength = s.longestMatch(hashHead);
      // A far match of 3 is not worth its distance bits (Z_FILTERED, not offered here, drops up to 5).
      if (matchLength === MIN_MATCH && s.strstart - s.matchStart > TOO_FAR) matchLength = MIN_MATCH - 1;
    }
    if (prevLength >= MIN_MATCH && matchLength <= prevLength) {
      const maxInsert = s.strstart + s.lookahead - MIN_MATCH;
      const flush = blocks.tally(s.strstart - 1 - prevMatch, prevLength - MIN_MATCH, 0);
      s.lookahead -= prevLength - 1;
      let n = prevLength - 2;
      do if (++s.strstart <= maxInsert) s.insert(s.strstart);
      while (--n !== 0);
      matchAvailable = false;
      matchLength = MIN_MATCH - 1;
      s.strstart++;
      if (flush) s.flushBlock(false);
    } else if (matchAvailable) {
      if (blocks.tally(0, w[s.strstart - 1]!, 0)) s.flushBlock(false);
      s.strstart++;
      s.lookahead--;
    } else {
      matchAvailable = true;
      s.strstart++;
      s.lookahead--;
    }
  }
  if (matchAvailable) blocks.tally(0, w[s.strstart - 1]!, 0);
  s.flushBlock(true);
}
