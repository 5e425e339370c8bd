/**
 * Writes an MBDF delta (docs/file-delta-format.md): the header, then one call per record, each
 * given the bytes it produces so the writer computes its CRC-32 and holds it to the format's limits
 * (lengths that add up to target_size, source ranges below source_size, old buffers within 16 MiB).
 * Used by the tests now and by the generator's planner; the device never writes this format.
 */
import { bcjFilter, type BcjArch } from "../../compress/bcj";
import { crc32, crc32OfZeros } from "../../compress/crc32";
import type { ApproximateDiff } from "../../filediff/approximate-diff";
import { type ExecDiff as ExecRecord, segmentProblem, WITH_HOLES } from "../../filediff/exec/exec-diff";
import { type FileHoles, holesProblem, wholeLength } from "../../filediff/holes";
import { writeVarint } from "../../vcdiff/format/varint";
import {
  FILTERS,
  MAX_EXTENTS,
  MAX_READ_SET,
  MAX_RECORD_BUFFER,
  MBDF_FLAGS,
  MBDF_MAGIC,
  MBDF_VERSION,
  RecordKind,
  SHA256_BYTES,
} from "./format";

export interface MbdfHeader {
  targetSize: number;
  sourceSize: number;
  /** SHA-256 of the whole new image: 32 bytes or 64 hex digits. */
  targetSha256: Uint8Array | string;
  /** The read set (vcdiff/format/read-set.ts encodeReadSetAppHeader), if the delta carries one. */
  readSet?: Uint8Array;
}

/** A source range of an old buffer. */
export interface Extent {
  sourceOffset: number;
  length: number;
}

/** How a REDEFLATE record's new content is made from the old content. */
export type ContentRecord =
  | { kind: "literal"; filter?: BcjArch | null; filterStart?: number }
  | { kind: "approx"; diff: ApproximateDiff };

export interface RedeflateRecord {
  extents: Extent[];
  /** OldFormat: 1 gzip, 2 zlib, 3 raw deflate. */
  oldFormat: number;
  oldContentLength: number;
  /** Compressor: 0 stored blocks, 1 GNU gzip's deflate, 2 zlib's deflate. */
  compressor: number;
  level: number;
  /** The bytes before the deflate stream (gzip member header, zlib's two bytes, nothing for raw). */
  header: Uint8Array;
  content: ContentRecord;
  /** The new uncompressed content (content's output). */
  newContent: Uint8Array;
}

function sha256Bytes(value: Uint8Array | string): Uint8Array {
  const bytes = typeof value === "string" ? Uint8Array.from(Buffer.from(value, "hex")) : value;
  if (bytes.length !== SHA256_BYTES || (typeof value === "string" && !/^[0-9a-fA-F]{64}$/.test(value))) {
    throw new RangeError("targetSha256 must be 32 bytes (64 hex digits)");
  }
  return bytes;
}

/** A literal body the format allows: a known filter, its start within 32 bits, a filtered one within 16 MiB. */
function checkLiteral(bytes: Uint8Array, filter: BcjArch | null, filterStart: number): void {
  if (FILTERS.indexOf(filter) < 0) throw new RangeError(`unknown filter ${String(filter)}`);
  if (filter !== null && bytes.length > MAX_RECORD_BUFFER) throw new RangeError(`a filtered literal holds at most ${MAX_RECORD_BUFFER} bytes`);
  if (!Number.isSafeInteger(filterStart) || filterStart < 0 || filterStart > 0xffffffff) {
    throw new RangeError(`filter_start must be 0 to 2^32 - 1, got ${filterStart}`);
  }
}

/** An approximate diff the format allows for `length` output bytes. */
function checkApprox(diff: ApproximateDiff, length: number): void {
  if (diff.differences.length + diff.literals.length !== length) {
    throw new RangeError(`the diff's streams make ${diff.differences.length + diff.literals.length} bytes, the record ${length}`);
  }
  if (diff.control.length > MAX_RECORD_BUFFER) throw new RangeError(`a control stream is at most ${MAX_RECORD_BUFFER} bytes`);
}

/** Every check comes before the record's first byte is emitted: a refused call leaves the delta as it was. */
export class MbdfWriter {
  private readonly parts: Uint8Array[] = [];
  private readonly scratch = new Uint8Array(16);
  /** Target bytes the records so far produce. */
  produced = 0;
  /** Records written so far, END not counted. */
  records = 0;
  private ended = false;
  readonly targetSize: number;
  readonly sourceSize: number;

  /** `out` receives the delta's bytes as they are made; without it they are kept for bytes(). */
  constructor(header: MbdfHeader, private readonly out?: (chunk: Uint8Array) => void) {
    for (const [name, v] of [["targetSize", header.targetSize], ["sourceSize", header.sourceSize]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a byte count, got ${v}`);
    }
    this.targetSize = header.targetSize;
    this.sourceSize = header.sourceSize;
    this.emit(MbdfWriter.headerBytes(header));
  }

  /**
   * The header alone: for a writer that learns the read set only once every record is made (it
   * writes the records after a header without one, then swaps the header).
   */
  static headerBytes(header: MbdfHeader): Uint8Array {
    const readSet = header.readSet ?? new Uint8Array(0);
    if (readSet.length > MAX_READ_SET) throw new RangeError(`the read set is ${readSet.length} bytes, at most ${MAX_READ_SET}`);
    const scratch = new Uint8Array(16);
    const varint = (v: number): Uint8Array => scratch.slice(0, writeVarint(scratch, 0, v));
    return Buffer.concat([
      MBDF_MAGIC, Uint8Array.of(MBDF_VERSION, MBDF_FLAGS), varint(header.targetSize), varint(header.sourceSize),
      sha256Bytes(header.targetSha256), varint(readSet.length), readSet,
    ]);
  }

  /** `length` zero bytes. */
  zero(length: number): void {
    this.begin(RecordKind.zero, length);
    this.crc(crc32OfZeros(length));
  }

  /** `produced` (its length is the record's) copied from source[sourceOffset, +length). */
  copy(sourceOffset: number, produced: Uint8Array): void {
    this.checkRange(sourceOffset, produced.length);
    this.begin(RecordKind.copy, produced.length);
    this.varint(sourceOffset);
    this.crc(crc32(produced));
  }

  /** `produced` stored in the delta, encoded with a branch filter when one is given. */
  literal(produced: Uint8Array, filter: BcjArch | null = null, filterStart = 0): void {
    checkLiteral(produced, filter, filterStart);
    this.begin(RecordKind.literal, produced.length);
    this.literalBody(produced, filter, filterStart);
    this.crc(crc32(produced));
  }

  /** `produced` as the VCDIFF delta `delta` makes it from the source image. */
  vcdiff(delta: Uint8Array, produced: Uint8Array): void {
    if (delta.length < 1) throw new RangeError("a VCDIFF record needs a delta");
    this.begin(RecordKind.vcdiff, produced.length);
    this.varint(delta.length);
    this.emit(delta);
    this.crc(crc32(produced));
  }

  /** `produced` as `diff` makes it from the old buffer read through `extents`. */
  approx(extents: Extent[], diff: ApproximateDiff, produced: Uint8Array): void {
    if (produced.length > MAX_RECORD_BUFFER) throw new RangeError(`an APPROX record produces at most ${MAX_RECORD_BUFFER} bytes`);
    this.checkExtents(extents);
    checkApprox(diff, produced.length);
    this.begin(RecordKind.approx, produced.length);
    this.extents(extents);
    this.approxBody(diff);
    this.crc(crc32(produced));
  }

  /**
   * `produced` as the executable-aware diff `exec` (filediff/exec/exec-diff.ts) makes it from the
   * old buffer read through `extents`. With `holes` (either file has some), `exec` is the diff of
   * the whole files and `produced` the new file's data: what the record writes.
   */
  exec(extents: Extent[], exec: ExecRecord, produced: Uint8Array, holes?: FileHoles): void {
    if (produced.length > MAX_RECORD_BUFFER) throw new RangeError(`an EXEC record produces at most ${MAX_RECORD_BUFFER} bytes`);
    this.checkExtents(extents);
    let newLength = produced.length;
    if (holes) {
      const oldData = extents.reduce((sum, e) => sum + e.length, 0);
      for (const [which, list, data] of [["old", holes.old, oldData], ["new", holes.new, produced.length]] as const) {
        const problem = holesProblem(list, data, MAX_RECORD_BUFFER);
        if (problem) throw new RangeError(`the ${which} file's holes: ${problem}`);
      }
      newLength = wholeLength(holes.new, produced.length);
    }
    checkApprox(exec.diff, newLength);
    if (!Number.isInteger(exec.transform) || exec.transform < 0 || exec.transform >= WITH_HOLES) {
      throw new RangeError(`transform must be a byte below ${WITH_HOLES} (the high bit says "with holes"), got ${exec.transform}`);
    }
    const problem = segmentProblem(exec.newSegments, newLength);
    if (problem) throw new RangeError(`the new segment table: ${problem}`);
    if (!Number.isSafeInteger(exec.referenceCount) || exec.referenceCount < 0) throw new RangeError(`a reference count, got ${exec.referenceCount}`);
    this.begin(RecordKind.exec, produced.length);
    this.extents(extents);
    this.emit(Uint8Array.of(holes ? exec.transform | WITH_HOLES : exec.transform));
    if (holes) {
      for (const list of [holes.old, holes.new]) {
        this.varint(list.length);
        for (const h of list) {
          this.varint(h.offset);
          this.varint(h.length);
        }
      }
    }
    this.varint(exec.referenceCount);
    const s = exec.newSegments;
    this.varint(s.count);
    for (let i = 0; i < s.count; i++) for (const v of [s.offset[i]!, s.vaddr[i]!, s.filesz[i]!, s.memsz[i]!]) this.varint(v);
    this.approxBody(exec.diff);
    this.crc(crc32(produced));
  }

  /** `produced`: header + the new content compressed + the format's trailer (docs/file-delta-format.md). */
  redeflate(record: RedeflateRecord, produced: Uint8Array): void {
    const { newContent } = record;
    if (record.oldContentLength > MAX_RECORD_BUFFER || newContent.length > MAX_RECORD_BUFFER) {
      throw new RangeError(`REDEFLATE contents are at most ${MAX_RECORD_BUFFER} bytes`);
    }
    for (const [name, v] of [["oldFormat", record.oldFormat], ["compressor", record.compressor], ["level", record.level]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`${name} must be a byte, got ${v}`);
    }
    if (newContent.length < 1) throw new RangeError("a REDEFLATE record's new content is at least 1 byte");
    // A new file has no extents (and no old content): its content can only be a LITERAL body.
    if (record.extents.length > 0 || record.content.kind === "approx" || record.oldContentLength !== 0) this.checkExtents(record.extents);
    if (record.content.kind === "literal") checkLiteral(newContent, record.content.filter ?? null, record.content.filterStart ?? 0);
    else checkApprox(record.content.diff, newContent.length);
    this.begin(RecordKind.redeflate, produced.length);
    this.extents(record.extents);
    this.emit(Uint8Array.of(record.oldFormat));
    this.varint(record.oldContentLength);
    this.emit(Uint8Array.of(record.compressor, record.level));
    this.varint(record.header.length);
    this.emit(record.header);
    // The content record: a LITERAL or APPROX body without extents (its old buffer is the old content).
    const content = record.content;
    this.emit(Uint8Array.of(content.kind === "literal" ? RecordKind.literal : RecordKind.approx));
    this.varint(newContent.length);
    if (content.kind === "literal") this.literalBody(newContent, content.filter ?? null, content.filterStart ?? 0);
    else this.approxBody(content.diff);
    this.crc(crc32(newContent));
    this.crc(crc32(produced));
  }

  /** The END record: only when the records produced exactly target_size bytes. */
  end(): void {
    if (this.produced !== this.targetSize) {
      throw new RangeError(`END after ${this.produced} bytes, the target is ${this.targetSize}`);
    }
    this.emit(Uint8Array.of(RecordKind.end));
    this.ended = true;
  }

  /** The whole delta (after end(), without an `out` callback). */
  bytes(): Uint8Array {
    if (!this.ended) throw new Error("bytes() before end()");
    // A plain Uint8Array over the joined bytes, not the Buffer itself: Buffer's slice() is a view,
    // so a caller that copies with slice() before changing bytes would change the delta instead.
    const joined = Buffer.concat(this.parts);
    return new Uint8Array(joined.buffer, joined.byteOffset, joined.length);
  }

  private begin(kind: number, length: number): void {
    if (this.ended) throw new Error("a record after END");
    const left = this.targetSize - this.produced;
    if (!Number.isSafeInteger(length) || length < 1 || length > left) {
      throw new RangeError(`a record's length is 1 to the ${left} bytes of target left, got ${length}`);
    }
    this.emit(Uint8Array.of(kind));
    this.varint(length);
    this.produced += length;
    this.records++;
  }

  private literalBody(bytes: Uint8Array, filter: BcjArch | null, filterStart: number): void {
    this.emit(Uint8Array.of(FILTERS.indexOf(filter)));
    this.varint(filterStart);
    if (filter === null) {
      this.emit(bytes);
    } else {
      const encoded = bytes.slice();
      bcjFilter(filter, encoded, true, filterStart);
      this.emit(encoded);
    }
  }

  private approxBody(diff: ApproximateDiff): void {
    this.varint(diff.control.length);
    this.varint(diff.differences.length);
    this.varint(diff.literals.length);
    this.emit(diff.control);
    this.emit(diff.differences);
    this.emit(diff.literals);
  }

  private checkExtents(extents: Extent[]): void {
    if (extents.length < 1 || extents.length > MAX_EXTENTS) throw new RangeError(`1 to ${MAX_EXTENTS} extents, got ${extents.length}`);
    let total = 0;
    for (const e of extents) {
      this.checkRange(e.sourceOffset, e.length);
      total += e.length;
    }
    if (total > MAX_RECORD_BUFFER) throw new RangeError(`an old buffer is at most ${MAX_RECORD_BUFFER} bytes, the extents hold ${total}`);
  }

  private extents(extents: Extent[]): void {
    this.varint(extents.length);
    for (const e of extents) {
      this.varint(e.sourceOffset);
      this.varint(e.length);
    }
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 1 || offset + length > this.sourceSize) {
      throw new RangeError(`source range [${offset}, +${length}) is not inside the ${this.sourceSize}-byte source`);
    }
  }

  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`a varint is 0 to 2^53 - 1, got ${value}`);
    this.emit(this.scratch.slice(0, writeVarint(this.scratch, 0, value)));
  }

  private crc(value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value, true);
    this.emit(b);
  }

  private emit(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.out) this.out(bytes);
    else this.parts.push(bytes);
  }
}
