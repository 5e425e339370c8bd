/**
 * The LZMA decoder core under LZMA2: range decoder, probability model and the dictionary ring
 * buffer. It decodes one LZMA2 chunk at a time from a buffer that holds the whole compressed
 * chunk (at most 64 KiB), so the hot loop never waits for input; it can stop at any output
 * position (a match longer than the room left is finished on the next call).
 *
 * The range decoder and all bit-tree walks are written inline in `decode` with the coder state
 * in local variables: that is what makes this loop fast in V8 (no calls, no property writes per
 * bit). `range` and `code` are uint32 values kept as int32 bit patterns (compared with `>>> 0`)
 * so V8 never boxes them as doubles. Bits inside bit trees (literals, lengths, distances) are
 * close to random, so those are decoded without branches: with bit = 0/1 and mask = -bit,
 *   range = bit ? range - bound : bound       ->  bound + ((range - 2 * bound) & mask)
 *   code  = bit ? code - bound : code         ->  code - (bound & mask)
 *   prob += bit ? -(prob >> 5) : (2048 - prob) >> 5   ->  prob - ((prob - (2017 & ~mask)) >> 5)
 * (2017 = 2048 - 31 makes the arithmetic shift round like the unsigned one.) The mask is written
 * `0 - bit`: V8 may compute `-bit` as a double (-0 is one) and convert it back on every bit.
 * Inside the trees the range is renormalized without a branch too: after any bit (or direct
 * bit) 2^17 <= range, so clz32(range) is 8..14 exactly when its top byte is zero, and
 *   sh = clz32(range) & 8;  range <<= sh;  code = (code << sh) | (input[ip] >>> (8 - sh));  ip += sh >>> 3
 * A byte is needed about once per 8 near-random bits, too irregularly to predict: 5-10 % less CPU
 * on literal-heavy xz data, none lost on compressible data. The decisions that choose a code
 * path (is_match, is_rep...) stay branches. Probabilities live in one Uint16Array at the offsets below.
 */
import { XzError } from "./xz-error.js";

import * as layout from "./lzma-layout.js";

// Local copies: a module loader that turns imports into property reads (tsx in the tests) would
// otherwise pay for one on every use in the hot loops.
const { DIST_ALIGN, DIST_SLOT, DIST_SPECIAL, IS_MATCH, IS_REP, IS_REP0, IS_REP0_LONG, IS_REP1, IS_REP2, LEN_CHOICE2, LEN_HIGH, LEN_LOW, LEN_MID, LITERAL, MATCH_LEN, PROB_INIT, PROBS_SIZE, REP_LEN } = layout;
/**
 * Zero bytes the caller must provide after a chunk's compressed bytes: the range decoder checks
 * for overrun once per symbol, and one symbol consumes far fewer bytes than this.
 */
export const INPUT_PADDING = 64;

/** First dictionary allocation; it doubles up to the declared size only as output needs it. */
const DICT_INITIAL = 64 * 1024;

export class LzmaDecoder {
  /** The dictionary ring buffer; bytes [start, pos) after a `decode` are new output. */
  dict = new Uint8Array(0);
  /** Next write position in `dict`. */
  pos = 0;
  /** The declared dictionary size: no distance may reach further back. */
  private dictSize = 0;
  /** The ring has wrapped since the last reset: all of `dict` is history. */
  private wrapped = false;

  private readonly probs = new Uint16Array(PROBS_SIZE);
  private lc = 0;
  private lpMask = 0;
  private pbMask = 0;
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  /** Bytes of the current match still to be copied (the output room ran out). */
  private pendingLen = 0;

  private range = 0;
  private code = 0;
  private input: Uint8Array = new Uint8Array(0);
  private ip = 0;
  private inEnd = 0;
  /** Offset in the decoder's whole compressed input of input[0], for error messages. */
  private inputBase = 0;

  /** Starts a new dictionary of `size` bytes (empty history). */
  resetDictionary(size: number): void {
    this.dictSize = size;
    this.pos = 0;
    this.wrapped = false;
  }

  /** Sets lc/lp/pb from an LZMA properties byte; false when the byte is invalid for LZMA2. */
  setProperties(props: number): boolean {
    if (props > (4 * 5 + 4) * 9 + 8) return false;
    const pb = Math.floor(props / 45);
    const rest = props - pb * 45;
    const lp = Math.floor(rest / 9);
    const lc = rest - lp * 9;
    if (lc + lp > 4) return false;
    this.lc = lc;
    this.lpMask = (1 << lp) - 1;
    this.pbMask = (1 << pb) - 1;
    return true;
  }

  /** Resets the probability model, the state and the repeated distances. */
  resetState(): void {
    this.probs.fill(PROB_INIT);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
    this.pendingLen = 0;
  }

  /**
   * Makes room at `pos` (grows the buffer towards the declared size, or wraps the ring) and
   * returns how many bytes can be written contiguously from `pos`.
   */
  ensureSpace(): number {
    if (this.pos === this.dict.length) {
      if (this.dict.length < this.dictSize) {
        // Not wrapped yet (the ring only wraps at full size): growing keeps every position.
        const size = Math.min(this.dictSize, Math.max(this.dict.length * 2, DICT_INITIAL));
        const bigger = new Uint8Array(size);
        bigger.set(this.dict.subarray(0, this.pos));
        this.dict = bigger;
      } else {
        this.pos = 0;
        this.wrapped = true;
      }
    }
    return this.dict.length - this.pos;
  }

  /** Records n bytes written at `pos` by the caller (an LZMA2 uncompressed chunk). */
  advance(n: number): void {
    this.pos += n;
  }

  /**
   * Starts the range decoder on input[start..end), one whole LZMA chunk, followed by
   * INPUT_PADDING zero bytes. `inputOffset` is the offset of input[start] in the compressed
   * input. Returns false if the chunk cannot start so.
   */
  beginChunk(input: Uint8Array, start: number, end: number, inputOffset: number): boolean {
    if (end - start < 5 || input[start] !== 0) return false;
    this.input = input;
    this.inputBase = inputOffset - start;
    this.code = (input[start + 1]! << 24) | (input[start + 2]! << 16) | (input[start + 3]! << 8) | input[start + 4]!;
    this.range = -1; // 0xFFFFFFFF
    this.ip = start + 5;
    this.inEnd = end;
    return true;
  }

  /** After the chunk's last byte of output: true when the chunk ended exactly as LZMA2 requires. */
  finishChunk(): boolean {
    if (this.pendingLen !== 0) return false;
    if ((this.range & 0xff000000) === 0 && this.ip < this.inEnd) {
      this.range <<= 8;
      this.code = (this.code << 8) | this.input[this.ip++]!;
    }
    return this.ip === this.inEnd && this.code === 0;
  }

  /** Input offset just after the current chunk's compressed bytes. */
  get inputEnd(): number {
    return this.inputBase + this.inEnd;
  }

  /** Input offset the range decoder has reached (for error messages). */
  get inputOffset(): number {
    return this.inputBase + this.ip;
  }

  /** Decodes until `pos` reaches `limit` (limit <= dict.length, after ensureSpace). */
  decode(limit: number): void {
    const dict = this.dict;
    const dictLen = dict.length;
    const dictSize = this.dictSize;
    const probs = this.probs;
    const inp = this.input;
    const inEnd = this.inEnd;
    const lc = this.lc;
    const lpMask = this.lpMask;
    const pbMask = this.pbMask;
    const wrapped = this.wrapped;
    let range = this.range;
    let code = this.code;
    let ip = this.ip;
    let pos = this.pos;
    let state = this.state;
    let rep0 = this.rep0;
    let rep1 = this.rep1;
    let rep2 = this.rep2;
    let rep3 = this.rep3;
    let len = this.pendingLen;
    let i = 0;
    let p = 0;
    let bound = 0;
    let m = 0;

    for (;;) {
      if (len > 0) {
        // Copy (the rest of) a match: rep0 + 1 bytes back.
        let back = pos - rep0 - 1;
        if (back < 0) back += dictLen;
        let n = limit - pos;
        if (n > len) n = len;
        len -= n;
        if (back + n <= dictLen) {
          if (n > 32 && rep0 >= n) {
            dict.copyWithin(pos, back, back + n); // no overlap: a plain memmove
            pos += n;
          } else {
            // Overlapping (a run) or short: byte by byte, as LZ77 defines it.
            const end = pos + n;
            do dict[pos++] = dict[back++]!;
            while (pos < end);
          }
        } else {
          do {
            dict[pos++] = dict[back++]!;
            if (back === dictLen) back = 0;
          } while (--n > 0);
        }
      }
      if (pos >= limit) break;
      // One symbol reads at most ~20 bytes, so checking here (not per bit) with INPUT_PADDING
      // readable zero bytes after the chunk keeps every read in bounds.
      if (ip > inEnd) throw this.overrun(ip);

      const posState = pos & pbMask;
      // is_match[state][posState]
      i = IS_MATCH + (state << 4) + posState;
      if ((range & 0xff000000) === 0) {
        range <<= 8;
        code = (code << 8) | inp[ip++]!;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p);
      if (code >>> 0 < bound >>> 0) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
        // Literal.
        const prev = pos > 0 ? dict[pos - 1]! : wrapped ? dict[dictLen - 1]! : 0;
        const base = LITERAL + 0x300 * (((pos & lpMask) << lc) + (prev >>> (8 - lc)));
        m = 1;
        if (state < 7) {
          // Literal bits are close to random: decode them without branches (see the module comment).
          do {
            i = base + m;
            {
              const sh = Math.clz32(range) & 8;
              range <<= sh;
              code = (code << sh) | (inp[ip]! >>> (8 - sh));
              ip += sh >>> 3;
            }
            p = probs[i]!;
            bound = Math.imul(range >>> 11, p);
            const bit = +(code >>> 0 >= bound >>> 0);
            const mask = 0 - bit;
            range = (bound + ((range - bound - bound) & mask)) | 0;
            code = (code - (bound & mask)) | 0;
            probs[i] = p - ((p - (2017 & ~mask)) >> 5);
            m = (m << 1) | bit;
          } while (m < 0x100);
        } else {
          let back = pos - rep0 - 1;
          if (back < 0) back += dictLen;
          let matchByte = dict[back]!;
          let offset = 0x100;
          do {
            matchByte <<= 1;
            const matchBit = matchByte & offset;
            i = base + offset + matchBit + m;
            {
              const sh = Math.clz32(range) & 8;
              range <<= sh;
              code = (code << sh) | (inp[ip]! >>> (8 - sh));
              ip += sh >>> 3;
            }
            p = probs[i]!;
            bound = Math.imul(range >>> 11, p);
            const bit = +(code >>> 0 >= bound >>> 0);
            const mask = 0 - bit;
            range = (bound + ((range - bound - bound) & mask)) | 0;
            code = (code - (bound & mask)) | 0;
            probs[i] = p - ((p - (2017 & ~mask)) >> 5);
            m = (m << 1) | bit;
            // matchBit is 0 or offset: a 1 keeps offset only if the match byte had a 1 too.
            offset &= matchBit ^ ~mask;
          } while (m < 0x100);
        }
        dict[pos++] = m;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      range = (range - bound) | 0;
      code = (code - bound) | 0;
      probs[i] = p - (p >>> 5);

      // is_rep[state]
      let lenBase = MATCH_LEN;
      i = IS_REP + state;
      if ((range & 0xff000000) === 0) {
        range <<= 8;
        code = (code << 8) | inp[ip++]!;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p);
      const isRep = code >>> 0 >= bound >>> 0;
      if (!isRep) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
      } else {
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[i] = p - (p >>> 5);
        lenBase = REP_LEN;
        // is_rep0[state]
        i = IS_REP0 + state;
        if ((range & 0xff000000) === 0) {
          range <<= 8;
          code = (code << 8) | inp[ip++]!;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p);
        if (code >>> 0 < bound >>> 0) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          // is_rep0_long[state][posState]
          i = IS_REP0_LONG + (state << 4) + posState;
          if ((range & 0xff000000) === 0) {
            range <<= 8;
            code = (code << 8) | inp[ip++]!;
          }
          p = probs[i]!;
          bound = Math.imul(range >>> 11, p);
          if (code >>> 0 < bound >>> 0) {
            range = bound;
            probs[i] = p + ((2048 - p) >>> 5);
            // Short rep: one byte from rep0.
            if (rep0 >= dictSize || (!wrapped && rep0 >= pos)) throw this.badDistance(ip, rep0, pos);
            let back = pos - rep0 - 1;
            if (back < 0) back += dictLen;
            dict[pos] = dict[back]!;
            pos++;
            state = state < 7 ? 9 : 11;
            continue;
          }
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[i] = p - (p >>> 5);
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[i] = p - (p >>> 5);
          // is_rep1[state]
          let dist = 0;
          i = IS_REP1 + state;
          if ((range & 0xff000000) === 0) {
            range <<= 8;
            code = (code << 8) | inp[ip++]!;
          }
          p = probs[i]!;
          bound = Math.imul(range >>> 11, p);
          if (code >>> 0 < bound >>> 0) {
            range = bound;
            probs[i] = p + ((2048 - p) >>> 5);
            dist = rep1;
          } else {
            range = (range - bound) | 0;
            code = (code - bound) | 0;
            probs[i] = p - (p >>> 5);
            // is_rep2[state]
            i = IS_REP2 + state;
            if ((range & 0xff000000) === 0) {
              range <<= 8;
              code = (code << 8) | inp[ip++]!;
            }
            p = probs[i]!;
            bound = Math.imul(range >>> 11, p);
            if (code >>> 0 < bound >>> 0) {
              range = bound;
              probs[i] = p + ((2048 - p) >>> 5);
              dist = rep2;
            } else {
              range = (range - bound) | 0;
              code = (code - bound) | 0;
              probs[i] = p - (p >>> 5);
              dist = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = dist;
        }
      }

      // Match length: choice bit, choice2 bit, then a 3-bit low/mid or 8-bit high tree.
      let treeBase = 0;
      let treeLimit = 8;
      i = lenBase;
      if ((range & 0xff000000) === 0) {
        range <<= 8;
        code = (code << 8) | inp[ip++]!;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p);
      if (code >>> 0 < bound >>> 0) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
        treeBase = lenBase + LEN_LOW + (posState << 3);
        len = 2 - 8;
      } else {
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[i] = p - (p >>> 5);
        i = lenBase + LEN_CHOICE2;
        if ((range & 0xff000000) === 0) {
          range <<= 8;
          code = (code << 8) | inp[ip++]!;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p);
        if (code >>> 0 < bound >>> 0) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          treeBase = lenBase + LEN_MID + (posState << 3);
          len = 10 - 8;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[i] = p - (p >>> 5);
          treeBase = lenBase + LEN_HIGH;
          treeLimit = 256;
          len = 18 - 256;
        }
      }
      m = 1;
      do {
        i = treeBase + m;
        {
          const sh = Math.clz32(range) & 8;
          range <<= sh;
          code = (code << sh) | (inp[ip]! >>> (8 - sh));
          ip += sh >>> 3;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p);
        const bit = +(code >>> 0 >= bound >>> 0);
        const mask = 0 - bit;
        range = (bound + ((range - bound - bound) & mask)) | 0;
        code = (code - (bound & mask)) | 0;
        probs[i] = p - ((p - (2017 & ~mask)) >> 5);
        m = (m << 1) | bit;
      } while (m < treeLimit);
      len += m;

      if (isRep) {
        state = state < 7 ? 8 : 11;
      } else {
        state = state < 7 ? 7 : 10;
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        // Distance slot: 6-bit tree chosen by min(len - 2, 3).
        treeBase = DIST_SLOT + (len < 6 ? len - 2 : 3) * 64;
        m = 1;
        do {
          i = treeBase + m;
          {
            const sh = Math.clz32(range) & 8;
            range <<= sh;
            code = (code << sh) | (inp[ip]! >>> (8 - sh));
            ip += sh >>> 3;
          }
          p = probs[i]!;
          bound = Math.imul(range >>> 11, p);
          const bit = +(code >>> 0 >= bound >>> 0);
          const mask = 0 - bit;
          range = (bound + ((range - bound - bound) & mask)) | 0;
          code = (code - (bound & mask)) | 0;
          probs[i] = p - ((p - (2017 & ~mask)) >> 5);
          m = (m << 1) | bit;
        } while (m < 64);
        const slot = m - 64;
        if (slot < 4) {
          rep0 = slot;
        } else {
          const directBits = (slot >>> 1) - 1;
          rep0 = ((2 | (slot & 1)) << directBits) >>> 0;
          let reverseBits = directBits;
          if (slot < 14) {
            treeBase = DIST_SPECIAL + rep0 - slot - 1;
          } else {
            // Bits above the lowest four are coded at probability 1/2, then 4 "align" bits.
            let d = 0;
            for (let k = directBits - 4; k > 0; k--) {
              if ((range & 0xff000000) === 0) {
                range <<= 8;
                code = (code << 8) | inp[ip++]!;
              }
              range = range >>> 1;
              if (code >>> 0 >= range) {
                code = (code - range) | 0;
                d = d * 2 + 1;
              } else {
                d = d * 2;
              }
            }
            rep0 += d * 16;
            treeBase = DIST_ALIGN;
            reverseBits = 4;
          }
          m = 1;
          for (let k = 0; k < reverseBits; k++) {
            i = treeBase + m;
            {
              const sh = Math.clz32(range) & 8;
              range <<= sh;
              code = (code << sh) | (inp[ip]! >>> (8 - sh));
              ip += sh >>> 3;
            }
            p = probs[i]!;
            bound = Math.imul(range >>> 11, p);
            const bit = +(code >>> 0 >= bound >>> 0);
            const mask = 0 - bit;
            range = (bound + ((range - bound - bound) & mask)) | 0;
            code = (code - (bound & mask)) | 0;
            probs[i] = p - ((p - (2017 & ~mask)) >> 5);
            m = (m << 1) | bit;
            rep0 += bit << k;
          }
        }
      }
      if (rep0 >= dictSize || (!wrapped && rep0 >= pos)) throw this.badDistance(ip, rep0, pos);
    }

    this.range = range;
    this.code = code;
    this.ip = ip;
    this.pos = pos;
    this.state = state;
    this.rep0 = rep0;
    this.rep1 = rep1;
    this.rep2 = rep2;
    this.rep3 = rep3;
    this.pendingLen = len;
  }

  private overrun(ip: number): XzError {
    return new XzError(
      "corrupt",
      this.inputBase + ip,
      `xz data is corrupt: an LZMA2 chunk needs more compressed bytes than it declares (at compressed offset ${this.inputBase + ip}); the file is damaged or not what it claims to be — obtain it again`,
    );
  }

  /** `pos`: the decode loop's position (this.pos is only stored when the loop ends). */
  private badDistance(ip: number, rep0: number, pos: number): XzError {
    const have = this.wrapped ? this.dict.length : pos;
    return new XzError(
      "corrupt",
      this.inputBase + ip,
      `xz data is corrupt: an LZMA match refers ${rep0 + 1} bytes back but only ${Math.min(have, this.dictSize)} bytes of history exist (at compressed offset ${this.inputBase + ip}); the file is damaged — obtain it again`,
    );
  }
}
