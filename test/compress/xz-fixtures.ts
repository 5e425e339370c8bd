/** Inputs and helpers for the xz decoder tests: deterministic data, the real xz CLI, chunked decoding. */
import { spawnSync } from "node:child_process";
import { XzDecoder, type XzDecoderOptions } from "../../src/compress/xz.js";

/** xorshift32: fixed-seed pseudo-random numbers, reproducible across runs. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Data that exercises every LZMA symbol kind: text, random runs, zeros, near and far repeats. */
export function mixedData(size: number, seed = 1): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(size);
  const words: Uint8Array[] = [];
  for (let k = 0; k < 300; k++) {
    const w = new Uint8Array(2 + Math.floor(r() * 8));
    for (let j = 0; j < w.length; j++) w[j] = 97 + Math.floor(r() * 26);
    words.push(w);
  }
  let pos = 0;
  while (pos < size) {
    const kind = r();
    if (kind < 0.4) {
      for (let n = 10 + Math.floor(r() * 150); n > 0 && pos < size; n--) {
        const w = words[Math.floor(r() * words.length)]!;
        for (let j = 0; j < w.length && pos < size; j++) out[pos++] = w[j]!;
        if (pos < size) out[pos++] = r() < 0.1 ? 10 : 32;
      }
    } else if (kind < 0.55) {
      for (let n = 100 + Math.floor(r() * 4000); n > 0 && pos < size; n--) out[pos++] = Math.floor(r() * 256);
    } else if (kind < 0.65) {
      pos = Math.min(size, pos + 10 + Math.floor(r() * 3000)); // zeros
    } else if (pos > 1000) {
      // A repeat from anywhere earlier, with a few changed bytes (what rootfs images look like).
      const from = Math.floor(r() * (pos - 500));
      const n = Math.min(size - pos, 50 + Math.floor(r() * 20000), pos - from);
      out.copyWithin(pos, from, from + n);
      for (let j = 0; j < n / 500; j++) out[pos + Math.floor(r() * n)] = Math.floor(r() * 256);
      pos += n;
    }
  }
  return out;
}

export function randomBytes(size: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(size);
  for (let k = 0; k < size; k++) out[k] = Math.floor(r() * 256);
  return out;
}

/** Compresses with the real xz CLI. */
export function xz(args: string[], input: Uint8Array): Buffer {
  const r = spawnSync("xz", [...args, "-c"], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`xz ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * Decodes `data` pushed in pieces of the sizes `chunk()` returns, pulling output in pieces of
 * the sizes `pull()` returns after every push; then end().
 */
export function decodeChunked(data: Uint8Array, chunk: () => number, pull: () => number = () => 1 << 16, options?: XzDecoderOptions): Buffer {
  const d = new XzDecoder(options);
  const parts: Buffer[] = [];
  let buf = Buffer.alloc(0);
  const drain = () => {
    for (;;) {
      const want = pull();
      if (buf.length < want) buf = Buffer.alloc(want);
      const n = d.readInto(buf, 0, want);
      if (n > 0) parts.push(Buffer.from(buf.subarray(0, n)));
      if (n < want) return;
    }
  };
  for (let at = 0; at < data.length; ) {
    const n = Math.max(1, Math.min(chunk(), data.length - at));
    d.push(data.subarray(at, at + n));
    at += n;
    drain();
  }
  drain();
  d.end();
  return Buffer.concat(parts);
}

export function decodeWhole(data: Uint8Array, options?: XzDecoderOptions): Buffer {
  return decodeChunked(data, () => data.length, () => 1 << 20, options);
}

/**
 * In a .xz file of one LZMA2 block: how many chunks continue the stream with a new coder state and
 * properties but the same dictionary, which is how each part after the first of a parallel xz
 * block starts (xz-parallel-stream.ts; a single encoder writes none).
 */
export function lzma2PartStarts(xz: Uint8Array): number {
  let at = 12 + (xz[12]! + 1) * 4; // stream header, then the block header
  let starts = 0;
  for (;;) {
    const control = xz[at]!;
    if (control === 0x00) return starts;
    if (control === 0x01 || control === 0x02) {
      at += 3 + ((xz[at + 1]! << 8) | xz[at + 2]!) + 1;
      continue;
    }
    if (control < 0x80) throw new Error(`bad LZMA2 control byte ${control} at ${at}`);
    const reset = (control >> 5) & 3;
    if (reset === 2) starts++;
    at += (reset >= 2 ? 6 : 5) + ((xz[at + 3]! << 8) | xz[at + 4]!) + 1;
  }
}
