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
import { INFINITY_PRICE, LzmaPrices, price0, price1 } from "./lzma-prices.js";

const { IS_MATCH, IS_REP, MATCH_LEN_MAX } = layout;

/** Positions planned at most in one go; also the look-ahead the caller must provide. */
export const OPTS = 4096;
const REFRESH_SYMBOLS = 256;
const PB_MASK = 3;

const nextLiteral = (s: number): number => (s < 4 ? 0 : s < 10 ? s - 3 : s - 6);

/** What the parser plans from: the coder's position, state and repeated distances. */
export interface CoderState {
  pos: number;
  state: number;
  rep0: number;
  rep1: number;
  rep2: number;
  rep3: number;
}

export class OptimumParser {
  /** The planned symbols: lengths, and distances (-1 for a literal; a short rep has length 1). */
  readonly seqLen = new Int32Array(OPTS + 1);
  readonly seqDist = new Int32Array(OPTS + 1);
  seqCount = 0;
  seqNext = 0;

  private readonly prices: LzmaPrices;
  private symbolsSinceRefresh = REFRESH_SYMBOLS;
  private readonly price = new Int32Array(OPTS + 2);
  private readonly posPrev = new Int32Array(OPTS + 2);
  /** -1 literal, 0..3 rep index (length 1 at 0: short rep), >= 4: distance + 4. */
  private readonly back = new Int32Array(OPTS + 2);
  private readonly nodeState = new Uint8Array(OPTS + 2);
  private readonly reps = new Int32Array(4 * (OPTS + 2));
  private readonly repLens = new Int32Array(4);

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
      const b = back[cur]!;
      let st = nodeState[pp]!;
      const rb = cur * 4;
      const pb = pp * 4;
      if (b < 0) {
        st = nextLiteral(st);
        reps[rb] = reps[pb]!;
        reps[rb + 1] = reps[pb + 1]!;
        reps[rb + 2] = reps[pb + 2]!;
        reps[rb + 3] = reps[pb + 3]!;
      } else if (b < 4) {
        st = cur - pp === 1 ? (st < 7 ? 9 : 11) : st < 7 ? 8 : 11;
        reps[rb] = reps[pb + b]!;
        for (let k = 1, from = 0; k < 4; k++, from++) {
          if (from === b) from++;
          reps[rb + k] = reps[pb + from]!;
        }
      } else {
        st = st < 7 ? 7 : 10;
        reps[rb] = b - 4;
        reps[rb + 1] = reps[pb]!;
        reps[rb + 2] = reps[pb + 1]!;
        reps[rb + 3] = reps[pb + 2]!;
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
      if (litPrice < price[cur + 1]!) {
        price[cur + 1] = litPrice;
        posPrev[cur + 1] = cur;
        back[cur + 1] = -1;
      }
      matchPrice = curPrice + price1(isMatchProb);
      repMatchPrice = matchPrice + price1(probs[IS_REP + state]!);
      if (mb === cb && !(posPrev[cur + 1]! < cur && back[cur + 1] === 0)) {
        const p = repMatchPrice + prices.shortRep(state, posState);
        if (p <= price[cur + 1]!) {
          price[cur + 1] = p;
          posPrev[cur + 1] = cur;
          back[cur + 1] = 0;
        }
      }
      const availFull = Math.min(mf.end - ci, OPTS - 1 - cur, MATCH_LEN_MAX);
      if (availFull < 2) continue;

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
          }
        }
        if (r === 0) startLen = len + 1;
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
          }
          if (ln === lens[k]! && ++k === count) break;
        }
      }
    }
    this.backtrack(cur);
  }

  /** Writes the cheapest path to `end` into the sequence, first symbol first. */
  private backtrack(end: number): void {
    let n = 0;
    for (let node = end; node > 0; ) {
      const pp = this.posPrev[node]!;
      const b = this.back[node]!;
      this.seqLen[n] = node - pp;
      this.seqDist[n] = b < 0 ? -1 : b < 4 ? this.reps[pp * 4 + b]! : b - 4;
      n++;
      node = pp;
    }
    this.seqLen.subarray(0, n).reverse();
    this.seqDist.subarray(0, n).reverse();
    this.seqCount = n;
    this.seqNext = 0;
  }
}
