/**
 * The xz container (.xz format 1.x): stream header, blocks (block header, LZMA2 data, padding,
 * integrity check), index, stream footer, stream padding and concatenated streams. Works
 * incrementally on whatever input has been pushed, including a stream that never ends (the
 * way xdelta3's LZMA secondary compressor uses one), and verifies every size, CRC and the index.
 * Memory: the LZMA2 dictionary (at most the declared size, grown as output needs it) plus one
 * 64 KiB chunk buffer, whatever the size of the data.
 */
import { InputQueue } from "./input-queue.js";
import { Lzma2Decoder } from "./lzma2-decoder.js";
import { crc32 } from "./crc32.js";
import { BlockCheck, checkName, checkSize, isSupportedCheck } from "./xz-check.js";
import { XzError } from "./xz-error.js";
import { warmUpLzmaDecoder } from "./lzma-warm-up.js";

export interface XzDecoderOptions {
  /** Largest LZMA2 dictionary accepted (default 64 MiB); a larger declared dictionary is an error. */
  maxDictionarySize?: number;
}

const DEFAULT_MAX_DICTIONARY = 64 * 1024 * 1024;
const HEADER_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FOOTER_MAGIC = [0x59, 0x5a];
const STREAM_HEADER_SIZE = 12;
const FILTER_LZMA2 = 0x21;

const FILTER_NAMES: Record<number, string> = {
  0x03: "delta",
  0x04: "x86 BCJ",
  0x05: "PowerPC BCJ",
  0x06: "IA-64 BCJ",
  0x07: "ARM BCJ",
  0x08: "ARM-Thumb BCJ",
  0x09: "SPARC BCJ",
  0x0a: "ARM64 BCJ",
  0x0b: "RISC-V BCJ",
};

const enum State {
  StreamHeader,
  BlockHeader,
  BlockData,
  BlockPadding,
  BlockCheck,
  Index,
  StreamFooter,
  StreamPadding,
}

const enum IndexField {
  Indicator,
  Count,
  Unpadded,
  Uncompressed,
  Padding,
  Crc,
}

/** Running summary of (unpadded size, uncompressed size) records, compared between blocks and index. */
class RecordSummary {
  count = 0;
  unpaddedSum = 0;
  uncompressedSum = 0;
  crc = 0;
  private readonly scratch = new Uint8Array(16);
  add(unpadded: number, uncompressed: number): void {
    this.count++;
    this.unpaddedSum += unpadded;
    this.uncompressedSum += uncompressed;
    writeUint64(this.scratch, 0, unpadded);
    writeUint64(this.scratch, 8, uncompressed);
    this.crc = crc32(this.scratch, this.crc);
  }
  equals(o: RecordSummary): boolean {
    return this.count === o.count && this.unpaddedSum === o.unpaddedSum && this.uncompressedSum === o.uncompressedSum && this.crc === o.crc;
  }
}

export class XzDecoder {
  private readonly q = new InputQueue();
  private readonly lzma2 = new Lzma2Decoder();
  private readonly maxDict: number;
  private readonly scratch = new Uint8Array(1024);
  private state = State.StreamHeader;
  private failure: XzError | null = null;
  private streamsDone = 0;
  private streamStart = 0;
  private checkId = 0;
  private streamFlags = 0;
  private pushedAny = false;

  // Current block.
  private blockNumber = 0;
  private blockHeaderSize = 0;
  private blockDataStart = 0;
  private declaredCompressed = -1;
  private declaredUncompressed = -1;
  private check: BlockCheck | null = null;
  private blockUnpadded = 0;
  private blocks = new RecordSummary();

  // Index parsing, one byte at a time (an index can be large).
  private indexField = IndexField.Indicator;
  private indexStart = 0;
  private indexCrc = 0;
  private indexCount = 0;
  private indexRecords = new RecordSummary();
  private indexUnpadded = 0;
  private varValue = 0;
  private varShift = 0;
  private indexSize = 0;

  private padding = 0;

  constructor(options: XzDecoderOptions = {}) {
    this.maxDict = options.maxDictionarySize ?? DEFAULT_MAX_DICTIONARY;
    // The first decoder of a thread runs the warm-up stream through one of its own (lzma-warm-up.ts).
    warmUpLzmaDecoder(() => new XzDecoder());
  }

  /** Appends compressed input (the decoder may keep a reference until it is consumed). */
  push(input: Uint8Array): void {
    if (input.length > 0) this.pushedAny = true;
    this.q.push(input);
  }

  /** Compressed bytes pushed but not yet consumed. */
  get pendingInput(): number {
    return this.q.length + (this.state === State.BlockData ? this.lzma2.bufferedInput : 0);
  }

  /** True once a complete stream has been decoded and the decoder is not inside another one. */
  get streamEnded(): boolean {
    return this.state === State.StreamPadding && this.padding % 4 === 0;
  }

  /**
   * Decodes up to `length` bytes into out[offset..]. Returns fewer only when the pushed input is
   * exhausted or the stream ended. Input that yields no output (chunk, block, index and footer
   * boundaries) is consumed as far as it goes even when the output is full.
   */
  readInto(out: Uint8Array, offset: number, length: number): number {
    if (this.failure) throw this.failure;
    if (!(offset >= 0 && length >= 0 && offset + length <= out.length)) {
      throw new RangeError(`readInto: out[${offset}..+${length}] is outside the ${out.length}-byte buffer`);
    }
    try {
      return this.run(out, offset, length);
    } catch (e) {
      if (e instanceof XzError) this.failure = e;
      throw e;
    }
  }

  /** Declares end of input: throws (XzError) if the xz data is truncated or has trailing garbage. */
  end(): void {
    try {
      this.readInto(EMPTY, 0, 0);
      this.checkEnd();
    } catch (e) {
      if (e instanceof XzError) this.failure = e;
      throw e;
    }
  }

  private checkEnd(): void {
    const at = this.q.consumed + this.q.length;
    if (!this.pushedAny) {
      throw this.fail("truncated", 0, "the input is empty: there is no xz data at all; the file is missing or was not written");
    }
    if (this.state === State.StreamPadding) {
      if (this.padding % 4 !== 0) {
        throw this.fail("corrupt", at, `xz stream padding of ${this.padding} bytes is not a multiple of 4; the file is damaged or has bytes appended`);
      }
      return;
    }
    if (this.state === State.BlockData && this.pendingInput > 0 && this.run(this.scratch, 0, 1) > 0) {
      // Not truncated: decoding could go on; the reader stopped before the end of the data.
      throw this.fail(
        "corrupt",
        at,
        `the xz data holds more than was read: ${this.pendingInput} compressed bytes were still undecoded in ${this.describePosition()} when the input was declared complete`,
      );
    }
    throw this.fail(
      "truncated",
      at,
      `xz data ends early: the input stops inside ${this.describePosition()} after ${at} compressed bytes; the file is incomplete (interrupted download or copy) — obtain it again`,
    );
  }

  private describePosition(): string {
    const block = `block ${this.blockNumber} of stream ${this.streamsDone + 1}`;
    switch (this.state) {
      case State.StreamHeader:
        return `the stream header of stream ${this.streamsDone + 1}`;
      case State.BlockHeader:
        return `the header of ${block}`;
      case State.BlockData:
        return `the LZMA2 data of ${block}`;
      case State.BlockPadding:
      case State.BlockCheck:
        return `the end (padding or ${checkName(this.checkId)} check) of ${block}`;
      case State.Index:
        return `the index of stream ${this.streamsDone + 1}`;
      default:
        return `the footer of stream ${this.streamsDone + 1}`;
    }
  }

  private run(out: Uint8Array, offset: number, length: number): number {
    const q = this.q;
    let produced = 0;
    for (;;) {
      switch (this.state) {
        case State.StreamHeader:
          if (q.length < STREAM_HEADER_SIZE) {
            // Say "not an xz file" as soon as the magic bytes differ, not "truncated" later.
            for (let k = 0; k < Math.min(q.length, HEADER_MAGIC.length); k++) {
              if (q.peek(k) !== HEADER_MAGIC[k]) throw this.badMagic(q.consumed);
            }
            return produced;
          }
          this.readStreamHeader();
          break;

        case State.BlockHeader: {
          if (q.length === 0) return produced;
          const first = q.peek(0);
          if (first === 0x00) {
            this.startIndex();
            break;
          }
          const size = (first + 1) * 4;
          if (q.length < size) return produced;
          this.readBlockHeader(size);
          break;
        }

        case State.BlockData: {
          const start = offset + produced;
          const n = this.lzma2.decode(q, out, start, length - produced);
          if (n > 0) {
            this.check!.update(out, start, start + n);
            produced += n;
          }
          if (!this.lzma2.finished) return produced;
          this.finishBlockData();
          break;
        }

        case State.BlockPadding:
          // Zero bytes up to a multiple of 4 after header + compressed data; `padding` counts them.
          while ((this.blockUnpadded + this.padding) % 4 !== 0) {
            if (q.length === 0) return produced;
            const at = q.consumed;
            if (q.readByte() !== 0) throw this.fail("corrupt", at, `xz block padding in block ${this.blockNumber} is not zero; the file is damaged — obtain it again`);
            this.padding++;
          }
          this.padding = 0;
          this.state = State.BlockCheck;
          break;

        case State.BlockCheck: {
          const size = checkSize(this.checkId);
          if (q.length < size) return produced;
          const at = q.consumed;
          q.readInto(this.scratch, 0, size);
          const expected = this.check!.digest();
          for (let k = 0; k < size; k++) {
            if (this.scratch[k] !== expected[k]) {
              throw this.fail(
                "check",
                at,
                `xz ${checkName(this.checkId)} check of block ${this.blockNumber} does not match its decompressed data (at compressed offset ${at}); the file is damaged — obtain it again`,
              );
            }
          }
          this.blockUnpadded += size;
          this.blocks.add(this.blockUnpadded, this.lzma2.produced);
          this.state = State.BlockHeader;
          break;
        }

        case State.Index:
          if (!this.readIndex()) return produced;
          break;

        case State.StreamFooter:
          if (q.length < STREAM_HEADER_SIZE) return produced;
          this.readStreamFooter();
          break;

        case State.StreamPadding:
          while (q.length > 0) {
            if (q.peek(0) !== 0) {
              if (this.padding % 4 !== 0) {
                throw this.fail("corrupt", q.consumed, `xz stream padding of ${this.padding} bytes is not a multiple of 4 (at compressed offset ${q.consumed}); the file is damaged`);
              }
              this.state = State.StreamHeader;
              break;
            }
            q.skip(1);
            this.padding++;
          }
          if (this.state === State.StreamPadding) return produced;
          break;
      }
    }
  }

  private readStreamHeader(): void {
    const q = this.q;
    const at = q.consumed;
    const h = this.scratch;
    q.readInto(h, 0, STREAM_HEADER_SIZE);
    for (let k = 0; k < HEADER_MAGIC.length; k++) {
      if (h[k] !== HEADER_MAGIC[k]) throw this.badMagic(at);
    }
    if (crc32(h, 0, 6, 8) !== readUint32(h, 8)) {
      throw this.fail("corrupt", at + 6, `the xz stream header at compressed offset ${at} fails its CRC32; the file is damaged — obtain it again`);
    }
    if (h[6] !== 0 || (h[7]! & 0xf0) !== 0) {
      throw this.fail("unsupported", at + 6, `the xz stream at compressed offset ${at} uses stream flags this decoder does not know (a newer xz format?); recompress it with a standard xz`);
    }
    const checkId = h[7]!;
    if (!isSupportedCheck(checkId)) {
      throw this.fail(
        "unsupported",
        at + 7,
        `the xz stream at compressed offset ${at} uses integrity check type ${checkId}, which is not supported (only none, CRC32, CRC64, SHA-256); recompress with xz --check=crc64`,
      );
    }
    this.checkId = checkId;
    this.streamFlags = (h[6]! << 8) | h[7]!;
    this.streamStart = at;
    this.blockNumber = 0;
    this.blocks = new RecordSummary();
    this.state = State.BlockHeader;
  }

  private readBlockHeader(size: number): void {
    const q = this.q;
    const at = q.consumed;
    const h = this.scratch;
    q.readInto(h, 0, size);
    this.blockNumber++;
    const where = `block ${this.blockNumber} (header at compressed offset ${at})`;
    const corrupt = (what: string) => this.fail("corrupt", at, `xz ${where} is corrupt: ${what}; the file is damaged — obtain it again`);
    if (crc32(h, 0, 0, size - 4) !== readUint32(h, size - 4)) throw corrupt("its header fails its CRC32");
    const flags = h[1]!;
    if (flags & 0x3c) {
      throw this.fail("unsupported", at, `xz ${where} sets header flags this decoder does not know (a newer xz format?); recompress it with a standard xz`);
    }
    const end = size - 4;
    let p = 2;
    const readVar = (): number => {
      let value = 0;
      for (let k = 0; k < 9; k++) {
        if (p >= end) throw corrupt("a number runs past the end of the block header");
        const b = h[p++]!;
        if (b === 0 && k > 0) throw corrupt("a number in the block header is not minimally encoded");
        value += (b & 0x7f) * 2 ** (7 * k);
        if ((b & 0x80) === 0) {
          if (value > Number.MAX_SAFE_INTEGER) throw corrupt("a size in the block header is too large");
          return value;
        }
      }
      throw corrupt("a number in the block header is longer than 9 bytes");
    };
    this.declaredCompressed = flags & 0x40 ? readVar() : -1;
    this.declaredUncompressed = flags & 0x80 ? readVar() : -1;
    if (this.declaredCompressed === 0) throw corrupt("it declares a compressed size of 0");
    const filters = (flags & 3) + 1;
    let dictSize = 0;
    for (let f = 0; f < filters; f++) {
      const id = readVar();
      const propsSize = readVar();
      if (p + propsSize > end) throw corrupt("filter properties run past the end of the block header");
      if (id !== FILTER_LZMA2) {
        const name = FILTER_NAMES[id] ?? (id === 0x4000000000000001 ? "LZMA1" : `ID 0x${id.toString(16)}`);
        throw this.fail(
          "unsupported",
          at,
          `xz ${where} uses the ${name} filter, which this decoder does not support (only LZMA2 alone); recompress without filters, e.g. plain "xz" or "xz --lzma2"`,
        );
      }
      if (f !== filters - 1) throw corrupt("LZMA2 is not the last filter of the chain");
      if (propsSize !== 1) throw corrupt("LZMA2 filter properties are not one byte");
      const byte = h[p++]!;
      if (byte > 40) throw corrupt(`invalid LZMA2 dictionary size byte 0x${byte.toString(16)}`);
      dictSize = byte === 40 ? 0xffffffff : (2 | (byte & 1)) * 2 ** (Math.floor(byte / 2) + 11);
    }
    for (; p < end; p++) if (h[p] !== 0) throw corrupt("the block header padding is not zero");
    if (dictSize > this.maxDict) {
      throw this.fail(
        "limit",
        at,
        `xz ${where} needs a ${formatSize(dictSize)} LZMA2 dictionary, above the ${formatSize(this.maxDict)} this decoder allows; recompress with a smaller dictionary (e.g. xz -6, or --lzma2=dict=${formatSize(this.maxDict)}) or raise the limit`,
      );
    }
    this.blockHeaderSize = size;
    this.blockDataStart = q.consumed;
    this.check = new BlockCheck(this.checkId);
    const maxOutput = this.declaredUncompressed >= 0 ? this.declaredUncompressed : Infinity;
    const inputEnd = this.declaredCompressed >= 0 ? this.blockDataStart + this.declaredCompressed : Infinity;
    this.lzma2.start(dictSize, maxOutput, inputEnd, `block ${this.blockNumber}`);
    this.state = State.BlockData;
  }

  private finishBlockData(): void {
    const compressed = this.q.consumed - this.blockDataStart;
    const at = this.q.consumed;
    if (this.declaredCompressed >= 0 && compressed !== this.declaredCompressed) {
      throw this.fail("corrupt", at, `xz block ${this.blockNumber} has ${compressed} compressed bytes but its header declares ${this.declaredCompressed}; the file is damaged — obtain it again`);
    }
    if (this.declaredUncompressed >= 0 && this.lzma2.produced !== this.declaredUncompressed) {
      throw this.fail(
        "corrupt",
        at,
        `xz block ${this.blockNumber} decompresses to ${this.lzma2.produced} bytes but its header declares ${this.declaredUncompressed}; the file is damaged — obtain it again`,
      );
    }
    this.blockUnpadded = this.blockHeaderSize + compressed;
    this.padding = 0;
    this.state = State.BlockPadding;
  }

  private startIndex(): void {
    this.state = State.Index;
    this.indexField = IndexField.Indicator;
    this.indexStart = this.q.consumed;
    this.indexCrc = 0;
    this.indexRecords = new RecordSummary();
  }

  /** Consumes index bytes; true when the whole index has been read and verified. */
  private readIndex(): boolean {
    const q = this.q;
    const one = this.scratch;
    while (q.length > 0) {
      const at = q.consumed;
      const b = q.readByte();
      if (this.indexField !== IndexField.Crc) {
        one[0] = b;
        this.indexCrc = crc32(one, this.indexCrc, 0, 1);
      }
      const corrupt = (what: string) =>
        this.fail("corrupt", at, `the xz index of stream ${this.streamsDone + 1} (compressed offset ${this.indexStart}) is corrupt: ${what}; the file is damaged — obtain it again`);
      switch (this.indexField) {
        case IndexField.Indicator:
          this.indexField = IndexField.Count;
          this.varValue = 0;
          this.varShift = 0;
          break;
        case IndexField.Count:
        case IndexField.Unpadded:
        case IndexField.Uncompressed: {
          if (b === 0 && this.varShift > 0) throw corrupt("a number is not minimally encoded");
          if (this.varShift >= 63) throw corrupt("a number is longer than 9 bytes");
          this.varValue += (b & 0x7f) * 2 ** this.varShift;
          this.varShift += 7;
          if (b & 0x80) break;
          const value = this.varValue;
          this.varValue = 0;
          this.varShift = 0;
          if (value > Number.MAX_SAFE_INTEGER) throw corrupt("a size is too large");
          if (this.indexField === IndexField.Count) {
            if (value !== this.blocks.count) throw corrupt(`it lists ${value} blocks but the stream has ${this.blocks.count}`);
            this.indexCount = value;
          } else if (this.indexField === IndexField.Unpadded) {
            if (value === 0) throw corrupt("a block's unpadded size is 0");
            this.indexUnpadded = value;
            this.indexField = IndexField.Uncompressed;
            break;
          } else {
            this.indexRecords.add(this.indexUnpadded, value);
            this.indexCount--;
          }
          if (this.indexCount > 0) {
            this.indexField = IndexField.Unpadded;
          } else {
            if (!this.indexRecords.equals(this.blocks)) throw corrupt("its block sizes do not match the blocks");
            this.indexField = IndexField.Padding;
            if ((q.consumed - this.indexStart) % 4 === 0) this.indexField = IndexField.Crc;
            this.varShift = 0;
          }
          break;
        }
        case IndexField.Padding:
          if (b !== 0) throw corrupt("its padding is not zero");
          if ((q.consumed - this.indexStart) % 4 === 0) {
            this.indexField = IndexField.Crc;
            this.varShift = 0;
          }
          break;
        case IndexField.Crc:
          one[4 + this.varShift] = b;
          this.varShift++;
          if (this.varShift === 4) {
            if (readUint32(one, 4) !== this.indexCrc) throw corrupt("it fails its CRC32");
            this.indexSize = q.consumed - this.indexStart;
            this.state = State.StreamFooter;
            return true;
          }
          break;
      }
    }
    return false;
  }

  private readStreamFooter(): void {
    const q = this.q;
    const at = q.consumed;
    const f = this.scratch;
    q.readInto(f, 0, STREAM_HEADER_SIZE);
    const corrupt = (what: string) => this.fail("corrupt", at, `the xz stream footer at compressed offset ${at} is corrupt: ${what}; the file is damaged — obtain it again`);
    if (f[10] !== FOOTER_MAGIC[0] || f[11] !== FOOTER_MAGIC[1]) throw corrupt("bad magic bytes");
    if (crc32(f, 0, 4, 10) !== readUint32(f, 0)) throw corrupt("it fails its CRC32");
    if (((f[8]! << 8) | f[9]!) !== this.streamFlags) throw corrupt("its stream flags differ from the stream header's");
    if ((readUint32(f, 4) + 1) * 4 !== this.indexSize) throw corrupt("its index size does not match the index");
    this.streamsDone++;
    this.padding = 0;
    this.state = State.StreamPadding;
  }

  private badMagic(at: number): XzError {
    const what = this.streamsDone === 0 ? "this is not an xz file" : "there are bytes after the last xz stream that are not another xz stream";
    return this.fail("corrupt", at, `${what} (bad magic bytes at compressed offset ${at}); check that the right file was given`);
  }

  private fail(kind: ConstructorParameters<typeof XzError>[0], at: number, message: string): XzError {
    return new XzError(kind, at, message);
  }
}

const EMPTY = new Uint8Array(0);

function readUint32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function writeUint64(b: Uint8Array, at: number, value: number): void {
  const lo = value % 2 ** 32;
  const hi = Math.floor(value / 2 ** 32);
  for (let k = 0; k < 4; k++) {
    b[at + k] = (lo >>> (8 * k)) & 0xff;
    b[at + 4 + k] = (hi >>> (8 * k)) & 0xff;
  }
}

function formatSize(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)}MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024}KiB`;
  return `${n} bytes`;
}
