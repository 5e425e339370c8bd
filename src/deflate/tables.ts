/**
 * The fixed tables of the deflate format (RFC 1951): length and distance codes with their extra
 * bits, the order of the code-length alphabet, and the static Huffman trees of block type 1.
 */
export const LITERALS = 256;
export const END_BLOCK = 256;
export const LENGTH_CODES = 29;
/** Literal/length alphabet: 256 literals, END_BLOCK, 29 length codes. */
export const L_CODES = LITERALS + 1 + LENGTH_CODES;
export const D_CODES = 30;
/** Code-length alphabet: lengths 0..15 plus the three repeat codes. */
export const BL_CODES = 19;
export const MAX_BITS = 15;
export const MAX_BL_BITS = 7;
export const REP_3_6 = 16;
export const REPZ_3_10 = 17;
export const REPZ_11_138 = 18;
export const MIN_MATCH = 3;
export const MAX_MATCH = 258;

export const EXTRA_LBITS = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0);
export const EXTRA_DBITS = Uint8Array.of(0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13);
export const EXTRA_BLBITS = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7);
/** The order in which a dynamic block header lists the code-length code lengths. */
export const BL_ORDER = Uint8Array.of(16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15);

/** Length code (0..28) of a match length minus MIN_MATCH (0..255). */
export const LENGTH_CODE = new Uint8Array(256);
/** First match length (minus MIN_MATCH) of each length code. */
export const BASE_LENGTH = new Uint16Array(LENGTH_CODES);
/** Distance code of distance-1: entries 0..255 directly, 256..511 for (distance-1) >> 7. */
export const DIST_CODE = new Uint8Array(512);
/** First distance (minus one) of each distance code. */
export const BASE_DIST = new Uint16Array(D_CODES);

{
  let length = 0;
  let code = 0;
  for (; code < LENGTH_CODES - 1; code++) {
    BASE_LENGTH[code] = length;
    for (let n = 0; n < 1 << EXTRA_LBITS[code]!; n++) LENGTH_CODE[length++] = code;
  }
  // Length 258 (255 here) has its own code, 28, although 227..257 would also reach it.
  LENGTH_CODE[length - 1] = code;
  let dist = 0;
  for (code = 0; code < 16; code++) {
    BASE_DIST[code] = dist;
    for (let n = 0; n < 1 << EXTRA_DBITS[code]!; n++) DIST_CODE[dist++] = code;
  }
  dist >>= 7;
  for (; code < D_CODES; code++) {
    BASE_DIST[code] = dist << 7;
    for (let n = 0; n < 1 << (EXTRA_DBITS[code]! - 7); n++) DIST_CODE[256 + dist++] = code;
  }
}

/** Reverses the low `len` bits of `code`: deflate sends Huffman codes most significant bit first. */
export function reverseBits(code: number, len: number): number {
  let res = 0;
  do {
    res |= code & 1;
    code >>= 1;
    res <<= 1;
  } while (--len > 0);
  return res >> 1;
}

/**
 * Canonical codes for the lengths in `len[0..maxCode]` (RFC 1951 3.2.2), written bit-reversed
 * into `code`. `blCount[b]` is the number of codes of length b.
 */
export function assignCodes(len: Uint16Array | Uint8Array, code: Uint16Array, maxCode: number, blCount: Uint16Array): void {
  const next = new Uint16Array(MAX_BITS + 1);
  let c = 0;
  for (let bits = 1; bits <= MAX_BITS; bits++) {
    c = (c + blCount[bits - 1]!) << 1;
    next[bits] = c;
  }
  for (let n = 0; n <= maxCode; n++) {
    const l = len[n]!;
    if (l !== 0) code[n] = reverseBits(next[l]!++, l);
  }
}

/** Code lengths and codes of the static trees (block type 1). */
export const STATIC_LTREE_LEN = new Uint16Array(L_CODES + 2);
export const STATIC_LTREE_CODE = new Uint16Array(L_CODES + 2);
export const STATIC_DTREE_LEN = new Uint16Array(D_CODES).fill(5);
export const STATIC_DTREE_CODE = new Uint16Array(D_CODES);

{
  const blCount = new Uint16Array(MAX_BITS + 1);
  for (let n = 0; n < L_CODES + 2; n++) {
    const l = n < 144 ? 8 : n < 256 ? 9 : n < 280 ? 7 : 8;
    STATIC_LTREE_LEN[n] = l;
    blCount[l]!++;
  }
  // The static literal tree has 288 codes (two unused) so that it is a complete code.
  assignCodes(STATIC_LTREE_LEN, STATIC_LTREE_CODE, L_CODES + 1, blCount);
  for (let n = 0; n < D_CODES; n++) STATIC_DTREE_CODE[n] = reverseBits(n, 5);
}
