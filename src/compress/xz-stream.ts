/**
 * A Node Transform that decompresses a whole .xz file (e.g. an Artifact member): concatenated
 * streams, stream padding and every check, through XzDecoder. Output comes in pieces of at most
 * 64 KiB and respects back-pressure, so memory stays bounded however well the data compresses.
 */
import { Transform, type TransformCallback } from "node:stream";
import { XzDecoder, type XzDecoderOptions } from "./xz-decoder.js";

const OUTPUT_PIECE = 64 * 1024;

class XzDecompressStream extends Transform {
  private readonly decoder: XzDecoder;
  /** Set while paused by back-pressure: continues the interrupted transform or flush. */
  private continuePump: (() => void) | null = null;
  /** Output buffer being filled; small outputs are copied out of it so it can be reused. */
  private piece: Buffer | null = null;
  /** The reader asked for data (possibly re-entrantly, from inside our own push). */
  private readWanted = false;

  constructor(options: XzDecoderOptions) {
    super();
    this.decoder = new XzDecoder(options);
  }

  // _write rather than _transform: Transform's own callback handling parks the write callback
  // until its _read runs, which a re-entrant read during our push can leave waiting forever.
  // Back-pressure is handled here instead: `pump` waits for `_read` whenever push() says so.
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.decoder.push(chunk);
    } catch (e) {
      callback(e as Error);
      return;
    }
    this.pump(callback, false);
  }

  override _flush(callback: TransformCallback): void {
    this.pump(callback, true);
  }

  override _read(size: number): void {
    this.readWanted = true;
    const resume = this.continuePump;
    if (resume) {
      this.continuePump = null;
      resume();
    } else {
      super._read(size);
    }
  }

  /** Emits output until the input is used up (then calls back) or the reader wants a pause. */
  private pump(callback: (error?: Error | null) => void, atEnd: boolean): void {
    try {
      for (;;) {
        const piece = (this.piece ??= Buffer.allocUnsafe(OUTPUT_PIECE));
        const n = this.decoder.readInto(piece, 0, piece.length);
        if (n === 0) break;
        let out: Buffer;
        if (n >= OUTPUT_PIECE / 4) {
          out = piece.subarray(0, n); // handed over: the next piece is a new buffer
          this.piece = null;
        } else {
          out = Buffer.from(piece.subarray(0, n)); // small: copy, so it does not pin 64 KiB
        }
        this.readWanted = false;
        if (!this.push(out) && !this.readWanted) {
          this.continuePump = () => this.pump(callback, atEnd);
          return;
        }
      }
      if (atEnd) this.decoder.end();
    } catch (e) {
      callback(e as Error);
      return;
    }
    callback();
  }
}

/** Node Transform for whole .xz files (Artifact members): concatenated streams, stream padding, checks. */
export function createXzDecompressStream(options: XzDecoderOptions = {}): Transform {
  return new XzDecompressStream(options);
}
