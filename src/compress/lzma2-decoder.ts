/**
 * LZMA2: a sequence of chunks, each uncompressed (copied into the dictionary) or LZMA
 * (decoded by LzmaDecoder), with resets of the dictionary, the state and the properties
 * signalled in the chunk's control byte; a 0x00 control byte ends the data. This layer parses
 * chunk headers from the input queue, enforces the reset rules, and moves bytes from the
 * dictionary to the caller's output.
 */
import type { InputQueue } from "./input-queue.js";
import { INPUT_PADDING, LzmaDecoder } from "./lzma-decoder.js";
import { XzError } from "./xz-error.js";

const enum Phase {
  Control,
  Uncompressed,
  Lzma,
  Finished,
}

/** A complete LZMA chunk's compressed bytes (at most 64 KiB) are gathered here before decoding. */
const MAX_CHUNK_COMPRESSED = 1 << 16;

export class Lzma2Decoder {
  private readonly lzma = new LzmaDecoder();
  private readonly chunk = new Uint8Array(MAX_CHUNK_COMPRESSED + INPUT_PADDING);
  private phase = Phase.Finished;
  private needDictReset = true;
  private needProps = true;
  private dictSize = 0;
  /** Uncompressed bytes of the current chunk not produced yet. */
  private remaining = 0;
  /** Compressed size of the current LZMA chunk, 0 while it is not read from the queue yet. */
  private chunkSize = 0;
  /** Compressed size the current LZMA chunk's header declares (to wait for). */
  private pendingChunkSize = 0;
  /** Bytes produced since the last `start`. */
  produced = 0;
  /** Limits declared by the container; output or input beyond them is an error before it happens. */
  private maxOutput = Infinity;
  private inputEnd = Infinity;
  /** Describes where this data is, for error messages (e.g. "block 2"). */
  private where = "";

  /** Starts the LZMA2 data of a new xz block. */
  start(dictSize: number, maxOutput: number, inputEnd: number, where: string): void {
    this.dictSize = dictSize;
    this.maxOutput = maxOutput;
    this.inputEnd = inputEnd;
    this.where = where;
    this.phase = Phase.Control;
    this.needDictReset = true;
    this.needProps = true;
    this.produced = 0;
    this.remaining = 0;
    this.chunkSize = 0;
  }

  /** True after the end-of-data control byte. */
  get finished(): boolean {
    return this.phase === Phase.Finished;
  }

  /** Compressed bytes taken from the queue whose output is not produced yet. */
  get bufferedInput(): number {
    return this.phase === Phase.Lzma && this.chunkSize > 0 ? Math.max(1, this.lzma.inputEnd - this.lzma.inputOffset) : 0;
  }

  /** True when stopped inside a chunk (for truncation messages). */
  get insideChunk(): boolean {
    return this.phase === Phase.Uncompressed || this.phase === Phase.Lzma;
  }

  /**
   * Decodes into out[offset .. offset+length) and returns the count produced. Stops when the
   * output is full (after consuming an end-of-data byte that may follow), when the queue
   * cannot supply what comes next, or at the end of the data.
   */
  decode(q: InputQueue, out: Uint8Array, offset: number, length: number): number {
    let produced = 0;
    for (;;) {
      switch (this.phase) {
        case Phase.Finished:
          return produced;
        case Phase.Control: {
          if (q.length === 0) return produced;
          const control = q.peek(0);
          if (control === 0x00) {
            this.checkInputEnd(q.consumed + 1, q.consumed);
            q.skip(1);
            this.phase = Phase.Finished;
            return produced;
          }
          if (produced === length) return produced; // the next chunk produces output
          if (!this.readChunkHeader(q, control)) return produced;
          break;
        }
        case Phase.Uncompressed: {
          while (this.remaining > 0) {
            const n = Math.min(this.lzma.ensureSpace(), this.remaining, length - produced, q.length);
            if (n === 0) return produced;
            const lz = this.lzma;
            q.readInto(lz.dict, lz.pos, n);
            out.set(lz.dict.subarray(lz.pos, lz.pos + n), offset + produced);
            lz.advance(n);
            produced += n;
            this.remaining -= n;
            this.produced += n;
          }
          this.phase = Phase.Control;
          break;
        }
        case Phase.Lzma: {
          const lz = this.lzma;
          if (this.chunkSize === 0) {
            // Wait for the whole compressed chunk, then decode it without input checks in the way.
            const size = this.pendingChunkSize;
            if (q.length < size) return produced;
            const at = q.consumed;
            q.readInto(this.chunk, 0, size);
            this.chunk.fill(0, size, size + INPUT_PADDING);
            if (!lz.beginChunk(this.chunk, 0, size, at)) {
              throw this.corrupt(at, "an LZMA chunk does not start like one (first byte must be 0)");
            }
            this.chunkSize = size;
          }
          while (this.remaining > 0) {
            const n = Math.min(lz.ensureSpace(), this.remaining, length - produced);
            if (n === 0) return produced;
            const start = lz.pos;
            lz.decode(start + n);
            out.set(lz.dict.subarray(start, start + n), offset + produced);
            produced += n;
            this.remaining -= n;
            this.produced += n;
          }
          if (!lz.finishChunk()) {
            throw this.corrupt(lz.inputOffset, "an LZMA chunk's data does not end where its header says");
          }
          this.chunkSize = 0;
          this.phase = Phase.Control;
          break;
        }
      }
    }
  }

  /** Parses the chunk header at the queue head; false when it is not all there yet. */
  private readChunkHeader(q: InputQueue, control: number): boolean {
    const at = q.consumed;
    let headerSize: number;
    if (control >= 0x80) headerSize = control >= 0xc0 ? 6 : 5;
    else if (control <= 0x02) headerSize = 3;
    else throw this.corrupt(at, `invalid LZMA2 control byte 0x${control.toString(16).padStart(2, "0")}`);
    if (q.length < headerSize) return false;

    const dictReset = control === 0x01 || control >= 0xe0;
    if (!dictReset && this.needDictReset) {
      throw this.corrupt(at, "the first LZMA2 chunk does not reset the dictionary");
    }
    const uncompressed = (((control >= 0x80 ? control & 0x1f : 0) << 16) | (q.peek(1) << 8) | q.peek(2)) + 1;
    const compressed = control >= 0x80 ? ((q.peek(3) << 8) | q.peek(4)) + 1 : uncompressed;
    if (this.produced + uncompressed > this.maxOutput) {
      throw this.corrupt(at, `the LZMA2 data holds more bytes than the block header declares (${this.maxOutput})`);
    }
    // Room for this chunk and the end-of-data byte within the declared compressed size.
    this.checkInputEnd(at + headerSize + compressed + 1, at);

    if (control >= 0x80) {
      if (control >= 0xc0) {
        if (!this.lzma.setProperties(q.peek(5))) {
          throw this.corrupt(at, `invalid LZMA properties byte 0x${q.peek(5).toString(16)} in an LZMA2 chunk`);
        }
        this.needProps = false;
      } else if (this.needProps) {
        throw this.corrupt(at, "an LZMA2 chunk lacks the LZMA properties it needs after a dictionary reset");
      }
      if (control >= 0xa0) this.lzma.resetState();
    }
    if (dictReset) {
      this.lzma.resetDictionary(this.dictSize);
      this.needDictReset = false;
      if (control === 0x01) this.needProps = true;
    }
    q.skip(headerSize);
    this.remaining = uncompressed;
    if (control >= 0x80) {
      this.phase = Phase.Lzma;
      this.pendingChunkSize = compressed;
      this.chunkSize = 0;
    } else {
      this.phase = Phase.Uncompressed;
    }
    return true;
  }

  private checkInputEnd(end: number, at: number): void {
    if (end > this.inputEnd) {
      throw this.corrupt(at, "the LZMA2 data is longer than the compressed size the block header declares");
    }
  }

  private corrupt(at: number, what: string): XzError {
    return new XzError(
      "corrupt",
      at,
      `xz data is corrupt in ${this.where} at compressed offset ${at}: ${what}; the file is damaged or not an xz file — obtain it again`,
    );
  }
}
