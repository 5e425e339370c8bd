/**
 * Length-limited Huffman code construction exactly as GNU gzip's and zlib's trees.c do it. The
 * exact tie-breaking matters: two valid Huffman codes for the same frequencies give different
 * bytes, and a stream is only rebuilt when every code length comes out as the original's.
 *
 *  - leaves enter a binary min-heap ordered by frequency, ties broken by subtree depth (smaller
 *    depth first), then by heap position;
 *  - the two smallest are merged repeatedly, the merged node taking the next index after the
 *    leaves;
 *  - lengths over the limit are repaired by moving leaves down (gzip's "overflow" loop), then
 *    reassigned to leaves in heap order, longest first;
 *  - a tree with fewer than two used symbols gets dummy symbols (0 or 1) of frequency 1.
 */
import { MAX_BITS, assignCodes } from "./tables.js";

/** One alphabet's tree: leaves 0..elems-1, internal nodes after them. */
export class HuffmanTree {
  /** Frequencies of the leaves (and internal nodes while building). */
  readonly freq: Uint32Array;
  /** Parent index while building, then code length: trees.c keeps both in one field. */
  readonly len: Uint16Array;
  readonly code: Uint16Array;
  /** Largest symbol with a nonzero frequency (after dummy symbols were added). */
  maxCode = -1;

  constructor(
    readonly elems: number,
    readonly maxLength: number,
    readonly extraBits: Uint8Array,
    readonly extraBase: number,
    readonly staticLen: Uint16Array | null,
  ) {
    this.freq = new Uint32Array(2 * elems + 1);
    this.len = new Uint16Array(2 * elems + 1);
    this.code = new Uint16Array(2 * elems + 1);
  }
}

/** 2 * L_CODES + 1: the heap of the largest alphabet, shared by all three trees. */
const HEAP_SIZE = 573;

/** Builds trees and sums the block's bit costs, the way flush_block needs them. */
export class TreeBuilder {
  /** Bits of the block with the dynamic trees (data, then tree headers added by the caller). */
  optLen = 0;
  /** Bits of the block's data with the static trees. */
  staticLen = 0;
  private readonly heap = new Int32Array(HEAP_SIZE);
  private readonly depth = new Uint8Array(HEAP_SIZE);
  readonly blCount = new Uint16Array(MAX_BITS + 1);
  private heapLen = 0;
  private heapMax = 0;

  build(t: HuffmanTree): void {
    const { freq, len, elems } = t;
    const heap = this.heap;
    const depth = this.depth;
    let maxCode = -1;
    this.heapLen = 0;
    this.heapMax = HEAP_SIZE;
    for (let n = 0; n < elems; n++) {
      if (freq[n] !== 0) {
        heap[++this.heapLen] = maxCode = n;
        depth[n] = 0;
      } else len[n] = 0;
    }
    // The format needs at least two codes (one of them may stay unused).
    while (this.heapLen < 2) {
      const node = (heap[++this.heapLen] = maxCode < 2 ? ++maxCode : 0);
      freq[node] = 1;
      depth[node] = 0;
      this.optLen--;
      if (t.staticLen) this.staticLen -= t.staticLen[node]!;
    }
    t.maxCode = maxCode;
    for (let n = this.heapLen >> 1; n >= 1; n--) this.downHeap(freq, n);
    let node = elems;
    do {
      const n = heap[1]!;
      heap[1] = heap[this.heapLen--]!;
      this.downHeap(freq, 1);
      const m = heap[1]!;
      heap[--this.heapMax] = n;
      heap[--this.heapMax] = m;
      freq[node] = freq[n]! + freq[m]!;
      depth[node] = Math.max(depth[n]!, depth[m]!) + 1;
      len[n] = len[m] = node;
      heap[1] = node++;
      this.downHeap(freq, 1);
    } while (this.heapLen >= 2);
    heap[--this.heapMax] = heap[1]!;
    this.assignLengths(t);
    assignCodes(len, t.code, maxCode, this.blCount);
  }

  private downHeap(freq: Uint32Array, k: number): void {
    const heap = this.heap;
    const depth = this.depth;
    const heapLen = this.heapLen;
    const v = heap[k]!;
    let j = k << 1;
    while (j <= heapLen) {
      let hj = heap[j]!;
      if (j < heapLen) {
        const h1 = heap[j + 1]!;
        if (freq[h1]! < freq[hj]! || (freq[h1] === freq[hj] && depth[h1]! <= depth[hj]!)) {
          j++;
          hj = h1;
        }
      }
      if (freq[v]! < freq[hj]! || (freq[v] === freq[hj] && depth[v]! <= depth[hj]!)) break;
      heap[k] = hj;
      k = j;
      j <<= 1;
    }
    heap[k] = v;
  }

  /** Code lengths from the parents, limited to maxLength, plus the block's bit costs. */
  private assignLengths(t: HuffmanTree): void {
    const { freq, len, maxCode, maxLength, extraBits, extraBase, staticLen } = t;
    const heap = this.heap;
    const blCount = this.blCount;
    blCount.fill(0);
    len[heap[this.heapMax]!] = 0; // the root
    let overflow = 0;
    let h = this.heapMax + 1;
    for (; h < HEAP_SIZE; h++) {
      const n = heap[h]!;
      let bits = len[len[n]!]! + 1;
      if (bits > maxLength) {
        bits = maxLength;
        overflow++;
      }
      len[n] = bits;
      if (n > maxCode) continue; // an internal node
      blCount[bits]!++;
      const xbits = n >= extraBase ? extraBits[n - extraBase]! : 0;
      const f = freq[n]!;
      this.optLen += f * (bits + xbits);
      if (staticLen) this.staticLen += f * (staticLen[n]! + xbits);
    }
    if (overflow === 0) return;
    // Move leaves from the longest level down until the code is complete again, two at a time.
    do {
      let bits = maxLength - 1;
      while (blCount[bits] === 0) bits--;
      blCount[bits]!--;
      blCount[bits + 1]! += 2;
      blCount[maxLength]!--;
      overflow -= 2;
    } while (overflow > 0);
    // Hand the corrected lengths to the leaves in heap order (least frequent first from the end).
    for (let bits = maxLength; bits !== 0; bits--) {
      let n = blCount[bits]!;
      while (n !== 0) {
        const m = heap[--h]!;
        if (m > maxCode) continue;
        if (len[m] !== bits) {
          this.optLen += (bits - len[m]!) * freq[m]!;
          len[m] = bits;
        }
        n--;
      }
    }
  }
}
