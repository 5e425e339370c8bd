/**
 * Chooses one target window's instructions against the whole source (SourceIndex) and the
 * window's own earlier bytes. Greedy, left to right; at each target position it tries, cheapest
 * first:
 *
 * 1. continuation: the source right after the previous source copy, shifted by the gap since it
 *    (catches small edits in place: inode tables, bitmaps, patched files), first seeded with the
 *    same offset (identical regions);
 * 2. a RUN of >= minRun equal bytes;
 * 3. at 4 KiB-aligned positions, the block index (relocated filesystem blocks);
 * 4. at content-defined anchors, the anchor index (anything moved anywhere, >= ~64 bytes);
 * 5. long target self-repeats (8-byte hash chains over this window's literal positions).
 *
 * Source candidates are extended backwards over pending literals and forwards to the window end,
 * and the one covering most bytes wins. Copies never straddle source and target: each is one or
 * the other. Forward extension compares with Buffer#compare (memcmp) in chunks.
 */
import { BLOCK_SIZE, blockHash } from "./block-hash";
import { anchorBucket, GEAR, GEAR_SPAN } from "./gear-hash";
import { InstructionList, KIND_ADD, KIND_COPY_SOURCE, KIND_COPY_TARGET, KIND_RUN } from "./instruction-list";
import type { SourceIndex } from "./source-index";

export interface MatchParams {
  /** Shortest continuation copy worth its address (bytes). */
  minContinuation: number;
  /** Shortest anchor/block copy (bytes, backward extension included). */
  minSourceMatch: number;
  /** Self-match candidates followed per position; 0 turns target self-matching off. */
  selfChain: number;
  /** Shortest target self-copy (bytes). */
  minSelfMatch: number;
  /** A continuation copy at least this long is taken without probing the indexes. */
  goodEnough: number;
  /**
   * Shortest RUN (equal bytes). Short runs inside literal data cost the outer xz more as
   * instructions (they split the ADD around them) than as the literal bytes they replace.
   */
  minRun: number;
}

/** Byte counts of one window's program, by instruction kind. */
export interface WindowMatchStats {
  added: number;
  run: number;
  copiedSource: number;
  copiedTarget: number;
}

const MIN_COMPARE_CHUNK = 256;
const MAX_COMPARE_CHUNK = 1 << 16;
const SELF_HASH_BITS = 16;
/** Self-match lookups happen at multiples of this (self-copies are >= 256 bytes, levels.ts). */
const SELF_STRIDE = 16;

/**
 * Length of the common prefix of a[ai..] and b[bi..], at most `max`. Long equal runs are compared
 * natively (Buffer#compare) in chunks that double while equal and halve around the first
 * difference, so both a 16 MiB identical stretch and a 20-byte match cost few calls.
 */
function forwardMatch(a: Buffer, ai: number, b: Buffer, bi: number, max: number): number {
  let len = 0;
  const first = max < 16 ? max : 16;
  while (len < first && a[ai + len] === b[bi + len]) len++;
  if (len < first) return len;
  let chunk = MIN_COMPARE_CHUNK;
  while (max - len >= 16) {
    const c = chunk < max - len ? chunk : max - len;
    if (a.compare(b, bi + len, bi + len + c, ai + len, ai + len + c) === 0) {
      len += c;
      if (chunk < MAX_COMPARE_CHUNK) chunk *= 2;
    } else if (c <= 32) {
      break;
    } else {
      chunk = c >>> 1;
    }
  }
  while (len < max && a[ai + len] === b[bi + len]) len++;
  return len;
}

/** Length of the common suffix of a[..ai) and b[..bi), at most `max`. */
function backwardMatch(a: Uint8Array, ai: number, b: Uint8Array, bi: number, max: number): number {
  let len = 0;
  while (len < max && a[ai - len - 1] === b[bi - len - 1]) len++;
  return len;
}

export class WindowMatcher {
  private readonly selfHead = new Int32Array(1 << SELF_HASH_BITS);
  private selfPrev: Int32Array;

  constructor(private readonly index: SourceIndex, private readonly params: MatchParams, windowCapacity: number) {
    this.selfPrev = new Int32Array(params.selfChain > 0 ? windowCapacity : 0);
  }

  /**
   * Fills `list` with a program for `target`, the window starting at absolute target offset
   * `windowStart` (a multiple of 4096). `target` must start 4-byte aligned in its ArrayBuffer.
   */
  match(target: Buffer, windowStart: number, list: InstructionList): WindowMatchStats {
    const ix = this.index;
    const S = ix.source;
    const srcSize = ix.size;
    const T = target;
    const n = T.length;
    const tWords = new Int32Array(T.buffer, T.byteOffset, n >>> 2);
    const { minContinuation, minSourceMatch, selfChain, minSelfMatch, goodEnough, minRun } = this.params;
    const anchorShift = 32 - ix.shared.anchorBits;
    const bucketBits = ix.shared.bucketBits;
    const bucketSize = ix.shared.bucketSize;
    const { anchors, blockKey, blockPos, blockMask } = ix;
    const selfHead = this.selfHead;
    const selfPrev = this.selfPrev;
    if (selfChain > 0) {
      selfHead.fill(0);
      if (selfPrev.length < n) this.selfPrev = new Int32Array(n);
    }
    const prev = this.selfPrev;
    // Module bindings as locals: outside a bundle each access would go through an export getter.
    const gear = GEAR;
    const KIND_SOURCE = KIND_COPY_SOURCE, KIND_TARGET = KIND_COPY_TARGET, KIND_R = KIND_RUN;

    list.clear();
    let lit = 0; // first byte not yet covered by an instruction
    // Instructions ending after `floor` are short copies (and the ADDs between them): a longer
    // source match found later may extend backwards over them and erase them (xdelta3's
    // "1.5-pass" promotion, which also does what lazy matching would).
    let floor = 0;
    let p = 0;
    let lastT = 0; // continuation: target offset and source position right after the last source copy
    let lastS = windowStart;
    let h = 0;
    let hp = 0; // h covers target bytes [.., hp)

    while (p + 4 <= n) {
      let bestLen = 0; // bytes covered from bestStart
      let bestStart = p;
      let bestKind = 0;
      let bestPos = 0;

      // 1. Continuation of the previous source copy.
      const pred = lastS + (p - lastT);
      if (pred >= 0 && pred + 4 <= srcSize && S[pred] === T[p] && S[pred + 1] === T[p + 1]
        && S[pred + 2] === T[p + 2] && S[pred + 3] === T[p + 3]) {
        const len = forwardMatch(T, p, S, pred, Math.min(n - p, srcSize - pred));
        if (len >= minContinuation) { bestLen = len; bestKind = KIND_SOURCE; bestPos = pred; }
      }

      if (bestLen < goodEnough) {
        // 2. RUN.
        const b = T[p]!;
        if (T[p + 1] === b && T[p + 2] === b && T[p + 3] === b) {
          let r = 4;
          while (p + r < n && T[p + r] === b) r++;
          if (r >= minRun && r > bestLen) { bestLen = r; bestStart = p; bestKind = KIND_R; bestPos = p; }
        }

        // 3. Block index at aligned positions.
        if ((p & (BLOCK_SIZE - 1)) === 0 && p + BLOCK_SIZE <= n && bestLen < BLOCK_SIZE) {
          const key = blockHash(tWords, p >>> 2);
          let slot = key & blockMask;
          for (;;) {
            const bp = blockPos[slot]!;
            if (bp === 0) break;
            if (blockKey[slot] === key) {
              const sp = (bp - 1) * BLOCK_SIZE;
              const f = forwardMatch(T, p, S, sp, Math.min(n - p, srcSize - sp));
              if (f >= BLOCK_SIZE) {
                const back = backwardMatch(T, p, S, sp, Math.min(p - floor, sp));
                if (f + back > bestLen) { bestLen = f + back; bestStart = p - back; bestKind = KIND_SOURCE; bestPos = sp - back; }
              }
              break;
            }
            slot = (slot + 1) & blockMask;
          }
        }

        // 4. Anchor index.
        while (hp <= p) h = ((h << 1) + gear[T[hp++]!]!) | 0;
        if (h >>> anchorShift === 0) {
          const base = anchorBucket(h, bucketBits) * bucketSize * 2;
          const hu = h >>> 0;
          for (let j = base; j < base + bucketSize * 2; j += 2) {
            const ap = anchors[j]!;
            if (ap === 0) break;
            if (anchors[j + 1] !== hu) continue;
            const sp = ap - 1;
            if (S[sp] !== T[p]) continue;
            const f = forwardMatch(T, p, S, sp, Math.min(n - p, srcSize - sp));
            const back = backwardMatch(T, p, S, sp, Math.min(p - floor, sp));
            if (f + back > bestLen && f + back >= minSourceMatch) {
              bestLen = f + back; bestStart = p - back; bestKind = KIND_SOURCE; bestPos = sp - back;
            }
          }
        }

        // 5. Target self-match: only long repeats are worth it (levels.ts), so every position is
        // inserted but candidates are looked up every SELF_STRIDE bytes and extended backwards.
        if (selfChain > 0 && p + 8 <= n) {
          const hs = Math.imul(T[p]! | (T[p + 1]! << 8) | (T[p + 2]! << 16) | (T[p + 3]! << 24), 0x9e3779b1)
            ^ Math.imul(T[p + 4]! | (T[p + 5]! << 8) | (T[p + 6]! << 16) | (T[p + 7]! << 24), 0x85ebca6b);
          const slot = hs >>> (32 - SELF_HASH_BITS);
          if ((p & (SELF_STRIDE - 1)) === 0 && bestLen < minSelfMatch * 4) {
            let c = selfHead[slot]! - 1;
            for (let k = 0; k < selfChain && c >= 0; k++) {
              if (T[c] === T[p] && T[c + 7] === T[p + 7]) {
                const f = forwardMatch(T, p, T, c, n - p);
                const back = backwardMatch(T, p, T, c, Math.min(p - lit, c));
                if (f + back >= minSelfMatch && f + back > bestLen) {
                  bestLen = f + back; bestStart = p - back; bestKind = KIND_TARGET; bestPos = c - back;
                }
              }
              c = prev[c]! - 1;
            }
          }
          prev[p] = selfHead[slot]!;
          selfHead[slot] = p + 1;
        }
      }

      if (bestKind === 0) { p++; continue; }

      if (bestStart < lit) {
        // Erase the instructions the match covers whole; it starts where the others end.
        while (list.count > 0 && lit - list.size[list.count - 1]! >= bestStart) {
          lit -= list.size[list.count - 1]!;
          list.count--;
        }
        if (bestStart < lit) { const cut = lit - bestStart; bestStart = lit; bestLen -= cut; bestPos += cut; }
      }
      if (bestStart > lit) list.push(KIND_ADD, bestStart - lit, lit);
      list.push(bestKind, bestLen, bestPos);
      if (bestKind === KIND_SOURCE) {
        lastT = bestStart + bestLen;
        lastS = bestPos + bestLen;
      }
      p = lit = bestStart + bestLen;
      if (bestKind !== KIND_SOURCE || bestLen >= goodEnough) floor = lit;
      if (hp < p - GEAR_SPAN) { hp = p - GEAR_SPAN; h = 0; }
    }
    if (lit < n) list.push(KIND_ADD, n - lit, lit);
    return programStats(list);
  }
}

/** Byte counts of `list`'s program by instruction kind. */
export function programStats(list: InstructionList): WindowMatchStats {
  const stats: WindowMatchStats = { added: 0, run: 0, copiedSource: 0, copiedTarget: 0 };
  for (let i = 0; i < list.count; i++) {
    const k = list.kind[i]!, size = list.size[i]!;
    if (k === KIND_ADD) stats.added += size;
    else if (k === KIND_RUN) stats.run += size;
    else if (k === KIND_COPY_SOURCE) stats.copiedSource += size;
    else stats.copiedTarget += size;
  }
  return stats;
}
