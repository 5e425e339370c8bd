/**
 * xdelta3's DJW secondary decompressor (secondary id 1): static Huffman coding with 1-8 code tables
 * chosen per sector, the tables' code lengths sent with move-to-front and "1-2" run coding (after
 * D. J. Wheeler and bzip2). Stateless per section. Bits are taken from each byte least-significant
 * first and assembled most-significant first.
 */

const ALPHABET = 256;
/** Code-length alphabet: RUN_0, RUN_1 and lengths 1..20. */
const TOTAL_CODES = 22;
const MAX_CODELEN = 20;
const MAX_CLCLEN = 15;
const MAX_GBCLEN = 7;
const RUN_1 = 1;
const EXTRA_12OFFSET = 7;
const SECTORSZ_MULT = 5;
/** Initial move-to-front order of the code-length alphabet (0, then xdelta3's "basic" and "extra" lists). */
const CLEN_MTF_INIT = [0, 4, 5, 6, 7, 8, 9, 10, 3, 11, 2, 12, 13, 1, 14, 15, 16, 17, 18, 19, 20];

/** Why a DJW section could not be decoded (the caller adds where). */
export class DjwProblem extends Error {}

/**
 * Bits in stream order: each byte's bits from least to most significant. Up to 32 bits are kept in
 * `acc` (next bit = lowest) so the Huffman decoder can look several bits ahead at once.
 */
class BitReader {
  private acc = 0;
  private count = 0;
  constructor(
    private readonly buf: Uint8Array,
    private pos: number,
    private readonly end: number,
  ) {}

  /** True when every input byte was needed and none is left over (xdelta3 requires this). */
  get exhausted(): boolean {
    return this.pos >= this.end && this.count < 8;
  }

  private fill(): void {
    while (this.count <= 24 && this.pos < this.end) {
      this.acc |= this.buf[this.pos++]! << this.count;
      this.count += 8;
    }
  }

  bit(): number {
    if (this.count === 0) {
      this.fill();
      if (this.count === 0) throw new DjwProblem("compressed section ends early");
    }
    const b = this.acc & 1;
    this.acc >>>= 1;
    this.count--;
    return b;
  }

  /** The next `n` (<= 24) bits in stream order, first bit lowest; missing bits at the end read as 0. */
  peek(n: number): number {
    if (this.count < n) this.fill();
    return this.acc & ((1 << n) - 1);
  }

  /** Whether `n` more bits exist. */
  has(n: number): boolean {
    if (this.count < n) this.fill();
    return this.count >= n;
  }

  skip(n: number): void {
    this.acc >>>= n;
    this.count -= n;
  }

  /** `n` bits assembled most significant first (xdelta3's xd3_decode_bits). */
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | this.bit();
    return v;
  }
}

/** Bits resolved by one table lookup; longer codes take the bit-by-bit path. */
const LOOKUP_BITS = 10;
/** Lookup entry for "not resolved within LOOKUP_BITS bits". */
const LOOKUP_MISS = 0;

/** Canonical Huffman decoder built like xdelta3's djw_build_decoder (zlib inftrees style). */
class Decoder {
  readonly inorder: Uint16Array;
  readonly base = new Int32Array(TOTAL_CODES + 2);
  readonly limit = new Int32Array(TOTAL_CODES + 2);
  minLen = 0;
  maxLen = 0;
  count = 0;

  constructor(asize: number) {
    this.inorder = new Uint16Array(asize);
  }

  build(clen: Uint8Array, offset: number, asize: number, absMax: number): void {
    const nr = new Int32Array(absMax + 2);
    for (let i = 0; i < asize; i++) {
      const l = clen[offset + i]!;
      if (l > absMax) throw new DjwProblem("code length out of range");
      nr[l]!++;
    }
    let min = 1;
    while (min <= absMax && nr[min] === 0) min++;
    let max = absMax;
    while (max > 0 && nr[max] === 0) max--;
    this.count = asize - nr[0]!;
    this.minLen = min;
    this.maxLen = max;
    if (this.count === 0) return;
    const tmpBase = new Int32Array(absMax + 2);
    this.base[min] = 0;
    this.limit[min] = nr[min]! - 1;
    for (let i = min + 1; i <= max; i++) {
      const lastLimit = (this.limit[i - 1]! + 1) * 2;
      tmpBase[i] = tmpBase[i - 1]! + nr[i - 1]!;
      this.limit[i] = lastLimit + nr[i]! - 1;
      this.base[i] = lastLimit - tmpBase[i]!;
    }
    for (let i = 0; i < asize; i++) {
      const l = clen[offset + i]!;
      if (l !== 0) this.inorder[tmpBase[l]!++] = i;
    }
  }

  /**
   * Resolves every LOOKUP_BITS-bit stream prefix the way `decodeSlow` would: (length << 16 | symbol),
   * or LOOKUP_MISS when the code is longer (or invalid: the slow path then reports it).
   */
  buildLookup(): void {
    const lookup = this.lookup ?? new Int32Array(1 << LOOKUP_BITS);
    this.lookup = lookup;
    const { minLen, maxLen, limit, base, count, inorder } = this;
    const longest = Math.min(maxLen, LOOKUP_BITS);
    for (let prefix = 0; prefix < 1 << LOOKUP_BITS; prefix++) {
      let entry = LOOKUP_MISS;
      let code = 0;
      for (let len = 1; len <= longest; len++) {
        code = code * 2 + ((prefix >>> (len - 1)) & 1);
        if (len >= minLen && code <= limit[len]!) {
          const offset = code - base[len]!;
          if (offset >= 0 && offset < count) entry = (len << 16) | inorder[offset]!;
          break;
        }
      }
      lookup[prefix] = entry;
    }
  }

  private lookup: Int32Array | undefined;

  /** Decodes one symbol: by table when built and enough bits remain, else bit by bit. */
  decode(bits: BitReader): number {
    const lookup = this.lookup;
    if (lookup !== undefined) {
      const entry = lookup[bits.peek(LOOKUP_BITS)]!;
      if (entry !== LOOKUP_MISS && bits.has(entry >>> 16)) {
        bits.skip(entry >>> 16);
        return entry & 0xffff;
      }
    }
    return this.decodeSlow(bits);
  }

  private decodeSlow(bits: BitReader): number {
    let code = 0;
    let len = 0;
    const { minLen, maxLen, limit } = this;
    for (;;) {
      if (len === maxLen) throw new DjwProblem("invalid Huffman code");
      code = code * 2 + bits.bit();
      len++;
      if (len >= minLen && code <= limit[len]!) break;
    }
    const offset = code - this.base[len]!;
    if (offset < 0 || offset >= this.count) throw new DjwProblem("invalid Huffman code");
    return this.inorder[offset]!;
  }
}

/** Move-to-front + 1-2 run decoding of `elts` values (code lengths or sector selectors). */
function decode12(
  bits: BitReader,
  decoder: Decoder,
  mtf: Uint8Array,
  elts: number,
  skipOffset: number,
  values: Uint8Array,
): void {
  let n = 0;
  let rep = 0;
  let pending = 0;
  let shift = 0;
  while (n < elts) {
    // For the second and later code tables, symbols absent from the previous table stay absent.
    if (skipOffset !== 0 && n >= skipOffset && values[n - skipOffset] === 0) {
      values[n++] = 0;
      continue;
    }
    if (rep !== 0) {
      values[n++] = mtf[0]!;
      rep--;
      continue;
    }
    if (pending !== 0) {
      if (pending >= mtf.length) throw new DjwProblem("move-to-front index out of range");
      const sym = mtf[pending]!;
      mtf.copyWithin(1, 0, pending);
      mtf[0] = sym;
      values[n++] = sym;
      pending = 0;
      continue;
    }
    const sym = decoder.decode(bits);
    if (sym <= RUN_1) {
      if (shift > 30) throw new DjwProblem("invalid repeat code");
      rep = (sym + 1) * 2 ** shift;
      if (rep > elts - n) throw new DjwProblem("invalid repeat code");
      shift++;
    } else {
      pending = sym - 1;
      shift = 0;
    }
  }
  if (rep !== 0) throw new DjwProblem("invalid repeat code");
}

/** Decodes one DJW section `input[start, end)` into exactly out[0, outLength). All input must be used. */
export function decodeDjw(input: Uint8Array, start: number, end: number, out: Uint8Array, outLength: number): void {
  if (outLength === 0) throw new DjwProblem("invalid output size 0");
  const bits = new BitReader(input, start, end);
  const groups = bits.bits(3) + 1;
  const sectorSize = groups > 1 ? (bits.bits(5) + 1) * SECTORSZ_MULT : outLength;
  const sectors = Math.floor((outLength - 1) / sectorSize) + 1;

  // Code lengths of every group's table, themselves Huffman coded.
  const extra = bits.bits(4) + EXTRA_12OFFSET;
  const clclen = new Uint8Array(TOTAL_CODES);
  for (let i = 0; i < extra; i++) clclen[i] = bits.bits(4);
  const clDecoder = new Decoder(TOTAL_CODES);
  clDecoder.build(clclen, 0, TOTAL_CODES, MAX_CLCLEN);
  const clMtf = Uint8Array.from(CLEN_MTF_INIT);
  const clen = new Uint8Array(ALPHABET * groups);
  decode12(bits, clDecoder, clMtf, ALPHABET * groups, ALPHABET, clen);
  const tables: Decoder[] = [];
  for (let g = 0; g < groups; g++) {
    const d = new Decoder(ALPHABET);
    d.build(clen, g * ALPHABET, ALPHABET, MAX_CODELEN);
    tables.push(d);
  }

  // Which table each sector uses.
  const selectors = new Uint8Array(sectors);
  if (groups > 1) {
    const selClen = new Uint8Array(groups + 1);
    const selMtf = new Uint8Array(groups + 1);
    for (let g = 0; g <= groups; g++) {
      selClen[g] = bits.bits(3);
      selMtf[g] = g;
    }
    const selDecoder = new Decoder(groups + 1);
    selDecoder.build(selClen, 0, groups + 1, MAX_GBCLEN);
    decode12(bits, selDecoder, selMtf, sectors, 0, selectors);
  }

  // Table lookups pay off once a section is more than a few hundred symbols.
  if (outLength >= 1024) for (const table of tables) if (table.count > 0) table.buildLookup();
  let o = 0;
  for (let c = 0; c < sectors; c++) {
    const g = selectors[c]!;
    if (g >= groups) throw new DjwProblem("sector selects a code table that does not exist");
    const table = tables[g]!;
    const stop = Math.min(outLength, o + sectorSize);
    while (o < stop) out[o++] = table.decode(bits);
  }
  if (!bits.exhausted) throw new DjwProblem("finished with unused input");
}
