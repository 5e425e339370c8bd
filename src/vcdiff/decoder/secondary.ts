/**
 * Secondary decompression of window sections (xdelta3 extension). A compressed section is
 * `varint(decoded length)` followed by the compressor's bytes; the decoder must produce exactly that
 * many bytes and use up all of the input (xdelta3: "secondary decoder short output" / "finished with
 * unused input").
 *
 * LZMA (id 2) keeps one xz stream per section type alive across windows: xdelta3 sync-flushes each
 * section into a never-ending stream, so window n cannot be decoded without windows 0..n-1. DJW
 * (id 1) is stateless.
 */
import { decodeDjw, DjwProblem } from "./djw";
import { SECONDARY_DJW, SECONDARY_LZMA } from "../format/constants";
import { ByteCursor, VarintProblem } from "../format/varint-reader";
import { MenderDeltaError } from "../../errors";

/** The slice of the xz decoder API this module needs (one continuous stream, fed window by window). */
export interface StreamDecompressor {
  push(input: Uint8Array): void;
  readInto(out: Uint8Array, offset: number, length: number): number;
  readonly pendingInput: number;
}

export const SECTION_DATA = 0;
export const SECTION_INST = 1;
export const SECTION_ADDR = 2;
const SECTION_NAMES = ["data", "instruction", "address"] as const;

/** A compressed section (SECTION_*) could not be decoded; `at` is the offset inside the stored section. */
export class SecondaryProblem extends Error {
  constructor(
    message: string,
    readonly section: number,
    readonly at: number,
  ) {
    super(message);
  }
}

export class SecondaryDecoders {
  private readonly streams: (StreamDecompressor | undefined)[] = [undefined, undefined, undefined];
  private readonly outputs: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)];

  constructor(
    private readonly id: number,
    /** Creates one persistent LZMA stream decoder (xz container). */
    private readonly createLzma: () => StreamDecompressor,
  ) {}

  /**
   * Decodes `stored` (one section of one window) and returns a view of the decoded bytes, which
   * may not exceed `maxDecodedSize` (memory guard, checked before allocating).
   */
  decode(section: number, stored: Uint8Array, maxDecodedSize: number): Uint8Array {
    const name = SECTION_NAMES[section]!;
    const c = new ByteCursor(stored, 0, stored.length);
    let size: number;
    try {
      size = c.size();
    } catch (err) {
      if (err instanceof VarintProblem) throw new SecondaryProblem(`compressed ${name} section: decoded length ${err.message}`, section, 0);
      throw err;
    }
    if (size === 0) throw new SecondaryProblem(`compressed ${name} section declares a decoded length of 0`, section, 0);
    if (size > maxDecodedSize) {
      throw new SecondaryProblem(`compressed ${name} section declares ${size} decoded bytes, more than plausible for this window (${maxDecodedSize})`, section, 0);
    }
    let out = this.outputs[section]!;
    if (out.length < size) {
      out = new Uint8Array(Math.max(size, Math.min(maxDecodedSize, out.length * 2)));
      this.outputs[section] = out;
    }
    if (this.id === SECONDARY_DJW) {
      try {
        decodeDjw(stored, c.pos, stored.length, out, size);
      } catch (err) {
        if (err instanceof DjwProblem) throw new SecondaryProblem(`DJW-compressed ${name} section: ${err.message}`, section, c.pos);
        throw err;
      }
    } else if (this.id === SECONDARY_LZMA) {
      let stream = this.streams[section];
      if (stream === undefined) {
        stream = this.createLzma();
        this.streams[section] = stream;
      }
      let got: number;
      try {
        stream.push(stored.subarray(c.pos));
        got = stream.readInto(out, 0, size);
      } catch (err) {
        // The xz decoder reports bad input as MenderDeltaErrors (XzError); anything else is a bug.
        if (err instanceof MenderDeltaError) throw new SecondaryProblem(`LZMA-compressed ${name} section: ${err.message}`, section, c.pos);
        throw err;
      }
      if (got < size) {
        throw new SecondaryProblem(`LZMA-compressed ${name} section decodes to ${got} bytes, ${size} declared (short output)`, section, c.pos);
      }
      if (stream.pendingInput !== 0) {
        throw new SecondaryProblem(`LZMA-compressed ${name} section has ${stream.pendingInput} bytes of unused input`, section, c.pos);
      }
    } else {
      throw new Error(`secondary id ${this.id} not handled`);
    }
    return out.subarray(0, size);
  }
}
