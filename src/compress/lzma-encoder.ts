/**
 * The LZMA encoder core under LZMA2: the coding of literals, matches and repeated matches with the
 * adaptive model (lc=3, lp=0, pb=2), in the order one of two parsers chooses them: the optimal
 * parser (lzma-optimum.ts, mode "normal") or the fast one (lzma-fast-parser.ts, mode "fast").
 * Either way the output is a pure function of the input bytes: how the input arrives never
 * changes a bit of it.
 */
import { BinaryTreeFinder } from "./lz-binary-tree.js";
import { HashChainFinder } from "./lz-hash-chain.js";
import { MatchCursor, type MatchFinder } from "./lz-match-finder.js";
import { FastParser, LITERAL_SYMBOL, MATCH_SYMBOL } from "./lzma-fast-parser.js";
import * as layout from "./lzma-layout.js";
import { OPTS, OptimumParser } from "./lzma-optimum.js";
import { distSlot } from "./lzma-prices.js";
import { RangeEncoder } from "./range-encoder.js";

// Local copies: a module loader that turns imports into property reads (tsx in the tests) would
// otherwise pay for one on every use in the hot loops.
const { DIST_ALIGN, DIST_SLOT, DIST_SPECIAL, IS_MATCH, IS_REP, IS_REP0, IS_REP0_LONG, IS_REP1, IS_REP2, LEN_CHOICE2, LEN_HIGH, LEN_LOW, LEN_MID, LITERAL, MATCH_LEN, MATCH_LEN_MAX, PROB_INIT, PROBS_SIZE, REP_LEN, nextLiteral, nextMatch, nextRep, nextShortRep } = layout;
const PB_MASK = layout.ENCODER_PB_MASK;


export interface LzmaEncoderOptions {
  /** "normal": the optimal parser (smaller, slower); "fast": greedy with one byte of look-ahead. */
  mode: "normal" | "fast";
  dictSize: number;
  niceLen: number;
  depth: number;
  /** History kept for the caller besides the dictionary (LZMA2 replays a chunk stored raw). */
  keepExtra: number;
  /** The input's expected size, if known (MatchFinderOptions). */
  expectedInput?: number;
  /** All of the input in place (MatchFinderOptions.inPlace). */
  inPlace?: Uint8Array;
}

export class LzmaEncoder {
  readonly mf: MatchFinder;
  readonly rc = new RangeEncoder(65536 + 1024);
  /** Absolute position of the next byte to code. */
  pos = 0;

  private readonly probs = new Uint16Array(PROBS_SIZE);
  // The coder's state and repeated distances (zero-based), read by both parsers.
  state = 0;
  rep0 = 0;
  rep1 = 0;
  rep2 = 0;
  rep3 = 0;
  private readonly optimum: OptimumParser | null;
  private readonly fast: FastParser | null;
  /** Bytes after `pos` that must be in the window before `step` (unless the input has ended). */
  readonly lookahead: number;

  constructor(options: LzmaEncoderOptions) {
    // As liblzma: the optimal parser searches every position, where a binary tree pays off; the
    // fast one skips most, where a hash chain's cheap updates do.
    this.mf = options.mode === "normal" ? new BinaryTreeFinder(options) : new HashChainFinder(options);
    const matches = new MatchCursor(this.mf);
    const niceLen = Math.min(options.niceLen, MATCH_LEN_MAX);
    this.optimum = options.mode === "normal" ? new OptimumParser(this.mf, matches, this.probs, niceLen) : null;
    this.fast = options.mode === "normal" ? null : new FastParser(this.mf, matches, niceLen);
    this.lookahead = (options.mode === "normal" ? OPTS : 0) + MATCH_LEN_MAX + 2;
    this.resetState();
  }

  /** Resets the model, the state and the repeated distances (LZMA2 state reset). */
  resetState(): void {
    this.probs.fill(PROB_INIT);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
  }

  /**
   * Codes one symbol at `pos` and returns its length in bytes. The caller guarantees
   * `lookahead` bytes after `pos` are in the window, or that the input has ended.
   */
  step(): number {
    const optimum = this.optimum;
    if (optimum !== null) {
      if (optimum.seqNext === optimum.seqCount) optimum.plan(this);
      const len = optimum.seqLen[optimum.seqNext]!;
      const dist = optimum.seqDist[optimum.seqNext++]!;
      optimum.coded();
      return this.code(len, dist);
    }
    const fast = this.fast!;
    const kind = fast.choose(this);
    if (kind === LITERAL_SYMBOL) return this.literal();
    if (kind === MATCH_SYMBOL) return this.match(fast.dist, fast.len);
    return this.repMatch(fast.rep, fast.len);
  }

  /** Codes a planned symbol: a distance equal to a repeated one is coded as that rep. */
  private code(len: number, dist: number): number {
    if (dist < 0) return this.literal();
    if (len === 1) return dist === this.rep0 ? this.repMatch(0, 1) : this.literal();
    if (dist === this.rep0) return this.repMatch(0, len);
    if (dist === this.rep1) return this.repMatch(1, len);
    if (dist === this.rep2) return this.repMatch(2, len);
    if (dist === this.rep3) return this.repMatch(3, len);
    return this.match(dist, len);
  }

  private literal(): number {
    const rc = this.rc;
    const probs = this.probs;
    const w = this.mf.window;
    const i = this.pos - this.mf.base;
    const state = this.state;
    rc.bit(probs, IS_MATCH + (state << 4) + (this.pos & PB_MASK), 0);
    const prev = this.pos === 0 ? 0 : w[i - 1]!;
    const base = LITERAL + 0x300 * (prev >>> 5);
    const byte = w[i]!;
    if (state < 7) {
      rc.tree(probs, base, 8, byte);
    } else {
      // A matched literal: coded against the byte at rep0 until the first differing bit.
      const matchByte = w[i - this.rep0 - 1]!;
      let m = 1;
      let k = 7;
      for (; k >= 0; k--) {
        const matchBit = (matchByte >>> k) & 1;
        const b = (byte >>> k) & 1;
        rc.bit(probs, base + 0x100 + (matchBit << 8) + m, b);
        m = (m << 1) | b;
        if (matchBit !== b) {
          k--;
          break;
        }
      }
      for (; k >= 0; k--) {
        const b = (byte >>> k) & 1;
        rc.bit(probs, base + m, b);
        m = (m << 1) | b;
      }
    }
    this.state = nextLiteral(state);
    this.pos++;
    return 1;
  }

  private length(coder: number, len: number, posState: number): void {
    const rc = this.rc;
    const probs = this.probs;
    const l = len - 2;
    if (l < 8) {
      rc.bit(probs, coder, 0);
      rc.tree(probs, coder + LEN_LOW + (posState << 3), 3, l);
    } else if (l < 16) {
      rc.bit(probs, coder, 1);
      rc.bit(probs, coder + LEN_CHOICE2, 0);
      rc.tree(probs, coder + LEN_MID + (posState << 3), 3, l - 8);
    } else {
      rc.bit(probs, coder, 1);
      rc.bit(probs, coder + LEN_CHOICE2, 1);
      rc.tree(probs, coder + LEN_HIGH, 8, l - 16);
    }
  }

  /** A match at zero-based distance `dist`. */
  private match(dist: number, len: number): number {
    const rc = this.rc;
    const probs = this.probs;
    const posState = this.pos & PB_MASK;
    const state = this.state;
    rc.bit(probs, IS_MATCH + (state << 4) + posState, 1);
    rc.bit(probs, IS_REP + state, 0);
    this.length(MATCH_LEN, len, posState);
    const lenState = len < 5 ? len - 2 : 3;
    const slot = distSlot(dist);
    rc.tree(probs, DIST_SLOT + (lenState << 6), 6, slot);
    if (slot >= 4) {
      const footer = (slot >>> 1) - 1;
      const base = (2 | (slot & 1)) << footer;
      const reduced = dist - base;
      if (slot < 14) {
        rc.reverseTree(probs, DIST_SPECIAL + base - slot - 1, footer, reduced);
      } else {
        rc.direct(reduced >>> 4, footer - 4);
        rc.reverseTree(probs, DIST_ALIGN, 4, reduced & 15);
      }
    }
    this.rep3 = this.rep2;
    this.rep2 = this.rep1;
    this.rep1 = this.rep0;
    this.rep0 = dist;
    this.state = nextMatch(state);
    this.pos += len;
    return len;
  }

  /** A match at repeated distance number r (0..3); len 1 is the "short rep" of rep0. */
  private repMatch(r: number, len: number): number {
    const rc = this.rc;
    const probs = this.probs;
    const posState = this.pos & PB_MASK;
    const state = this.state;
    rc.bit(probs, IS_MATCH + (state << 4) + posState, 1);
    rc.bit(probs, IS_REP + state, 1);
    if (r === 0) {
      rc.bit(probs, IS_REP0 + state, 0);
      rc.bit(probs, IS_REP0_LONG + (state << 4) + posState, len === 1 ? 0 : 1);
    } else {
      rc.bit(probs, IS_REP0 + state, 1);
      let dist: number;
      if (r === 1) {
        rc.bit(probs, IS_REP1 + state, 0);
        dist = this.rep1;
      } else {
        rc.bit(probs, IS_REP1 + state, 1);
        rc.bit(probs, IS_REP2 + state, r === 3 ? 1 : 0);
        if (r === 3) {
          dist = this.rep3;
          this.rep3 = this.rep2;
        } else {
          dist = this.rep2;
        }
        this.rep2 = this.rep1;
      }
      this.rep1 = this.rep0;
      this.rep0 = dist;
    }
    if (len === 1) {
      this.state = nextShortRep(state);
    } else {
      this.length(REP_LEN, len, posState);
      this.state = nextRep(state);
    }
    this.pos += len;
    return len;
  }
}
