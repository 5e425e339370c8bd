/**
 * CRC64 (ECMA-182, reflected polynomial 0xC96C5795D7870F42) as xz's CRC64 block check.
 * The 64-bit value is kept as two uint32 halves so the loop needs no BigInt; slicing-by-4
 * (eight bytes per step) because the check runs over every decompressed byte.
 */
const LO = new Int32Array(8 * 256);
const HI = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let lo = n;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = (lo >>> 1) | (hi << 31);
    hi = hi >>> 1;
    if (carry) {
      lo ^= 0xd7870f42;
      hi ^= 0xc96c5795;
    }
  }
  LO[n] = lo;
  HI[n] = hi;
}
// Table t: the CRC of byte n followed by t zero bytes.
for (let t = 1; t < 8; t++) {
  for (let n = 0; n < 256; n++) {
    const lo = LO[(t - 1) * 256 + n]!;
    const hi = HI[(t - 1) * 256 + n]!;
    const idx = lo & 0xff;
    LO[t * 256 + n] = ((lo >>> 8) | (hi << 24)) ^ LO[idx]!;
    HI[t * 256 + n] = (hi >>> 8) ^ HI[idx]!;
  }
}

/** An incremental CRC64; `digestInto` writes the little-endian 8 bytes xz stores. */
export class Crc64 {
  private lo = -1;
  private hi = -1;

  update(data: Uint8Array, start = 0, end = data.length): void {
    let lo = this.lo;
    let hi = this.hi;
    let i = start;
    for (const stop8 = end - 8; i <= stop8; i += 8) {
      const w1 = lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
      const w2 = hi ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24));
      const a = 1792 + (w1 & 0xff);
      const b = 1536 + ((w1 >>> 8) & 0xff);
      const c = 1280 + ((w1 >>> 16) & 0xff);
      const d = 1024 + (w1 >>> 24);
      const e = 768 + (w2 & 0xff);
      const f = 512 + ((w2 >>> 8) & 0xff);
      const g = 256 + ((w2 >>> 16) & 0xff);
      const h = w2 >>> 24;
      lo = LO[a]! ^ LO[b]! ^ LO[c]! ^ LO[d]! ^ LO[e]! ^ LO[f]! ^ LO[g]! ^ LO[h]!;
      hi = HI[a]! ^ HI[b]! ^ HI[c]! ^ HI[d]! ^ HI[e]! ^ HI[f]! ^ HI[g]! ^ HI[h]!;
    }
    for (; i < end; i++) {
      const idx = (lo ^ data[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ LO[idx]!;
      hi = (hi >>> 8) ^ HI[idx]!;
    }
    this.lo = lo;
    this.hi = hi;
  }

  digestInto(out: Uint8Array, offset = 0): void {
    const lo = ~this.lo;
    const hi = ~this.hi;
    for (let k = 0; k < 4; k++) {
      out[offset + k] = (lo >>> (8 * k)) & 0xff;
      out[offset + 4 + k] = (hi >>> (8 * k)) & 0xff;
    }
  }
}

// Run both loops a few times at load (V8 collects type feedback only after a few calls): the
// 8-byte loop is otherwise optimized on-stack before the tail loop has ever run, and every
// later call with a tail then deoptimizes (measured: once per 1 MiB of checked output).
for (let k = 0; k < 20; k++) new Crc64().update(new Uint8Array(15));

