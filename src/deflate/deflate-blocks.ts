/**
 * The block layer of GNU gzip's and zlib's compressors (their trees.c): collects literals and
 * matches, decides where a block ends, and writes each block stored, with the static trees, or
 * with dynamic trees, whichever the cost estimate picks (ties go to static, then to the
 * compressed form). The two differ only in when a block ends (see BlockRules).
 */
import type { BitWriter } from "./bit-writer.js";
import { HuffmanTree, TreeBuilder } from "./huffman-tree.js";
import * as format from "./tables.js";

// Module-local copies of the imported tables: where the code runs through a CommonJS transform
// (the tests, tsx), each use of an import is a property getter call, once per symbol here.
const {
  BASE_DIST,
  BASE_LENGTH,
  BL_CODES,
  BL_ORDER,
  D_CODES,
  DIST_CODE,
  END_BLOCK,
  EXTRA_BLBITS,
  EXTRA_DBITS,
  EXTRA_LBITS,
  L_CODES,
  LENGTH_CODE,
  LITERALS,
  MAX_BITS,
  MAX_BL_BITS,
  REP_3_6,
  REPZ_11_138,
  REPZ_3_10,
  STATIC_DTREE_CODE,
  STATIC_DTREE_LEN,
  STATIC_LTREE_CODE,
  STATIC_LTREE_LEN,
} = format;

/** When a block ends besides the end of the input. */
export interface BlockRules {
  /** The symbol buffer's size: a block ends when it holds this many symbols less one. */
  symbolBuffer: number;
  /** gzip only: every 4096 symbols, end the block when it compresses well (levels 3..9). */
  earlyEnd: boolean;
}

/** gzip: LIT_BUFSIZE = DIST_BUFSIZE = 32 KiB. */
export const GZIP_BLOCKS: BlockRules = { symbolBuffer: 0x8000, earlyEnd: true };
/** zlib with memLevel 8: lit_bufsize = 1 << (8 + 6). */
export const ZLIB_BLOCKS: BlockRules = { symbolBuffer: 1 << 14, earlyEnd: false };

export class DeflateBlocks {
  private readonly ltree = new HuffmanTree(L_CODES, MAX_BITS, EXTRA_LBITS, LITERALS + 1, STATIC_LTREE_LEN);
  private readonly dtree = new HuffmanTree(D_CODES, MAX_BITS, EXTRA_DBITS, 0, STATIC_DTREE_LEN);
  private readonly bltree = new HuffmanTree(BL_CODES, MAX_BL_BITS, EXTRA_BLBITS, 0, null);
  private readonly trees = new TreeBuilder();
  /** Per symbol: the literal byte or the match length minus MIN_MATCH. */
  private readonly symLc: Uint8Array;
  /** Per symbol: 0 for a literal, else the match distance. */
  private readonly symDist: Uint16Array;
  private readonly symbolBuffer: number;
  /** Whether the early block end applies (gzip, levels 3..9). */
  private readonly earlyEnd: boolean;
  private lastLit = 0;
  private lastDist = 0;

  /** `symbols`: the symbol arrays to use (a DeflateScratch's; each symbol is written before it is read). */
  constructor(
    level: number,
    rules: BlockRules,
    private readonly out: BitWriter,
    symbols?: { symLc: Uint8Array; symDist: Uint16Array },
  ) {
    this.symbolBuffer = rules.symbolBuffer;
    this.symLc = symbols ? symbols.symLc.subarray(0, this.symbolBuffer) : new Uint8Array(this.symbolBuffer);
    this.symDist = symbols ? symbols.symDist.subarray(0, this.symbolBuffer) : new Uint16Array(this.symbolBuffer);
    this.earlyEnd = rules.earlyEnd && level > 2;
    this.initBlock();
  }

  private initBlock(): void {
    this.ltree.freq.fill(0, 0, L_CODES);
    this.dtree.freq.fill(0, 0, D_CODES);
    this.bltree.freq.fill(0, 0, BL_CODES);
    this.ltree.freq[END_BLOCK] = 1;
    this.trees.optLen = this.trees.staticLen = 0;
    this.lastLit = this.lastDist = 0;
  }

  /**
   * Records a literal (dist 0, lc the byte) or a match (dist, lc = length - MIN_MATCH). Returns
   * true when the block should end here. `inLength` is the input the block covers so far.
   */
  tally(dist: number, lc: number, inLength: number): boolean {
    const i = this.lastLit++;
    this.symLc[i] = lc;
    this.symDist[i] = dist;
    if (dist === 0) this.ltree.freq[lc]!++;
    else {
      this.ltree.freq[LENGTH_CODE[lc]! + LITERALS + 1]!++;
      const d = dist - 1;
      this.dtree.freq[d < 256 ? DIST_CODE[d]! : DIST_CODE[256 + (d >> 7)]!]!++;
      this.lastDist++;
    }
    const lastLit = this.lastLit;
    if (this.earlyEnd && (lastLit & 0xfff) === 0) {
      // Every 4096 symbols: end the block early when it compresses well, so that the next
      // block's trees can adapt. The estimate counts 8 bits a symbol plus distance bits.
      let outLength = lastLit * 8;
      const dfreq = this.dtree.freq;
      for (let d = 0; d < D_CODES; d++) outLength += dfreq[d]! * (5 + EXTRA_DBITS[d]!);
      outLength = Math.floor(outLength / 8);
      if (this.lastDist < lastLit >>> 1 && outLength < Math.floor(inLength / 2)) return true;
    }
    return lastLit === this.symbolBuffer - 1 || this.lastDist === this.symbolBuffer;
  }

  /**
   * Writes the current block. `src[start..start+storedLen)` is its input when still in the
   * window (start < 0: it is not, and the block cannot be stored).
   */
  flush(src: Uint8Array, start: number, storedLen: number, last: boolean): void {
    const trees = this.trees;
    const out = this.out;
    trees.build(this.ltree);
    trees.build(this.dtree);
    const maxBlIndex = this.buildBlTree();
    let optLenb = (trees.optLen + 3 + 7) >>> 3;
    const staticLenb = (trees.staticLen + 3 + 7) >>> 3;
    if (staticLenb <= optLenb) optLenb = staticLenb;
    const eof = last ? 1 : 0;
    if (storedLen + 4 <= optLenb && start >= 0) {
      out.send((0 << 1) + eof, 3);
      out.alignToByte();
      out.send(storedLen & 0xffff, 16);
      out.send(~storedLen & 0xffff, 16);
      out.bytes(src, start, start + storedLen);
    } else if (staticLenb === optLenb) {
      out.send((1 << 1) + eof, 3);
      this.compressBlock(STATIC_LTREE_CODE, STATIC_LTREE_LEN, STATIC_DTREE_CODE, STATIC_DTREE_LEN);
    } else {
      out.send((2 << 1) + eof, 3);
      this.sendAllTrees(this.ltree.maxCode + 1, this.dtree.maxCode + 1, maxBlIndex + 1);
      this.compressBlock(this.ltree.code, this.ltree.len, this.dtree.code, this.dtree.len);
    }
    this.initBlock();
    if (last) out.alignToByte();
  }

  /** Tree for the code lengths of both trees; returns the last code-length code sent. */
  private buildBlTree(): number {
    this.scanTree(this.ltree);
    this.scanTree(this.dtree);
    this.trees.build(this.bltree);
    let maxBlIndex = BL_CODES - 1;
    for (; maxBlIndex >= 3; maxBlIndex--) if (this.bltree.len[BL_ORDER[maxBlIndex]!] !== 0) break;
    this.trees.optLen += 3 * (maxBlIndex + 1) + 5 + 5 + 4;
    return maxBlIndex;
  }

  /** Counts the code-length symbols that sendTree will write. */
  private scanTree(t: HuffmanTree): void {
    const blFreq = this.bltree.freq;
    codeLengthSymbols(t, (sym) => blFreq[sym]!++);
  }

  private sendTree(t: HuffmanTree): void {
    const blCode = this.bltree.code;
    const blLen = this.bltree.len;
    const out = this.out;
    codeLengthSymbols(t, (sym, extraBits, extra) => {
      out.send(blCode[sym]!, blLen[sym]!);
      if (extraBits !== 0) out.send(extra, extraBits);
    });
  }

  private sendAllTrees(lcodes: number, dcodes: number, blcodes: number): void {
    const out = this.out;
    out.send(lcodes - 257, 5);
    out.send(dcodes - 1, 5);
    out.send(blcodes - 4, 4);
    for (let rank = 0; rank < blcodes; rank++) out.send(this.bltree.len[BL_ORDER[rank]!]!, 3);
    this.sendTree(this.ltree);
    this.sendTree(this.dtree);
  }

  /**
   * Writes the block's symbols. The bit buffer is kept in locals here rather than sent through
   * the writer a code at a time: this loop runs once per symbol of every rebuilt file.
   */
  private compressBlock(lcode: Uint16Array, llen: Uint16Array, dcode: Uint16Array, dlen: Uint16Array): void {
    const out = this.out;
    const symLc = this.symLc;
    const symDist = this.symDist;
    const n = this.lastLit;
    // At most 48 bits a symbol (15 + 5 + 15 + 13), flushed a byte at a time: 6 bytes each.
    out.reserve(6 * n + 4);
    const buf = out.buf;
    let pos = out.pos;
    let bb = out.bits;
    let bc = out.bitCount;
    for (let i = 0; i < n; i++) {
      const lc = symLc[i]!;
      let dist = symDist[i]!;
      if (dist === 0) {
        bb |= lcode[lc]! << bc;
        bc += llen[lc]!;
      } else {
        let code = LENGTH_CODE[lc]!;
        bb |= lcode[code + LITERALS + 1]! << bc;
        bc += llen[code + LITERALS + 1]!;
        let extra = EXTRA_LBITS[code]!;
        if (extra !== 0) {
          bb |= (lc - BASE_LENGTH[code]!) << bc;
          bc += extra;
        }
        while (bc >= 8) {
          buf[pos++] = bb;
          bb >>>= 8;
          bc -= 8;
        }
        dist--;
        code = dist < 256 ? DIST_CODE[dist]! : DIST_CODE[256 + (dist >> 7)]!;
        bb |= dcode[code]! << bc;
        bc += dlen[code]!;
        extra = EXTRA_DBITS[code]!;
        if (extra !== 0) {
          while (bc >= 8) {
            buf[pos++] = bb;
            bb >>>= 8;
            bc -= 8;
          }
          bb |= (dist - BASE_DIST[code]!) << bc;
          bc += extra;
        }
      }
      while (bc >= 8) {
        buf[pos++] = bb;
        bb >>>= 8;
        bc -= 8;
      }
    }
    out.pos = pos;
    out.setBits(bb, bc);
    out.send(lcode[END_BLOCK]!, llen[END_BLOCK]!);
  }
}

/**
 * A tree's code lengths as the code-length alphabet writes them: a length, or a repeat of the
 * previous length (3..6 times), or a run of zeros (3..10, 11..138), in gzip's run limits.
 */
function codeLengthSymbols(t: HuffmanTree, emit: (sym: number, extraBits: number, extra: number) => void): void {
  const len = t.len;
  const maxCode = t.maxCode;
  let prevLen = -1;
  let nextLen = len[0]!;
  let count = 0;
  let maxCount = 7;
  let minCount = 4;
  if (nextLen === 0) (maxCount = 138), (minCount = 3);
  len[maxCode + 1] = 0xffff; // guard: ends the last run
  for (let n = 0; n <= maxCode; n++) {
    const curLen = nextLen;
    nextLen = len[n + 1]!;
    if (++count < maxCount && curLen === nextLen) continue;
    else if (count < minCount) {
      do emit(curLen, 0, 0);
      while (--count !== 0);
    } else if (curLen !== 0) {
      if (curLen !== prevLen) {
        emit(curLen, 0, 0);
        count--;
      }
      emit(REP_3_6, 2, count - 3);
    } else if (count <= 10) emit(REPZ_3_10, 3, count - 3);
    else emit(REPZ_11_138, 7, count - 11);
    count = 0;
    prevLen = curLen;
    if (nextLen === 0) (maxCount = 138), (minCount = 3);
    else if (curLen === nextLen) (maxCount = 6), (minCount = 3);
    else (maxCount = 7), (minCount = 4);
  }
}
