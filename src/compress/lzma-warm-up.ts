/**
 * Runs the xz/LZMA decoder once over a small built-in stream before its first real use, so that
 * the runtime compiles its hot loop once, with type feedback from every path.
 *
 * Why: V8 optimizes `LzmaDecoder.decode` (one large function, the range decoder inline) as soon
 * as it is hot, when its rarely taken paths have never run: a match cut by the end of the output
 * asked for, the ring buffer wrapping, long lengths, the far distance slots, the fourth repeated
 * distance. Each of them, met later, discards the optimized code, and the function is compiled
 * again (about 45 ms each). Measured on pair A's stock delta (`xdelta3 -e -S lzma`, whose three
 * LZMA section streams are fed window by window): 9 compilations of that function, 379 ms of
 * compiler CPU; after this warm-up (about 40 ms) one, and the decode takes 0.14-0.23 s less CPU
 * (docs/xz.md, "Warm-up"). The stream decodes to `warmUpContent()` (test/compress), a 4 KiB
 * dictionary that wraps eight times, read back in pieces of 1 to 3000 bytes.
 */
import { WARM_UP_STREAM_BASE64 } from "./lzma-warm-up-stream.js";

/** Bytes of `warmUpContent()`. */
export const WARM_UP_SIZE = 32 * 1024;

let warmedUp = false;

/**
 * Decodes the built-in stream once per thread (later calls return at once). `decoder` makes the
 * decoder to warm (the real class, so the feedback is the real one's). Never throws: a warm-up
 * that fails only costs its speed-up.
 */
export function warmUpLzmaDecoder(decoder: () => WarmUpDecoder): void {
  if (warmedUp) return;
  warmedUp = true;
  decodeWarmUpStream(decoder);
}

/** The slice of XzDecoder the warm-up uses. */
export interface WarmUpDecoder {
  push(input: Uint8Array): void;
  readInto(out: Uint8Array, offset: number, length: number): number;
}

/**
 * Decodes the built-in stream with a decoder from `decoder`, in pieces of 1 to 3000 bytes (so
 * that matches are cut by the end of the output asked for). Returns what it decoded, or
 * undefined when the decoder threw (never rethrown).
 */
export function decodeWarmUpStream(decoder: () => WarmUpDecoder): Uint8Array | undefined {
  try {
    const d = decoder();
    d.push(new Uint8Array(Buffer.from(WARM_UP_STREAM_BASE64, "base64")));
    const out = new Uint8Array(WARM_UP_SIZE);
    let at = 0;
    let step = 1;
    while (at < out.length) {
      const n = d.readInto(out, at, Math.min(step, out.length - at));
      if (n === 0) break;
      at += n;
      step = ((step * 7 + 13) % 3000) + 1;
    }
    return out.subarray(0, at);
  } catch {
    // Nothing to do: the real stream is decoded (and checked) by a decoder of its own.
    return undefined;
  }
}

/**
 * The content of the warm-up stream: every kind of LZMA symbol, in pieces that a 4 KiB dictionary
 * sees again (text, repeated records, runs, copies from up to 4 KiB back) and some that it cannot
 * compress (random bytes, also at the start of every 4 KiB, repeated with the bytes before them
 * half-way to the next 4 KiB), from a fixed seed.
 */
export function warmUpContent(): Uint8Array {
  const out = new Uint8Array(WARM_UP_SIZE);
  let seed = 0x2545f491;
  const next = (below: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % below;
  };
  const words = ["mender", "binary", "delta", "rootfs", "partition", "image", "artifact", "update", "module", "the", "of", "a"];
  let n = 0;
  /** Where the current piece must stop: the next 4 KiB boundary. */
  let end = 0;
  /** The last 4 KiB boundary whose bytes were repeated. */
  let crossed = 0;
  const put = (b: number): void => {
    if (n < end) out[n++] = b;
  };
  while (n < out.length) {
    end = Math.min(out.length, (Math.floor(n / 4096) + 1) * 4096);
    // Each 4 KiB starts with bytes no match covers: a literal at the ring's first byte after it wrapped.
    if (n % 4096 < 48) {
      while (n % 4096 < 48) put(next(256));
      continue;
    }
    // Half-way through, those bytes and the ones before them again: a match whose source
    // crosses the end of the ring.
    const boundary = Math.floor(n / 4096) * 4096;
    if (boundary > crossed && n % 4096 >= 2048) {
      for (let p = boundary - 24; p < boundary + 24; p++) put(out[p]!);
      crossed = boundary;
      continue;
    }
    switch (next(6)) {
      case 0: // incompressible: literals without a match byte to lean on
        for (let k = 40 + next(200); k > 0; k--) put(next(256));
        break;
      case 1: // text: short and medium matches, near distances
        for (let k = 10 + next(30); k > 0; k--) for (const c of `${words[next(words.length)]} `) put(c.charCodeAt(0));
        break;
      case 2: // records that differ in one field: repeated distances (rep0..rep3)
        for (let k = 3 + next(8); k > 0; k--) for (const c of `id=${1000 + next(9000)};state=${next(4)};size=${next(100000)}\n`) put(c.charCodeAt(0));
        break;
      case 3: // a run: the longest lengths
        for (let k = 100 + next(700), b = next(3) * 0x7f; k > 0; k--) put(b);
        break;
      default: // a copy from up to 4 KiB back: far distance slots, across the ring's wrap
        if (n > 64) {
          const from = Math.max(0, n - 1 - next(Math.min(n, 4000)));
          for (let k = 2 + next(300), p = from; k > 0; k--) put(out[p++]!);
        }
    }
  }
  return out;
}
