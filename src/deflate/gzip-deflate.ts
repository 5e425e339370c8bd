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
import { DeflateWindow, givesExactly, type DeflateScratch } from "./deflate-window.js";
import * as win from "./deflate-window.js";
import { GZIP_BLOCKS } from "./deflate-blocks.js";

// Module-local copies: under a CommonJS transform (tsx) every use of an import is a getter call.
const MAX_DIST = win.MAX_DIST;
const MIN_LOOKAHEAD = win.MIN_LOOKAHEAD;
const MIN_MATCH = win.MIN_MATCH;
const TOO_FAR = win.TOO_FAR;
const WINDOW_SIZE = win.WINDOW_SIZE;
const WSIZE = win.WSIZE;

/** Raw deflate of `data` as `gzip -<level>` writes it (level 1..9), from a file or a pipe. */
export function gzipDeflate(data: Uint8Array, level: number, scratch?: DeflateScratch): Uint8Array {
  return compress(new DeflateWindow(data, level, null, GZIP_BLOCKS, false, scratch));
}

/**
 * Whether `gzip -<level>` turns `data` into exactly the raw deflate stream `expected`. Stops at
 * the first block that differs, so a wrong level costs little.
 */
export function gzipDeflateMatches(data: Uint8Array, level: number, expected: Uint8Array): boolean {
  return givesExactly(() => compress(new DeflateWindow(data, level, expected, GZIP_BLOCKS, false)), expected);
}

/** The XFL byte gzip writes for a level: 4 for the fastest, 2 for the best, else 0. */
export function gzipExtraFlags(level: number): number {
  return level === 1 ? 4 : level === 9 ? 2 : 0;
}

/** The whole input as one raw deflate stream. */
function compress(s: DeflateWindow): Uint8Array {
  s.lookahead = s.read(0, WINDOW_SIZE);
  if (s.lookahead === 0) s.eof = true;
  else {
    while (s.lookahead < MIN_LOOKAHEAD && !s.eof) fillWindow(s);
    s.restartHash(0);
  }
  if (s.level <= 3) deflateGreedy(s);
  else deflateLazy(s);
  return s.output();
}

/** Slides the window when the search position nears its end, then reads into the free room. */
function fillWindow(s: DeflateWindow): void {
  let more = WINDOW_SIZE - s.lookahead - s.strstart;
  if (s.strstart >= WSIZE + MAX_DIST) {
    s.slide();
    more += WSIZE;
  }
  if (!s.eof) {
    const at = s.strstart + s.lookahead;
    const n = s.read(at, more);
    if (n === 0) {
      s.eof = true;
      // gzip clears the two bytes after the data that the last hash updates read.
      s.window.fill(0, at, at + MIN_MATCH - 1);
    } else s.lookahead += n;
  }
}

/** Levels 1..3: take the first match found; hash the positions inside short matches only. */
function deflateGreedy(s: DeflateWindow): void {
  const w = s.window;
  const blocks = s.blocks;
  let matchLength = 0;
  s.prevLength = MIN_MATCH - 1;
  while (s.lookahead !== 0) {
    const hashHead = s.insert(s.strstart);
    if (hashHead !== 0 && s.strstart - hashHead <= MAX_DIST && s.strstart <= WINDOW_SIZE - MIN_LOOKAHEAD) {
      matchLength = s.longestMatch(hashHead);
      if (matchLength > s.lookahead) matchLength = s.lookahead;
    }
    let flush: boolean;
    if (matchLength >= MIN_MATCH) {
      flush = blocks.tally(s.strstart - s.matchStart, matchLength - MIN_MATCH, s.strstart - s.blockStart);
      s.lookahead -= matchLength;
      if (matchLength <= s.maxLazy) {
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
      flush = blocks.tally(0, w[s.strstart]!, s.strstart - s.blockStart);
      s.lookahead--;
      s.strstart++;
    }
    if (flush) s.flushBlock(false);
    while (s.lookahead < MIN_LOOKAHEAD && !s.eof) fillWindow(s);
  }
  s.flushBlock(true);
}

/** Levels 4..9: a match is only taken when the next position has no longer one. */
function deflateLazy(s: DeflateWindow): void {
  const w = s.window;
  const blocks = s.blocks;
  let matchLength = MIN_MATCH - 1;
  let matchAvailable = false;
  while (s.lookahead !== 0) {
    const hashHead = s.insert(s.strstart);
    const prevLength = (s.prevLength = matchLength);
    const prevMatch = s.matchStart;
    matchLength = MIN_MATCH - 1;
    if (
      hashHead !== 0 &&
      prevLength < s.maxLazy &&
      s.strstart - hashHead <= MAX_DIST &&
      s.strstart <= WINDOW_SIZE - MIN_LOOKAHEAD
    ) {
      matchLength = s.longestMatch(hashHead);
      if (matchLength > s.lookahead) matchLength = s.lookahead;
      if (matchLength === MIN_MATCH && s.strstart - s.matchStart > TOO_FAR) matchLength--;
    }
    if (prevLength >= MIN_MATCH && matchLength <= prevLength) {
      const flush = blocks.tally(s.strstart - 1 - prevMatch, prevLength - MIN_MATCH, s.strstart - s.blockStart);
      s.lookahead -= prevLength - 1;
      let n = prevLength - 2;
      do s.insert(++s.strstart);
      while (--n !== 0);
      matchAvailable = false;
      matchLength = MIN_MATCH - 1;
      s.strstart++;
      if (flush) s.flushBlock(false);
    } else if (matchAvailable) {
      if (blocks.tally(0, w[s.strstart - 1]!, s.strstart - s.blockStart)) s.flushBlock(false);
      s.strstart++;
      s.lookahead--;
    } else {
      matchAvailable = true;
      s.strstart++;
      s.lookahead--;
    }
    while (s.lookahead < MIN_LOOKAHEAD && !s.eof) fillWindow(s);
  }
  if (matchAvailable) blocks.tally(0, w[s.strstart - 1]!, s.strstart - s.blockStart);
  s.flushBlock(true);
}
