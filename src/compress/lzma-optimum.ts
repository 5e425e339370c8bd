/**
 * The LZMA encoder's optimal parser (liblzma's "normal" mode): from the current position it
 * prices every way of coding the next bytes (literal, short rep, repeated-distance matches of
 * every length, found matches of every length) as a shortest-path problem over up to OPTS
 * positions, with the model's states and repeated distances carried along each path, and
 * returns the cheapest sequence of symbols.
 *
 * The sequence is handed over as (length, distance) pairs, not as rep indexes: the encoder
 * turns a distance back into a rep index when it equals one of its repeated distances. So an
 * LZMA2 state reset between planning and coding (which clears those distances) only makes a
 * symbol a little dearer, never wrong.
 */
import type { MatchCursor, MatchFinder } from "./lz-match-finder.js";
import * as layout from "./lzma-layout.js";
import * as pricing from "./lzma-prices.js";

// Local copies: a module loader that turns imports into property reads (tsx in the tests) would
// otherwise pay for one on every use in the hot loops.
const { IS_MATCH, IS_REP, MATCH_LEN_MAX, nextLiteral, nextMatch, nextRep, nextShortRep } = layout;
const { INFINITY_PRICE, LzmaPrices, price0, price1 } = pricing;

/** Positions planned at most in one go; also the look-ahead the caller must provide. */
export const OPTS = 4096;
const REFRESH_SYMBOLS = 256;
const PB_MASK = layout.ENCODER_PB_MASK;

const STEP_ONE = 0;
const STEP_LIT_REP0 = 1;
const STEP_SYM_LIT_REP0 = 2;

/** What the parser plans from: the coder's position, state and repeated distances. */
export interface CoderState {
  pos: number;
  state: number;
  rep0: number;
  rep1: number;
  rep2: number;
  rep3: number;
}

/** The repeated distances after symbol `back` (see OptimumParser.back), from reps[from..] into reps[to..]. */
function applyReps(reps: Int32Array, from: number, to: number, back: number): void {
  if (back < 0) {
    reps[to] = reps[from]!;
    reps[to + 1] = reps[from + 1]!;
    reps[to + 2] = reps[from + 2]!;
    reps[to + 3] = reps[from + 3]!;
  } else if (back < 4) {
    reps[to] = reps[from + back]!;
    for (let k = 1, src = 0; k < 4; k++, src++) {
      if (src === back) src++;
      reps[to + k] = reps[from + src]!;
    }
  } else {
    reps[to] = back - 4;
    reps[to + 1] = reps[from]!;
    reps[to + 2] = reps[from + 1]!;
    reps[to + 3] = reps[from + 2]!;
  }
}

export class OptimumParser {
  /** The planned symbols: lengths, and distances (-1 for a literal; a short rep has length 1). */
  readonly seqLen = new Int32Array(OPTS + 1);
  readonly seqDist = new Int32Array(OPTS + 1);
  seqCount = 0;
  seqNext = 0;

  private readonly prices: pricing.LzmaPrices;
  private symbolsSinceRefresh = REFRESH_SYMBOLS;
  private readonly price = new Int32Array(OPTS + 2);
  private readonly posPrev = new Int32Array(OPTS + 2);
  /** -1 literal, 0..3 rep index (length 1 at 0: short rep), >= 4: distance + 4. */
  private readonly back = new Int32Array(OPTS + 2);
  /**
   * How a node is reached from posPrev: STEP_ONE (the symbol `back`), STEP_LIT_REP0 (a literal,
   * then rep0), STEP_SYM_LIT_REP0 (the symbol `back2` of `len2` bytes, a literal, then rep0 at the
   * first symbol's distance: a match interrupted by one changed byte).
   */
  private readonly step = new Uint8Array(OPTS + 2);
  private readonly back2 = new Int32Array(OPTS + 2);
  private readonly len2 = new Int32Array(OPTS + 2);
  private readonly nodeState = new Uint8Array(OPTS + 2);
  private readonly reps = new Int32Array(4 * (OPTS + 2));
  private readonly repLens = new Int32Array(4);
  /** The stream position the current plan starts at. */
  private planPos = 0;

  constructor(
    private readonly mf: MatchFinder,
    private readonly matches: MatchCursor,
    private readonly probs: Uint16Array,
    private readonly niceLen: number,
  ) {
    this.prices = new LzmaPrices(probs);
  }

  /** Called after each coded symbol: the price tables follow the model every few hundred symbols. */
  coded(): void {
    this.symbolsSinceRefresh++;
  }

  private single(len: number, dist: number): void {
    this.seqLen[0] = len;
    this.seqDist[0] = dist;
    this.seqCount = 1;
    this.seqNext = 0;
  }

  /** Plans the symbols from c.pos on (the match finder stands at c.pos, or at c.pos + 1 with look-ahead). */
  plan(c: CoderState): void {
    if (this.symbolsSinceRefresh >= REFRESH_SYMBOLS) {
      this.prices.refresh();
      this.symbolsSinceRefresh = 0;
    }
    const mf = this.mf;
    const w = mf.window;
    const probs = this.probs;
    this.planPos = c.pos;
    const prices = this.prices;
    const niceLen = this.niceLen;
    const i = c.pos - mf.base;
    const history = Math.min(c.pos, i);
    const matches = this.matches;
    let count = matches.next();
    let lens = matches.lens;
    let dists = matches.dists;
    const avail = Math.min(mf.end - i, MATCH_LEN_MAX);
    if (avail < 2) return this.single(1, -1);

    const repLens = this.repLens;
    let repMax = 0;
    for (let r = 0; r < 4; r++) {
      const d = (r === 0 ? c.rep0 : r === 1 ? c.rep1 : r === 2 ? c.rep2 : c.rep3) + 1;
      repLens[r] = 0;
      if (d > history) continue;
      const j = i - d;
      if (w[j] !== w[i] || w[j + 1] !== w[i + 1]) continue;
      let len = 2;
      while (len < avail && w[j + len] === w[i + len]) len++;
      repLens[r] = len;
      if (len > repLens[repMax]!) repMax = r;
    }
    if (repLens[repMax]! >= niceLen) {
      const len = repLens[repMax]!;
      mf.skip(len - 1);
      return this.single(len, (repMax === 0 ? c.rep0 : repMax === 1 ? c.rep1 : repMax === 2 ? c.rep2 : c.rep3));
    }
    const mainLen = count > 0 ? lens[count - 1]! : 0;
    if (mainLen >= niceLen) {
      mf.skip(mainLen - 1);
      return this.single(mainLen, dists[count - 1]!);
    }
    const curByte = w[i]!;
    const matchByte = c.rep0 + 1 <= history ? w[i - c.rep0 - 1]! : curByte ^ 0xff;
    if (mainLen < 2 && curByte !== matchByte && repLens[repMax]! < 2) return this.single(1, -1);

    const price = this.price;
    const posPrev = this.posPrev;
    const back = this.back;
    const nodeState = this.nodeState;
    const reps = this.reps;
    nodeState[0] = c.state;
    reps[0] = c.rep0;
    reps[1] = c.rep1;
    reps[2] = c.rep2;
    reps[3] = c.rep3;

    let state = c.state;
    let posState = c.pos & PB_MASK;
    const prevByte = c.pos === 0 ? 0 : w[i - 1]!;
    price[1] = price0(probs[IS_MATCH + (state << 4) + posState]!) + prices.literal(prevByte, state >= 7, matchByte, curByte);
    posPrev[1] = 0;
    back[1] = -1;
    const step = this.step;
    const back2 = this.back2;
    const len2 = this.len2;
    step[1] = STEP_ONE;
    let matchPrice = price1(probs[IS_MATCH + (state << 4) + posState]!);
    let repMatchPrice = matchPrice + price1(probs[IS_REP + state]!);
    if (matchByte === curByte) {
      const p = repMatchPrice + prices.shortRep(state, posState);
      if (p < price[1]!) {
        price[1] = p;
        back[1] = 0;
      }
    }
    let lenEnd = Math.max(mainLen, repLens[repMax]!);
    if (lenEnd < 2) return this.single(1, back[1] === 0 ? c.rep0 : -1);
    for (let k = 2; k <= lenEnd; k++) price[k] = INFINITY_PRICE;
    for (let r = 0; r < 4; r++) {
      const repLen = repLens[r]!;
      if (repLen < 2) continue;
      const base = repMatchPrice + prices.repSelect(r, state, posState);
      for (let l = repLen; l >= 2; l--) {
        const p = base + prices.len(1, l, posState);
        if (p < price[l]!) {
          price[l] = p;
          posPrev[l] = 0;
          back[l] = r;
          step[l] = STEP_ONE;
        }
      }
    }
    let normalMatchPrice = matchPrice + price0(probs[IS_REP + state]!);
    let l = repLens[0]! >= 2 ? repLens[0]! + 1 : 2;
    if (l <= mainLen) {
      let k = 0;
      while (l > lens[k]!) k++;
      for (;; l++) {
        const dist = dists[k]!;
        const p = normalMatchPrice + prices.match(dist, l, posState);
        if (p < price[l]!) {
          price[l] = p;
          posPrev[l] = 0;
          back[l] = dist + 4;
          step[l] = STEP_ONE;
        }
        if (l === lens[k]! && ++k === count) break;
      }
    }

    let cur = 0;
    for (;;) {
      cur++;
      if (cur === lenEnd) break;
      count = matches.next();
      lens = matches.lens;
      dists = matches.dists;
      let newLen = count > 0 ? lens[count - 1]! : 0;
      if (newLen >= niceLen) {
        matches.keep(count); // the next plan starts here
        break;
      }

      // The state and repeated distances at `cur`, from the node it is reached from.
      const pp = posPrev[cur]!;
      const rb = cur * 4;
      let st = nodeState[pp]!;
      const kind = step[cur]!;
      // The first (or only) symbol of the step decides the repeated distances.
      const first = kind === STEP_ONE ? back[cur]! : kind === STEP_LIT_REP0 ? -1 : back2[cur]!;
      applyReps(reps, pp * 4, rb, first);
      if (kind === STEP_ONE) {
        st = first < 0 ? nextLiteral(st) : first >= 4 ? nextMatch(st) : cur - pp === 1 ? nextShortRep(st) : nextRep(st);
      } else {
        if (kind === STEP_SYM_LIT_REP0) st = first >= 4 ? nextMatch(st) : nextRep(st);
        st = nextRep(nextLiteral(st)); // the literal, then rep0 (which keeps the distances)
      }
      nodeState[cur] = st;
      state = st;

      const curPrice = price[cur]!;
      const ci = i + cur;
      const hist = Math.min(c.pos + cur, ci);
      const cb = w[ci]!;
      const r0 = reps[rb]!;
      const mb = r0 + 1 <= hist ? w[ci - r0 - 1]! : cb ^ 0xff;
      posState = (c.pos + cur) & PB_MASK;
      const isMatchProb = probs[IS_MATCH + (state << 4) + posState]!;
      const litPrice = curPrice + price0(isMatchProb) + prices.literal(w[ci - 1]!, state >= 7, mb, cb);
      const nextIsLiteral = litPrice < price[cur + 1]!;
      if (nextIsLiteral) {
        price[cur + 1] = litPrice;
        posPrev[cur + 1] = cur;
        back[cur + 1] = -1;
        step[cur + 1] = STEP_ONE;
      }
      matchPrice = curPrice + price1(isMatchProb);
      repMatchPrice = matchPrice + price1(probs[IS_REP + state]!);
      if (mb === cb && !(posPrev[cur + 1]! < cur && back[cur + 1] === 0)) {
        const p = repMatchPrice + prices.shortRep(state, posState);
        if (p <= price[cur + 1]!) {
          price[cur + 1] = p;
          posPrev[cur + 1] = cur;
          back[cur + 1] = 0;
          step[cur + 1] = STEP_ONE;
        }
      }
      const availFull = Math.min(mf.end - ci, OPTS - 1 - cur, MATCH_LEN_MAX);
      if (availFull < 2) continue;

      // A literal, then rep0 from the next byte: reaches past cur + 1 with this node's distances,
      // which the best path into cur + 1 may not have.
      if (!nextIsLiteral && mb !== cb && r0 + 1 <= hist) {
        const j = ci - r0 - 1;
        const limit = Math.min(availFull, niceLen + 1);
        let len = 0;
        while (1 + len < limit && w[j + 1 + len] === w[ci + 1 + len]) len++;
        if (len >= 2) {
          const st2 = nextLiteral(state);
          const ps2 = (posState + 1) & PB_MASK;
          const p =
            litPrice + price1(probs[IS_MATCH + (st2 << 4) + ps2]!) + price1(probs[IS_REP + st2]!) + prices.repSelect(0, st2, ps2) + prices.len(1, len, ps2);
          const end = cur + 1 + len;
          while (lenEnd < end) price[++lenEnd] = INFINITY_PRICE;
          if (p < price[end]!) {
            price[end] = p;
            posPrev[end] = cur;
            back[end] = 0;
            step[end] = STEP_LIT_REP0;
          }
        }
      }

      let startLen = 2;
      for (let r = 0; r < 4; r++) {
        const d = reps[rb + r]! + 1;
        if (d > hist) continue;
        const j = ci - d;
        if (w[j] !== w[ci] || w[j + 1] !== w[ci + 1]) continue;
        let len = 2;
        while (len < availFull && w[j + len] === w[ci + len]) len++;
        while (lenEnd < cur + len) price[++lenEnd] = INFINITY_PRICE;
        const base = repMatchPrice + prices.repSelect(r, state, posState);
        for (let ln = len; ln >= 2; ln--) {
          const p = base + prices.len(1, ln, posState);
          if (p < price[cur + ln]!) {
            price[cur + ln] = p;
            posPrev[cur + ln] = cur;
            back[cur + ln] = r;
            step[cur + ln] = STEP_ONE;
          }
        }
        if (r === 0) startLen = len + 1;
        lenEnd = this.trySymLitRep0(cur, ci, j, len, base + prices.len(1, len, posState), nextRep(state), r, availFull, lenEnd);
      }

      if (newLen > availFull) {
        newLen = availFull;
        let k = 0;
        while (newLen > lens[k]!) k++;
        lens[k] = newLen;
        count = k + 1;
      }
      if (newLen >= startLen) {
        normalMatchPrice = matchPrice + price0(probs[IS_REP + state]!);
        while (lenEnd < cur + newLen) price[++lenEnd] = INFINITY_PRICE;
        let k = 0;
        while (startLen > lens[k]!) k++;
        for (let ln = startLen; ; ln++) {
          const dist = dists[k]!;
          const p = normalMatchPrice + prices.match(dist, ln, posState);
          if (p < price[cur + ln]!) {
            price[cur + ln] = p;
            posPrev[cur + ln] = cur;
            back[cur + ln] = dist + 4;
            step[cur + ln] = STEP_ONE;
          }
          if (ln === lens[k]!) {
            lenEnd = this.trySymLitRep0(cur, ci, ci - dist - 1, ln, p, nextMatch(state), dist + 4, availFull, lenEnd);
            if (++k === count) break;
          }
        }
      }
    }
    this.backtrack(cur);
  }

  /**
   * After a match or rep of `len` bytes from `cur` at window index j (costing `price`, leaving
   * state `st`): one changed byte as a literal, then rep0 (the same distance) again. Returns the
   * new lenEnd.
   */
  private trySymLitRep0(cur: number, ci: number, j: number, len: number, price: number, st: number, first: number, availFull: number, lenEnd: number): number {
    const w = this.mf.window;
    const limit = Math.min(availFull, len + 1 + this.niceLen);
    let k = len + 1;
    while (k < limit && w[j + k] === w[ci + k]) k++;
    const len2 = k - len - 1;
    if (len2 < 2) return lenEnd;
    const probs = this.probs;
    const psLit = (this.planPos + cur + len) & PB_MASK;
    let p = price + price0(probs[IS_MATCH + (st << 4) + psLit]!) + this.prices.literal(w[ci + len - 1]!, true, w[j + len]!, w[ci + len]!);
    const st2 = nextLiteral(st);
    const psRep = (psLit + 1) & PB_MASK;
    p += price1(probs[IS_MATCH + (st2 << 4) + psRep]!) + price1(probs[IS_REP + st2]!) + this.prices.repSelect(0, st2, psRep) + this.prices.len(1, len2, psRep);
    const end = cur + len + 1 + len2;
    while (lenEnd < end) this.price[++lenEnd] = INFINITY_PRICE;
    if (p < this.price[end]!) {
      this.price[end] = p;
      this.posPrev[end] = cur;
      this.back[end] = 0;
      this.step[end] = STEP_SYM_LIT_REP0;
      this.back2[end] = first;
      this.len2[end] = len;
    }
    return lenEnd;
  }

  /** Writes the cheapest path to `end` into the sequence, first symbol first. */
  private backtrack(end: number): void {
    let n = 0;
    const seqLen = this.seqLen;
    const seqDist = this.seqDist;
    for (let node = end; node > 0; ) {
      const pp = this.posPrev[node]!;
      const kind = this.step[node]!;
      if (kind === STEP_ONE) {
        const b = this.back[node]!;
        seqLen[n] = node - pp;
        seqDist[n++] = b < 0 ? -1 : b < 4 ? this.reps[pp * 4 + b]! : b - 4;
      } else {
        // Pushed last symbol first (the sequence is reversed below).
        const firstLen = kind === STEP_LIT_REP0 ? 1 : this.len2[node]!;
        const b2 = this.back2[node]!;
        const firstDist = kind === STEP_LIT_REP0 ? -1 : b2 < 4 ? this.reps[pp * 4 + b2]! : b2 - 4;
        const rep0 = kind === STEP_LIT_REP0 ? this.reps[pp * 4]! : firstDist;
        seqLen[n] = node - pp - firstLen - (kind === STEP_LIT_REP0 ? 0 : 1);
        seqDist[n++] = rep0;
        if (kind === STEP_SYM_LIT_REP0) {
          seqLen[n] = 1;
          seqDist[n++] = -1;
        }
        seqLen[n] = firstLen;
        seqDist[n++] = firstDist;
      }
      node = pp;
    }
    this.seqLen.subarray(0, n).reverse();
    this.seqDist.subarray(0, n).reverse();
    this.seqCount = n;
    this.seqNext = 0;
  }
}
