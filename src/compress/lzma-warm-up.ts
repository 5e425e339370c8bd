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
 * (docs/xz.md, "Warm-up"). The stream (made by scripts/make-lzma-warm-up.ts, which also holds its
 * content's generator) uses a 4 KiB dictionary that wraps eight times, and is read back in pieces
 * of 1 to 3000 bytes.
 */
import { WARM_UP_STREAM_BASE64 } from "./lzma-warm-up-stream.js";

/** Bytes the warm-up stream decodes to. */
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
