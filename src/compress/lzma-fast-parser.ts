/**
 * The LZMA encoder's fast parser (liblzma's "fast" mode, xz presets 0-3): take the longest match
 * found, prefer a repeated distance when it is nearly as long, and look one byte ahead to prefer a
 * clearly better match starting there (lazy matching). Unlike the optimal parser
 * (lzma-optimum.ts) it needs no price tables and plans one symbol at a time.
 *
 * It names a repeated match by its index, not its distance: two repeated distances can be equal,
 * and the index it picked is the one coded.
 */
import type { MatchCursor, MatchFinder } from "./lz-match-finder.js";
import { MATCH_LEN_MAX } from "./lzma-layout.js";
import type { CoderState } from "./lzma-optimum.js";

/** What `choose` picked: a literal, a match at `dist`, or repeated match number `rep`. */
export const LITERAL_SYMBOL = 0;
export const MATCH_SYMBOL = 1;
export const REP_SYMBOL = 2;
export type SymbolKind = typeof LITERAL_SYMBOL | typeof MATCH_SYMBOL | typeof REP_SYMBOL;

/** `big` is so much farther than `small` that the shorter match at `small` is the better buy. */
function changePair(small: number, big: number): boolean {
  return big >>> 7 > small;
}

export class FastParser {
  /** The chosen symbol's length in bytes (1 for a literal). */
  len = 1;
  /** A match's zero-based distance. */
  dist = 0;
  /** A repeated match's index (0..3). */
  rep = 0;

  constructor(
    private readonly mf: MatchFinder,
    private readonly matches: MatchCursor,
    private readonly niceLen: number,
  ) {}

  private literal(): SymbolKind {
    this.len = 1;
    return LITERAL_SYMBOL;
  }

  private match(dist: number, len: number): SymbolKind {
    this.dist = dist;
    this.len = len;
    return MATCH_SYMBOL;
  }

  private repMatch(rep: number, len: number): SymbolKind {
    this.rep = rep;
    this.len = len;
    return REP_SYMBOL;
  }

  /**
   * Chooses the symbol at the coder's position `c.pos` (its repeated distances as they stand):
   * sets len, and dist or rep, and returns its kind. The match finder is moved past the symbol.
   */
  choose(c: CoderState): SymbolKind {
    const mf = this.mf;
    const w = mf.window;
    const i = c.pos - mf.base;
    const avail = Math.min(mf.end - i, MATCH_LEN_MAX);

    const matches = this.matches;
    let count = matches.next();
    const lens = matches.lens;
    const dists = matches.dists;
    if (avail < 2) return this.literal();

    // The longest repeated-distance match.
    let repLen = 0;
    let repIndex = 0;
    const history = Math.min(c.pos, i);
    for (let r = 0; r < 4; r++) {
      const d = (r === 0 ? c.rep0 : r === 1 ? c.rep1 : r === 2 ? c.rep2 : c.rep3) + 1;
      if (d > history) continue;
      const j = i - d;
      if (w[j] !== w[i] || w[j + 1] !== w[i + 1]) continue;
      let len = 2;
      while (len < avail && w[j + len] === w[i + len]) len++;
      if (len >= this.niceLen) {
        mf.skip(len - 1);
        return this.repMatch(r, len);
      }
      if (len > repLen) {
        repIndex = r;
        repLen = len;
      }
    }

    let mainLen = count > 0 ? lens[count - 1]! : 0;
    if (mainLen >= this.niceLen) {
      mf.skip(mainLen - 1);
      return this.match(dists[count - 1]!, mainLen);
    }
    let mainDist = 0;
    if (mainLen >= 2) {
      mainDist = dists[count - 1]!;
      // A match one byte shorter at a much nearer distance codes cheaper.
      while (count > 1 && mainLen === lens[count - 2]! + 1 && changePair(dists[count - 2]!, mainDist)) {
        count--;
        mainLen = lens[count - 1]!;
        mainDist = dists[count - 1]!;
      }
      if (mainLen === 2 && mainDist >= 0x80) mainLen = 1;
    }

    if (
      repLen >= 2 &&
      (repLen + 1 >= mainLen || (repLen + 2 >= mainLen && mainDist > 1 << 9) || (repLen + 3 >= mainLen && mainDist > 1 << 15))
    ) {
      mf.skip(repLen - 1);
      return this.repMatch(repIndex, repLen);
    }
    if (mainLen < 2 || avail <= 2) return this.literal();

    // Look one byte ahead: a literal now is better when a clearly better match starts there.
    const ahead = matches.next();
    if (ahead > 0) {
      const nextLen = matches.lens[ahead - 1]!;
      const nextDist = matches.dists[ahead - 1]!;
      if (
        (nextLen >= mainLen && nextDist < mainDist) ||
        (nextLen === mainLen + 1 && !changePair(mainDist, nextDist)) ||
        nextLen > mainLen + 1 ||
        (nextLen + 1 >= mainLen && mainLen >= 3 && changePair(nextDist, mainDist))
      ) {
        matches.keep(ahead); // the next step starts where they were found
        return this.literal();
      }
    }
    const limit = Math.max(mainLen - 1, 2);
    const i1 = i + 1;
    for (let r = 0; r < 4; r++) {
      const d = (r === 0 ? c.rep0 : r === 1 ? c.rep1 : r === 2 ? c.rep2 : c.rep3) + 1;
      if (d > history + 1) continue;
      const j = i1 - d;
      if (w[j] !== w[i1] || w[j + 1] !== w[i1 + 1]) continue;
      let len = 2;
      while (len < limit && w[j + len] === w[i1 + len]) len++;
      if (len >= limit) {
        matches.keep(ahead);
        return this.literal();
      }
    }
    mf.skip(mainLen - 2);
    return this.match(mainDist, mainLen);
  }
}
