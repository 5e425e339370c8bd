/**
 * One part of a parallel xz block (xz-parallel-stream.ts): the LZMA2 chunks of `input[history..]`,
 * coded as a continuation of the block's stream. The `history` bytes before it (the input just
 * before the part, up to a dictionary's worth) enter the dictionary first without being coded,
 * so matches reach back across the cut as one encoder's would; the first chunk resets the coder's
 * state, not the dictionary. Parts made this way on any thread, concatenated in order and
 * followed by an end marker, are one LZMA2 stream that any xz decoder reads with one dictionary.
 */
import { Lzma2Encoder } from "./lzma2-encoder.js";

/** What every part of a stream is compressed with (plain data: it is posted to workers). */
export interface XzPartSettings {
  dictSize: number;
  /** The dictionary size as the filter's byte (see dictionaryFor). */
  dictByte: number;
  mode?: "normal" | "fast";
  niceLen?: number;
  depth?: number;
}

/**
 * The LZMA2 chunks of `input[history..]` (no end marker), `input[0, history)` its history (0 for
 * the block's first part). `history` must be a multiple of 4, and so must the part's offset in the
 * block (the model's position bits).
 */
export function encodeXzPart(input: Uint8Array, history: number, settings: XzPartSettings): Uint8Array {
  const pieces: Uint8Array[] = [];
  let size = 0;
  const lzma2 = new Lzma2Encoder(
    // The input is the match finder's window when its buffer has the padding after it (xz-parallel-stream.ts makes it so).
    { dictSize: settings.dictSize, mode: settings.mode, niceLen: settings.niceLen, depth: settings.depth, expectedInput: input.length, inPlace: input },
    (bytes) => {
      pieces.push(bytes);
      size += bytes.length;
    },
  );
  if (history > 0) lzma2.prime(input.subarray(0, history));
  lzma2.write(input.subarray(history));
  lzma2.end(false);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
