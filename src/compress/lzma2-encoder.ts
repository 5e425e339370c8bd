/**
 * LZMA2 framing around the LZMA encoder: the stream is cut into chunks of at most 2 MiB of input
 * and 64 KiB of output; a chunk that would not shrink is stored raw instead (and the model is
 * then reset, since the decoder never saw the symbols the encoder adapted to).
 */
import { LzmaEncoder } from "./lzma-encoder.js";
import * as layout from "./lzma-layout.js";

// Local copies: a module loader that turns imports into property reads (tsx in the tests) would
// otherwise pay for one on every use in the hot loops.
const { MATCH_LEN_MAX } = layout;

const UNCOMPRESSED_MAX = 1 << 21;
const COMPRESSED_MAX = 1 << 16;
const RAW_CHUNK_MAX = 1 << 16;
/**
 * A primed history enters the match finder at every PRIME_STRIDE-th position only (prime): a
 * quarter of the work, and a match into it is found at most 3 bytes after it starts. Pair B's
 * payload in two parts with 16 MiB of history: every position 8,776,704 bytes, every 4th 8,780,800,
 * every 8th 8,786,944; the second part's priming takes a quarter of the time.
 */
const PRIME_STRIDE = 4;
/** Room kept in a chunk's output for one more symbol (a symbol codes to at most ~20 bytes). */
const SYMBOL_MARGIN = 64;

export interface Lzma2EncoderOptions {
  /** Dictionary size: the longest distance a match may reach. */
  dictSize: number;
  /** Matches this long are taken at once (longer: slower, a little smaller). Default 128. */
  niceLen?: number;
  /** Hash chain entries examined per position (longer: slower, a little smaller). Default 48. */
  depth?: number;
  /** The parser: "normal" (optimal parsing, default) or "fast" (greedy, about 2x faster, ~6% larger). */
  mode?: "normal" | "fast";
  /** The input's expected size, if known: the match finder's window starts that large (lz-match-finder.ts). */
  expectedInput?: number;
  /** All of the input (history included) in place, with zero padding after it (MatchFinderOptions.inPlace). */
  inPlace?: Uint8Array;
}

export class Lzma2Encoder {
  private readonly lzma: LzmaEncoder;
  private chunkOpen = false;
  private chunkStart = 0;
  private needDictReset = true;
  private needProps = true;
  private needStateReset = true;
  /** Stream positions below this are history (prime): entered into the dictionary, not coded. */
  private primedEnd = 0;

  /** `emit` receives each piece of the LZMA2 stream (a fresh array, the caller may keep it). */
  constructor(
    options: Lzma2EncoderOptions,
    private readonly emit: (bytes: Uint8Array) => void,
  ) {
    this.lzma = new LzmaEncoder({
      mode: options.mode ?? "normal",
      dictSize: options.dictSize,
      niceLen: options.niceLen ?? 128,
      depth: options.depth ?? 48,
      keepExtra: UNCOMPRESSED_MAX,
      expectedInput: options.expectedInput,
      inPlace: options.inPlace,
    });
  }

  write(data: Uint8Array): void {
    let start = 0;
    while (start < data.length) {
      start += this.lzma.mf.append(data, start, data.length);
      this.encode(false);
    }
  }

  /**
   * Makes `history` the bytes before this encoder's input, as if an earlier part of the same LZMA2
   * stream had held them: they enter the dictionary (matches may reach back into them) but are not
   * coded, and the first chunk resets the state and properties, not the dictionary. Parts of one
   * stream can so be coded in parallel, each primed with the input before it (xz-parallel-stream.ts).
   * Only before the first write. The decoder's position at the first coded byte must be a
   * multiple of 4, as `history.length` is (pb = 2: the model's position bits).
   */
  prime(history: Uint8Array): void {
    if (this.lzma.pos !== 0 || this.lzma.mf.end !== 0) throw new Error("prime() after write()");
    if (history.length % 4 !== 0) throw new RangeError(`LZMA2 history of ${history.length} bytes: a multiple of 4 keeps the position bits`);
    this.needDictReset = false;
    this.primedEnd = history.length;
    this.write(history);
  }

  /** Codes what is left and writes the end marker (`marker` false: a part another part continues). */
  end(marker = true): void {
    this.encode(true);
    if (this.chunkOpen) this.closeChunk();
    if (marker) this.emit(new Uint8Array([0x00]));
    this.lzma.mf.release();
  }

  private encode(final: boolean): void {
    const lzma = this.lzma;
    const mf = lzma.mf;
    const rc = lzma.rc;
    for (;;) {
      const left = mf.base + mf.end - lzma.pos;
      // Without the final bytes the parser's view (what it plans over, plus a full match length)
      // must be complete, so the output never depends on how the input was split.
      if (left === 0 || (!final && left < lzma.lookahead)) return;
      if (lzma.pos < this.primedEnd) {
        // History: entered as the coder would (each position with the bytes after it in view).
        const n = Math.min(this.primedEnd - lzma.pos, final ? left : left - lzma.lookahead + 1);
        mf.skip(n, PRIME_STRIDE);
        lzma.pos += n;
        continue;
      }
      if (!this.chunkOpen) {
        rc.reset();
        if (this.needStateReset) lzma.resetState();
        this.chunkStart = lzma.pos;
        this.chunkOpen = true;
      }
      lzma.step();
      if (lzma.pos - this.chunkStart > UNCOMPRESSED_MAX - MATCH_LEN_MAX || rc.pending > COMPRESSED_MAX - SYMBOL_MARGIN) {
        this.closeChunk();
      }
    }
  }

  private closeChunk(): void {
    const lzma = this.lzma;
    const rc = lzma.rc;
    rc.finish();
    this.chunkOpen = false;
    const unpacked = lzma.pos - this.chunkStart;
    const packed = rc.outPos;
    const rawChunks = Math.ceil(unpacked / RAW_CHUNK_MAX);
    if (packed + 6 >= unpacked + 3 * rawChunks) {
      this.storeRaw(unpacked);
      return;
    }
    const reset = this.needDictReset ? 3 : this.needProps ? 2 : this.needStateReset ? 1 : 0;
    const header = new Uint8Array(reset >= 2 ? 6 : 5);
    header[0] = 0x80 | (reset << 5) | ((unpacked - 1) >>> 16);
    header[1] = ((unpacked - 1) >>> 8) & 0xff;
    header[2] = (unpacked - 1) & 0xff;
    header[3] = ((packed - 1) >>> 8) & 0xff;
    header[4] = (packed - 1) & 0xff;
    if (reset >= 2) header[5] = layout.ENCODER_PROPS;
    const chunk = new Uint8Array(header.length + packed);
    chunk.set(header);
    chunk.set(rc.out.subarray(0, packed), header.length);
    this.emit(chunk);
    this.needDictReset = this.needProps = this.needStateReset = false;
  }

  /** Writes the chunk's input as raw LZMA2 chunks (it did not compress). */
  private storeRaw(unpacked: number): void {
    const mf = this.lzma.mf;
    let at = this.chunkStart - mf.base;
    const end = at + unpacked;
    while (at < end) {
      const n = Math.min(RAW_CHUNK_MAX, end - at);
      const chunk = new Uint8Array(3 + n);
      chunk[0] = this.needDictReset ? 0x01 : 0x02;
      chunk[1] = ((n - 1) >>> 8) & 0xff;
      chunk[2] = (n - 1) & 0xff;
      chunk.set(mf.window.subarray(at, at + n), 3);
      this.emit(chunk);
      this.needDictReset = false;
      at += n;
    }
    // The encoder's model moved on with symbols the decoder never sees.
    this.needStateReset = true;
  }
}
