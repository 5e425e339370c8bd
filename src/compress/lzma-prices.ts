/**
 * Prices (in 1/16 bit) of coding symbols with the current LZMA model: what the optimal parser
 * minimises. They are estimates from the model at the time of the last refresh, so they only
 * steer the choices; the coded output is exact whatever they say.
 */
import * as layout from "./lzma-layout.js";

const { DIST_ALIGN, DIST_SLOT, DIST_SPECIAL, IS_REP0, IS_REP0_LONG, IS_REP1, IS_REP2, LEN_CHOICE2, LEN_HIGH, LEN_LOW, LEN_MID, LITERAL, MATCH_LEN, REP_LEN } = layout;

export const INFINITY_PRICE = 1 << 30;
const LEN_SYMBOLS = 272; // lengths 2..273
const FULL_DISTANCES = 128;

/** Price of a 0 bit with probability index p >> 4 (a 1 bit: (2048 - p) >> 4). */
const BIT_PRICE = new Int32Array(128);
for (let k = 0; k < 128; k++) BIT_PRICE[k] = Math.round(-Math.log2((k * 16 + 8) / 2048) * 16);

export function price0(prob: number): number {
  return BIT_PRICE[prob >>> 4]!;
}
export function price1(prob: number): number {
  return BIT_PRICE[(2048 - prob) >>> 4]!;
}
function bitPrice(prob: number, bit: number): number {
  return BIT_PRICE[(bit ? 2048 - prob : prob) >>> 4]!;
}

function treePrice(probs: Uint16Array, base: number, count: number, value: number): number {
  let price = 0;
  let m = 1;
  for (let k = count - 1; k >= 0; k--) {
    const b = (value >>> k) & 1;
    price += bitPrice(probs[base + m]!, b);
    m = (m << 1) | b;
  }
  return price;
}

function reverseTreePrice(probs: Uint16Array, base: number, count: number, value: number): number {
  let price = 0;
  let m = 1;
  for (let k = 0; k < count; k++) {
    const b = (value >>> k) & 1;
    price += bitPrice(probs[base + m]!, b);
    m = (m << 1) | b;
  }
  return price;
}

export function distSlot(dist: number): number {
  if (dist < 4) return dist;
  const n = 31 - Math.clz32(dist);
  return (n << 1) | ((dist >>> (n - 1)) & 1);
}

export class LzmaPrices {
  /** [coder (0 match, 1 rep)][posState 0..3][len - 2] */
  private readonly lenPrices = new Int32Array(2 * 4 * LEN_SYMBOLS);
  /** [lenState][slot], direct bits included. */
  private readonly slotPrices = new Int32Array(4 * 64);
  /** [lenState][distance < 128], everything included. */
  private readonly distPrices = new Int32Array(4 * FULL_DISTANCES);
  private readonly alignPrices = new Int32Array(16);

  constructor(private readonly probs: Uint16Array) {}

  /** Recomputes the length and distance tables from the model as it is now. */
  refresh(): void {
    const probs = this.probs;
    for (let coder = 0; coder < 2; coder++) {
      const base = coder === 0 ? MATCH_LEN : REP_LEN;
      const choice0 = price0(probs[base]!);
      const choice1 = price1(probs[base]!);
      const mid = choice1 + price0(probs[base + LEN_CHOICE2]!);
      const high = choice1 + price1(probs[base + LEN_CHOICE2]!);
      for (let posState = 0; posState < 4; posState++) {
        const row = (coder * 4 + posState) * LEN_SYMBOLS;
        for (let l = 0; l < LEN_SYMBOLS; l++) {
          this.lenPrices[row + l] =
            l < 8
              ? choice0 + treePrice(probs, base + LEN_LOW + (posState << 3), 3, l)
              : l < 16
                ? mid + treePrice(probs, base + LEN_MID + (posState << 3), 3, l - 8)
                : high + treePrice(probs, base + LEN_HIGH, 8, l - 16);
        }
      }
    }
    for (let k = 0; k < 16; k++) this.alignPrices[k] = reverseTreePrice(probs, DIST_ALIGN, 4, k);
    for (let lenState = 0; lenState < 4; lenState++) {
      for (let slot = 0; slot < 64; slot++) {
        let p = treePrice(probs, DIST_SLOT + (lenState << 6), 6, slot);
        if (slot >= 14) p += ((slot >>> 1) - 1 - 4) << 4;
        this.slotPrices[(lenState << 6) + slot] = p;
      }
      for (let dist = 0; dist < FULL_DISTANCES; dist++) {
        const slot = distSlot(dist);
        let p = this.slotPrices[(lenState << 6) + slot]!;
        if (slot >= 4) {
          const footer = (slot >>> 1) - 1;
          const base = (2 | (slot & 1)) << footer;
          p += reverseTreePrice(probs, DIST_SPECIAL + base - slot - 1, footer, dist - base);
        }
        this.distPrices[lenState * FULL_DISTANCES + dist] = p;
      }
    }
  }

  /** Length `len` with the match (coder 0) or rep (coder 1) length coder. */
  len(coder: number, len: number, posState: number): number {
    return this.lenPrices[(coder * 4 + posState) * LEN_SYMBOLS + len - 2]!;
  }

  /** A match's length and zero-based distance (not its is_match / is_rep bits). */
  match(dist: number, len: number, posState: number): number {
    const lenState = len < 5 ? len - 2 : 3;
    const d =
      dist < FULL_DISTANCES
        ? this.distPrices[lenState * FULL_DISTANCES + dist]!
        : this.slotPrices[(lenState << 6) + distSlot(dist)]! + this.alignPrices[dist & 15]!;
    return d + this.len(0, len, posState);
  }

  /** The bits that select repeated distance r (after is_rep = 1), for a long rep match. */
  repSelect(r: number, state: number, posState: number): number {
    const probs = this.probs;
    if (r === 0) return price0(probs[IS_REP0 + state]!) + price1(probs[IS_REP0_LONG + (state << 4) + posState]!);
    const g0 = price1(probs[IS_REP0 + state]!);
    if (r === 1) return g0 + price0(probs[IS_REP1 + state]!);
    return g0 + price1(probs[IS_REP1 + state]!) + bitPrice(probs[IS_REP2 + state]!, r - 2);
  }

  /** The short rep (one byte at rep0), after is_rep = 1. */
  shortRep(state: number, posState: number): number {
    const probs = this.probs;
    return price0(probs[IS_REP0 + state]!) + price0(probs[IS_REP0_LONG + (state << 4) + posState]!);
  }

  /** A literal (not its is_match bit): plain in a literal state, matched against matchByte otherwise. */
  literal(prevByte: number, matched: boolean, matchByte: number, byte: number): number {
    const probs = this.probs;
    const base = LITERAL + 0x300 * (prevByte >>> 5);
    if (!matched) return treePrice(probs, base, 8, byte);
    let price = 0;
    let m = 1;
    let k = 7;
    for (; k >= 0; k--) {
      const matchBit = (matchByte >>> k) & 1;
      const b = (byte >>> k) & 1;
      price += bitPrice(probs[base + 0x100 + (matchBit << 8) + m]!, b);
      m = (m << 1) | b;
      if (matchBit !== b) {
        k--;
        break;
      }
    }
    for (; k >= 0; k--) {
      const b = (byte >>> k) & 1;
      price += bitPrice(probs[base + m]!, b);
      m = (m << 1) | b;
    }
    return price;
  }
}
