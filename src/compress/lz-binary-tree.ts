/**
 * The binary-tree match finder ("bt4" in liblzma), for the optimal parser, which asks for the
 * matches at every position. Positions with the same 4-byte hash form a binary search tree
 * ordered by the bytes that follow them; inserting the current position walks that tree from the
 * newest node, so each step compares against the candidates that share the longest prefix and
 * every length found is the longest at its distance. Dearer to update than a hash chain, but it
 * finds better matches with far fewer comparisons when it is searched everywhere.
 *
 * Each position owns two slots (its left and right children) in `son`, a ring of dictionary + 1
 * positions. Tree links hold positions offset so that 0 means "none" (see `offset`); they are
 * rebased before they would overflow 32 bits.
 */
import * as layout from "./lzma-layout.js";
import { MatchFinder, type MatchFinderOptions } from "./lz-match-finder.js";

const { MATCH_LEN_MAX } = layout;

/** Rebase the stored positions before they reach 2^32. */
const REBASE_AT = 0xffffffff - (1 << 24);

export class BinaryTreeFinder extends MatchFinder {
  private readonly son: Uint32Array;
  private readonly cyclicSize: number;
  private cyclicPos = 0;
  /**
   * Stored position = stream position + offset. Starting at cyclicSize makes the tables' initial
   * 0 a position too far back to follow.
   */
  private offset: number;
  /** Never written: `insert` asks for matches longer than any the walk can find. */
  private readonly unused = new Int32Array(0);
  /** The window as 32-bit words at any offset, for comparing four bytes at once. */
  private view: DataView;

  /** `rebaseAt` (tests only) lowers the stored position at which positions are rebased. */
  constructor(
    options: MatchFinderOptions,
    private readonly rebaseAt = REBASE_AT,
  ) {
    // About one head per two dictionary bytes, 2^16 to 2^24 (as liblzma sizes it).
    super(options, Math.min(24, Math.max(16, Math.ceil(Math.log2(options.dictSize)) - 1)));
    this.cyclicSize = this.dictSize + 1;
    this.son = new Uint32Array(this.table(8 * this.cyclicSize));
    this.offset = this.cyclicSize;
    this.view = new DataView(this.window.buffer, this.window.byteOffset, this.window.byteLength);
  }

  protected override windowReplaced(): void {
    this.view = new DataView(this.window.buffer, this.window.byteOffset, this.window.byteLength);
  }

  override find(lens: Int32Array, dists: Int32Array): number {
    const w = this.window;
    const i = this.pos - this.base;
    const avail = Math.min(this.end - i, MATCH_LEN_MAX);
    if (avail < 4) {
      this.advance();
      return 0;
    }
    const lenLimit = Math.min(this.niceLen, avail);
    const cur = this.pos + this.offset;
    const b0 = w[i]!;
    const b1 = w[i + 1]!;
    const b2 = w[i + 2]!;
    const head = this.enterPrefixes(i, cur);
    let delta2 = cur - this.prev2;
    const delta3 = cur - this.prev3;

    const cyc = this.cyclicSize;
    let count = 0;
    let best = 1;
    if (delta2 < cyc && w[i - delta2] === b0 && w[i - delta2 + 1] === b1) {
      best = 2;
      lens[0] = 2;
      dists[0] = delta2 - 1;
      count = 1;
    }
    if (delta2 !== delta3 && delta3 < cyc && w[i - delta3] === b0 && w[i - delta3 + 1] === b1 && w[i - delta3 + 2] === b2) {
      best = 3;
      lens[count] = 3;
      dists[count++] = delta3 - 1;
      delta2 = delta3;
    }
    if (count > 0) {
      while (best < lenLimit && w[i - delta2 + best] === w[i + best]) best++;
      lens[count - 1] = best;
      if (best === lenLimit) {
        this.insert(lenLimit, cur, head, i);
        this.extendLast(lens, dists, count, i, avail);
        this.advance();
        return count;
      }
    }
    if (best < 3) best = 3;

    count = this.walk(lenLimit, cur, head, i, lens, dists, count, best);
    this.extendLast(lens, dists, count, i, avail);
    this.advance();
    return count;
  }

  override skip(n: number, stride = 1): void {
    for (; n > 0; n--) {
      const i = this.pos - this.base;
      const avail = Math.min(this.end - i, MATCH_LEN_MAX);
      if (avail >= 4 && (stride === 1 || this.pos % stride === 0)) {
        const cur = this.pos + this.offset;
        const head = this.enterPrefixes(i, cur);
        this.insert(Math.min(this.niceLen, avail), cur, head, i);
      }
      this.advance();
    }
  }

  /**
   * Inserts `cur` (window index i) at the root of its tree, walking down from `head`, the newest
   * position with the same hash: each node is a candidate, and a longer match than `best` is
   * appended to lens/dists. Returns the new count.
   */
  private walk(lenLimit: number, cur: number, head: number, i: number, lens: Int32Array, dists: Int32Array, count: number, best: number): number {
    const w = this.window;
    const view = this.view;
    const son = this.son;
    const cyc = this.cyclicSize;
    const cp = this.cyclicPos;
    let ptr0 = (cp << 1) + 1;
    let ptr1 = cp << 1;
    let len0 = 0;
    let len1 = 0;
    let candidate = head;
    for (let depth = this.depth; ; depth--) {
      const delta = cur - candidate;
      if (depth === 0 || delta >= cyc) {
        son[ptr0] = 0;
        son[ptr1] = 0;
        return count;
      }
      const pair = (cp - delta + (delta > cp ? cyc : 0)) << 1;
      const j = i - delta;
      // Both subtrees' bounds share at least min(len0, len1) bytes with cur: start comparing there.
      let len = len0 < len1 ? len0 : len1;
      if (w[j + len] === w[i + len]) {
        len++;
        // Four bytes a step while they last (a third of the time on long runs of one byte).
        while (len + 4 <= lenLimit && view.getUint32(j + len) === view.getUint32(i + len)) len += 4;
        while (len < lenLimit && w[j + len] === w[i + len]) len++;
        if (len > best) {
          best = len;
          lens[count] = len;
          dists[count++] = delta - 1;
        }
        if (len === lenLimit) {
          // As long as we compare: cur takes this node's place and children.
          son[ptr1] = son[pair]!;
          son[ptr0] = son[pair + 1]!;
          return count;
        }
      }
      if (w[j + len]! < w[i + len]!) {
        son[ptr1] = candidate;
        ptr1 = pair + 1;
        candidate = son[ptr1]!;
        len1 = len;
      } else {
        son[ptr0] = candidate;
        ptr0 = pair;
        candidate = son[ptr0]!;
        len0 = len;
      }
    }
  }

  /** Inserts `cur` into its tree without reporting matches. */
  private insert(lenLimit: number, cur: number, head: number, i: number): void {
    this.walk(lenLimit, cur, head, i, this.unused, this.unused, 0, lenLimit);
  }

  /** The tree stops comparing at the nice length; the parser wants the whole match. */
  private extendLast(lens: Int32Array, dists: Int32Array, count: number, i: number, avail: number): void {
    if (count === 0) return;
    let len = lens[count - 1]!;
    if (len < this.niceLen) return;
    const j = i - dists[count - 1]! - 1;
    const w = this.window;
    while (len < avail && w[j + len] === w[i + len]) len++;
    lens[count - 1] = len;
  }

  private advance(): void {
    this.pos++;
    if (++this.cyclicPos === this.cyclicSize) this.cyclicPos = 0;
    if (this.pos + this.offset >= this.rebaseAt) this.rebase();
  }

  /** Moves every stored position down so the current one is cyclicSize again; older ones become 0. */
  private rebase(): void {
    const by = this.pos + this.offset - this.cyclicSize;
    const rebase = (v: number): number => (v <= by ? 0 : v - by);
    this.remapPrefixes(rebase);
    const son = this.son;
    for (let k = 0; k < son.length; k++) son[k] = rebase(son[k]!);
    this.offset -= by;
  }
}
