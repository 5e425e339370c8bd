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

const HASH2_SIZE = 1 << 16;
const HASH3_BITS = 16;
const HASH4_BITS = 20;
const GOLDEN = 0x9e3779b1 | 0;

export class HashChainFinder extends MatchFinder {
  private readonly hash2 = new Uint32Array(HASH2_SIZE);
  private readonly hash3 = new Uint32Array(1 << HASH3_BITS);
  private readonly hash4 = new Uint32Array(1 << HASH4_BITS);
  private readonly chain: Uint32Array;
  private readonly chainMask: number;
  private readonly maxDistance: number;

  constructor(options: MatchFinderOptions) {
    super(options);
    let ring = 1;
    while (ring < options.dictSize) ring *= 2;
    this.chain = new Uint32Array(ring);
    this.chainMask = ring - 1;
    // Strictly less than the ring: the slot of a position `ring` back is the current one.
    this.maxDistance = Math.min(options.dictSize, ring - 1);
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
    const word3 = b0 | (b1 << 8) | (b2 << 16);
    const h2 = b0 | (b1 << 8);
    const h3 = Math.imul(word3, GOLDEN) >>> (32 - HASH3_BITS);
    const h4 = Math.imul(word3 | (w[i + 3]! << 24), GOLDEN) >>> (32 - HASH4_BITS);
    const d2 = (cur - this.hash2[h2]!) >>> 0;
    const d3 = (cur - this.hash3[h3]!) >>> 0;
    let candidate = this.hash4[h4]!;
    this.hash2[h2] = cur;
    this.hash3[h3] = cur;
    this.hash4[h4] = cur;
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

  override skip(n: number): void {
    const w = this.window;
    for (; n > 0; n--) {
      const i = this.pos - this.base;
      if (this.end - i >= 4) {
        const cur = this.pos >>> 0;
        const b0 = w[i]!;
        const b1 = w[i + 1]!;
        const word3 = b0 | (b1 << 8) | (w[i + 2]! << 16);
        const h4 = Math.imul(word3 | (w[i + 3]! << 24), GOLDEN) >>> (32 - HASH4_BITS);
        this.hash2[b0 | (b1 << 8)] = cur;
        this.hash3[Math.imul(word3, GOLDEN) >>> (32 - HASH3_BITS)] = cur;
        this.chain[cur & this.chainMask] = this.hash4[h4]!;
        this.hash4[h4] = cur;
      }
      this.pos++;
    }
  }
}
