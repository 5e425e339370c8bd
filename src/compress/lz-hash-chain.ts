/**
 * The hash-chain match finder ("hc4" in liblzma): hash tables on 2-, 3- and 4-byte prefixes and a
 * chain linking each position to the previous one with the same 4-byte hash. Cheap to update,
 * so it suits the fast parser, which skips most positions.
 *
 * The tables store positions modulo 2^32; a stale or wrapped entry only costs a byte
 * comparison, because every candidate is checked against the window before it is used and
 * distances beyond the dictionary are never followed. The chain is a ring indexed by position,
 * so a slot is only overwritten once its position is out of reach.
 */
import * as layout from "./lzma-layout.js";
import { MatchFinder, type MatchFinderOptions } from "./lz-match-finder.js";

const { MATCH_LEN_MAX } = layout;

const HASH4_BITS = 20;

export class HashChainFinder extends MatchFinder {
  private readonly chain: Uint32Array;
  private readonly chainMask: number;
  private readonly maxDistance: number;

  constructor(options: MatchFinderOptions) {
    super(options, HASH4_BITS);
    let ring = 1;
    while (ring < this.dictSize) ring *= 2;
    this.chain = new Uint32Array(this.table(4 * ring));
    this.chainMask = ring - 1;
    // Strictly less than the ring: the slot of a position `ring` back is the current one.
    this.maxDistance = Math.min(this.dictSize, ring - 1);
  }

  override find(lens: Int32Array, dists: Int32Array): number {
    const w = this.window;
    const i = this.pos - this.base;
    const avail = Math.min(this.end - i, MATCH_LEN_MAX);
    if (avail < 4) {
      this.pos++;
      return 0;
    }
    const cur = this.pos >>> 0;
    const b0 = w[i]!;
    const b1 = w[i + 1]!;
    const b2 = w[i + 2]!;
    let candidate = this.enterPrefixes(i, cur);
    const d2 = (cur - this.prev2) >>> 0;
    const d3 = (cur - this.prev3) >>> 0;
    this.chain[cur & this.chainMask] = candidate;
    this.pos++;

    const reach = Math.min(this.maxDistance, i);
    const nice = Math.min(this.niceLen, avail);
    let best = 1;
    let count = 0;
    if (d2 >= 1 && d2 <= reach && w[i - d2] === b0 && w[i - d2 + 1] === b1) {
      let len = 2;
      const j = i - d2;
      while (len < avail && w[j + len] === w[i + len]) len++;
      best = len;
      lens[count] = len;
      dists[count++] = d2 - 1;
      if (best >= nice) return count;
    }
    if (d3 !== d2 && d3 >= 1 && d3 <= reach && w[i - d3] === b0 && w[i - d3 + 1] === b1 && w[i - d3 + 2] === b2) {
      let len = 3;
      const j = i - d3;
      while (len < avail && w[j + len] === w[i + len]) len++;
      if (len > best) {
        best = len;
        lens[count] = len;
        dists[count++] = d3 - 1;
        if (best >= nice) return count;
      }
    }
    const chain = this.chain;
    const mask = this.chainMask;
    let d = (cur - candidate) >>> 0;
    for (let depth = this.depth; depth > 0 && d >= 1 && d <= reach; depth--) {
      const j = i - d;
      // The byte that would make this candidate longer than the best first: most fail there.
      if (w[j + best] === w[i + best] && w[j] === b0 && w[j + 1] === b1) {
        let len = 2;
        while (len < avail && w[j + len] === w[i + len]) len++;
        if (len > best) {
          best = len;
          lens[count] = len;
          dists[count++] = d - 1;
          if (best >= nice) break;
        }
      }
      candidate = chain[candidate & mask]!;
      const next = (cur - candidate) >>> 0;
      if (next <= d) break; // chains only go back in time; anything else is a stale slot
      d = next;
    }
    return count;
  }

  override skip(n: number, stride = 1): void {
    for (; n > 0; n--) {
      const i = this.pos - this.base;
      if (this.end - i >= 4 && (stride === 1 || this.pos % stride === 0)) {
        const cur = this.pos >>> 0;
        this.chain[cur & this.chainMask] = this.enterPrefixes(i, cur);
      }
      this.pos++;
    }
  }
}
