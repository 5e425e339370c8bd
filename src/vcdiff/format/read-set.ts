/**
 * The read set: a digest of exactly the source bytes a delta copies from, carried in the VCDIFF
 * application header. On a root filesystem mounted read-write the whole partition never hashes to
 * the release it was installed from, yet the blocks a delta reads are usually intact; the read set
 * lets the device check those blocks alone before it writes anything.
 *
 * Application header = ASCII "mbd-readset1:" + base64url without padding of the raw-DEFLATE body:
 *
 *   varint sourceSize                 bytes of the source image the digest describes
 *   varint R                          read ranges, sorted, non-overlapping, non-adjacent
 *   R x (varint gap, varint length)   gap = start - previous end (first: start); length > 0
 *   32 bytes                          sha256 of all range bytes concatenated in order
 *   varint readChunkShift             16: range bytes are also hashed per 64 KiB-aligned chunk
 *   C x 4 bytes                       per aligned chunk holding range bytes (ascending): sha256[0..4]
 *                                     of the range bytes inside it
 *   varint wholeChunkShift            20
 *   W x 4 bytes                       W = ceil(sourceSize / 2^20): sha256[0..4] of each whole
 *                                     1 MiB chunk of the source (the last one short)
 *
 * Varints are VCDIFF's (big-endian base 128, src/vcdiff/format/varint.ts), exact up to 2^53.
 *
 * Why this encoding: xdelta3 splits an application header at '/' into file names and ignores one
 * without '/', so base64url (no '/', no NUL) keeps stock `xdelta3 -d -s OLD DELTA NEW` working.
 * The chunk hashes only say where a change is; the sha256 over all range bytes decides.
 */
import { normalizeRanges, rangesLength, type ByteRange } from "../../io/byte-ranges";
import { createHash, type Hash } from "node:crypto";
import * as zlib from "node:zlib";
import { deflateSync } from "fflate";
import { MenderDeltaError } from "../../errors";
import type { BlockSource } from "../../io/interfaces";
import { varintLength, writeVarint } from "./varint";
import { ByteCursor, VarintProblem } from "./varint-reader";

export type { ByteRange };

export interface ReadSet {
  sourceSize: number;
  /** start,end pairs (end exclusive), sorted, non-overlapping, non-adjacent. */
  ranges: Float64Array;
  /** sha256 of all range bytes in order. */
  sha256: Uint8Array;
  readChunkShift: number;
  /** 4 bytes per aligned read chunk that holds range bytes, ascending. */
  readChunkHashes: Uint8Array;
  wholeChunkShift: number;
  /** 4 bytes per whole chunk of the source. */
  wholeChunkHashes: Uint8Array;
}

export interface ReadSetCheck {
  /** True when every range byte is as the delta expects (the sha256 over all of them matched). */
  intact: boolean;
  rangesRead: number;
  /** Bytes of the source read for the check. */
  bytesRead: number;
  /** The range bytes inside each read chunk whose hash differs, ascending. */
  changedChunks: ByteRange[];
  /** Ranges with bytes in a changed read chunk. */
  changedRanges: number;
  wholeChunksChanged: number;
  wholeChunks: number;
}

export const READ_SET_PREFIX = "mbd-readset1:";
export const READ_CHUNK_SHIFT = 16;
export const WHOLE_CHUNK_SHIFT = 20;
/** Largest body accepted after inflating (and so largest application header worth reading). */
export const MAX_READ_SET_BYTES = 64 << 20;
/** Chunk sizes accepted from a header: 4 KiB to 1 GiB. */
const MIN_SHIFT = 12;
const MAX_SHIFT = 30;
const DIGEST_PREFIX = 4;
const PREFIX_BYTES = new TextEncoder().encode(READ_SET_PREFIX);

/** Aligned chunks of 2^shift bytes that hold at least one range byte. */
function countChunks(ranges: Float64Array, shift: number): number {
  const size = 2 ** shift;
  let count = 0;
  let last = -1;
  for (let i = 0; i < ranges.length; i += 2) {
    const first = Math.max(Math.floor(ranges[i]! / size), last + 1);
    const end = Math.floor((ranges[i + 1]! - 1) / size);
    if (end >= first) count += end - first + 1;
    last = Math.max(last, end);
  }
  return count;
}

interface ScanSink {
  /** A read chunk's range bytes are complete: its digest and the ranges [firstRange, lastRange] in it. */
  readChunk(chunk: number, digest: Buffer, firstRange: number, lastRange: number): void;
  wholeChunk(chunk: number, digest: Buffer): void;
}

/**
 * The one sequential pass both building and checking need: reads the first `sourceSize` bytes of
 * `source` block by block and hashes the range bytes (all together and per read chunk) and every
 * whole chunk. Memory: one block and three hash states. Returns the sha256 of all range bytes and
 * the bytes read.
 */
function scan(
  source: BlockSource,
  sourceSize: number,
  ranges: Float64Array,
  readShift: number,
  wholeShift: number,
  sink: ScanSink,
): { sha256: Buffer; bytesRead: number } {
  if (source.size < sourceSize) {
    throw new MenderDeltaError(
      `the source holds ${source.size} bytes, less than the ${sourceSize}-byte image the delta was made from; is it the right image or partition?`,
    );
  }
  const readSize = 2 ** readShift;
  const wholeSize = 2 ** wholeShift;
  const all = createHash("sha256");
  let whole: Hash = createHash("sha256");
  let wholeIndex = 0;
  let wholeEnd = Math.min(wholeSize, sourceSize);
  let chunkHash: Hash | undefined;
  let chunkIndex = -1;
  let chunkFirstRange = 0;
  let chunkLastRange = 0;
  const finishReadChunk = () => {
    if (chunkHash) sink.readChunk(chunkIndex, chunkHash.digest(), chunkFirstRange, chunkLastRange);
    chunkHash = undefined;
  };

  const block = source.allocateBlock();
  const blockSize = source.blockSize;
  const blocks = Math.ceil(sourceSize / blockSize);
  const rangeCount = ranges.length / 2;
  let ri = 0;
  let bytesRead = 0;
  for (let b = 0; b < blocks; b++) {
    const blockStart = b * blockSize;
    const want = Math.min(blockSize, sourceSize - blockStart);
    const n = source.readBlock(b, block);
    bytesRead += n;
    if (n < want) {
      throw new MenderDeltaError(`the source ended at byte ${blockStart + n}, expected ${sourceSize} bytes; was it resized?`);
    }
    const blockEnd = blockStart + want;

    // Whole chunks: split the block where chunks end.
    for (let pos = blockStart; pos < blockEnd; ) {
      const to = Math.min(blockEnd, wholeEnd);
      whole.update(block.subarray(pos - blockStart, to - blockStart));
      pos = to;
      if (pos === wholeEnd) {
        sink.wholeChunk(wholeIndex, whole.digest());
        whole = createHash("sha256");
        wholeIndex++;
        wholeEnd = Math.min(wholeEnd + wholeSize, sourceSize);
      }
    }

    // Range bytes in this block, split where read chunks end.
    while (ri < rangeCount) {
      const start = ranges[2 * ri]!;
      const end = ranges[2 * ri + 1]!;
      if (start >= blockEnd) break;
      let pos = Math.max(start, blockStart);
      const stop = Math.min(end, blockEnd);
      while (pos < stop) {
        const chunk = Math.floor(pos / readSize);
        if (chunk !== chunkIndex) {
          finishReadChunk();
          chunkHash = createHash("sha256");
          chunkIndex = chunk;
          chunkFirstRange = ri;
        }
        chunkLastRange = ri;
        const to = Math.min(stop, (chunk + 1) * readSize);
        const piece = block.subarray(pos - blockStart, to - blockStart);
        all.update(piece);
        chunkHash!.update(piece);
        pos = to;
      }
      if (end > blockEnd) break;
      ri++;
    }
  }
  finishReadChunk();
  return { sha256: all.digest(), bytesRead };
}

/**
 * The read set of `ranges` (merged and sorted first) over the whole of `source`, in one
 * sequential pass.
 */
export function buildReadSet(ranges: ByteRange[] | Float64Array, source: BlockSource): ReadSet {
  const merged = normalizeRanges(ranges);
  const sourceSize = source.size;
  if (merged.length > 0 && merged[merged.length - 1]! > sourceSize) {
    throw new RangeError(`read range ends at byte ${merged[merged.length - 1]}, beyond the ${sourceSize}-byte source`);
  }
  const readChunkHashes = new Uint8Array(countChunks(merged, READ_CHUNK_SHIFT) * DIGEST_PREFIX);
  const wholeChunkHashes = new Uint8Array(Math.ceil(sourceSize / 2 ** WHOLE_CHUNK_SHIFT) * DIGEST_PREFIX);
  let readAt = 0;
  const { sha256 } = scan(source, sourceSize, merged, READ_CHUNK_SHIFT, WHOLE_CHUNK_SHIFT, {
    readChunk(_chunk, digest) {
      readChunkHashes.set(digest.subarray(0, DIGEST_PREFIX), readAt);
      readAt += DIGEST_PREFIX;
    },
    wholeChunk(chunk, digest) {
      wholeChunkHashes.set(digest.subarray(0, DIGEST_PREFIX), chunk * DIGEST_PREFIX);
    },
  });
  return {
    sourceSize,
    ranges: merged,
    sha256: new Uint8Array(sha256),
    readChunkShift: READ_CHUNK_SHIFT,
    readChunkHashes,
    wholeChunkShift: WHOLE_CHUNK_SHIFT,
    wholeChunkHashes,
  };
}

/** Compares digest prefixes: expected[at..at+4] with actual[0..4]. */
function samePrefix(expected: Uint8Array, at: number, actual: Uint8Array): boolean {
  for (let i = 0; i < DIGEST_PREFIX; i++) if (expected[at + i] !== actual[i]) return false;
  return true;
}

/**
 * Checks the source against the read set in one sequential pass (whole blocks, so an O_DIRECT
 * source works). Memory beyond the ReadSet: one block and the list of changed chunks.
 */
export function checkReadSet(set: ReadSet, source: BlockSource): ReadSetCheck {
  const { ranges } = set;
  const changedChunks: ByteRange[] = [];
  let changedRanges = 0;
  let lastChangedRange = -1;
  let readAt = 0;
  let wholeChunksChanged = 0;
  const readSize = 2 ** set.readChunkShift;
  const { sha256, bytesRead } = scan(source, set.sourceSize, ranges, set.readChunkShift, set.wholeChunkShift, {
    readChunk(chunk, digest, firstRange, lastRange) {
      const at = readAt;
      readAt += DIGEST_PREFIX;
      if (samePrefix(set.readChunkHashes, at, digest)) return;
      const chunkStart = chunk * readSize;
      const chunkEnd = chunkStart + readSize;
      for (let r = firstRange; r <= lastRange; r++) {
        changedChunks.push([Math.max(ranges[2 * r]!, chunkStart), Math.min(ranges[2 * r + 1]!, chunkEnd)]);
        if (r > lastChangedRange) {
          changedRanges++;
          lastChangedRange = r;
        }
      }
    },
    wholeChunk(chunk, digest) {
      if (!samePrefix(set.wholeChunkHashes, chunk * DIGEST_PREFIX, digest)) wholeChunksChanged++;
    },
  });
  let intact = changedChunks.length === 0;
  for (let i = 0; i < 32; i++) if (sha256[i] !== set.sha256[i]) intact = false;
  return {
    intact,
    rangesRead: ranges.length / 2,
    bytesRead,
    changedChunks,
    changedRanges,
    wholeChunksChanged,
    wholeChunks: set.wholeChunkHashes.length / DIGEST_PREFIX,
  };
}

/** Total bytes in the ranges. */
export function rangeBytes(set: ReadSet): number {
  return rangesLength(set.ranges);
}

function encodeBody(set: ReadSet): Uint8Array {
  const { ranges } = set;
  let size = varintLength(set.sourceSize) + varintLength(ranges.length / 2) + 32;
  size += varintLength(set.readChunkShift) + set.readChunkHashes.length + varintLength(set.wholeChunkShift) + set.wholeChunkHashes.length;
  let prevEnd = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    size += varintLength(ranges[i]! - prevEnd) + varintLength(ranges[i + 1]! - ranges[i]!);
    prevEnd = ranges[i + 1]!;
  }
  const body = new Uint8Array(size);
  let pos = writeVarint(body, 0, set.sourceSize);
  pos = writeVarint(body, pos, ranges.length / 2);
  prevEnd = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    pos = writeVarint(body, pos, ranges[i]! - prevEnd);
    pos = writeVarint(body, pos, ranges[i + 1]! - ranges[i]!);
    prevEnd = ranges[i + 1]!;
  }
  body.set(set.sha256, pos);
  pos += 32;
  pos = writeVarint(body, pos, set.readChunkShift);
  body.set(set.readChunkHashes, pos);
  pos += set.readChunkHashes.length;
  pos = writeVarint(body, pos, set.wholeChunkShift);
  body.set(set.wholeChunkHashes, pos);
  return body;
}

/** The application header bytes for `set` (fflate's deflate: the same bytes on every Node version). */
export function encodeReadSetAppHeader(set: ReadSet): Uint8Array {
  const packed = Buffer.from(deflateSync(encodeBody(set), { level: 9 })).toString("base64url");
  return new TextEncoder().encode(READ_SET_PREFIX + packed);
}

function damaged(what: string): MenderDeltaError {
  return new MenderDeltaError(
    `the delta's read set (application header) is damaged: ${what}; fetch or generate the delta again`,
  );
}

function isBase64UrlByte(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
}

/**
 * The read set in an application header; undefined when the header is not one (xdelta3's own
 * "name//name/" text, say). A damaged one of ours is a MenderDeltaError. Counts are checked
 * against the body's length before anything is allocated, and inflating stops at
 * MAX_READ_SET_BYTES.
 */
export function parseReadSetAppHeader(appHeader: Uint8Array): ReadSet | undefined {
  if (appHeader.length < PREFIX_BYTES.length) return undefined;
  for (let i = 0; i < PREFIX_BYTES.length; i++) if (appHeader[i] !== PREFIX_BYTES[i]) return undefined;
  const text = appHeader.subarray(PREFIX_BYTES.length);
  for (let i = 0; i < text.length; i++) if (!isBase64UrlByte(text[i]!)) throw damaged(`byte ${PREFIX_BYTES.length + i} is not base64url`);
  if (text.length % 4 === 1) throw damaged("its base64url text has an impossible length");
  const packed = Buffer.from(Buffer.from(text.buffer, text.byteOffset, text.length).toString("latin1"), "base64url");
  let body: Buffer;
  try {
    body = zlib.inflateRawSync(packed, { maxOutputLength: MAX_READ_SET_BYTES });
  } catch (err) {
    if (err instanceof RangeError) throw damaged(`it inflates to more than ${MAX_READ_SET_BYTES} bytes`);
    throw damaged(`it does not inflate (${(err as Error).message})`);
  }
  try {
    return parseBody(body);
  } catch (err) {
    if (err instanceof VarintProblem) throw damaged(`${err.kind === "truncated" ? "it ends early" : "an integer is too large"} at body byte ${err.at}`);
    throw err;
  }
}

function parseBody(body: Uint8Array): ReadSet {
  const c = new ByteCursor(body, 0, body.length);
  const sourceSize = c.offset();
  if (sourceSize === 0) throw damaged("it describes an empty source");
  const count = c.offset();
  // Each range takes at least two bytes.
  if (count > c.remaining / 2) throw damaged(`it claims ${count} ranges in ${c.remaining} bytes`);
  const ranges = new Float64Array(count * 2);
  let prevEnd = 0;
  for (let i = 0; i < count; i++) {
    const gap = c.offset();
    const length = c.offset();
    if (i > 0 && gap === 0) throw damaged(`range ${i} touches the one before it`);
    if (length === 0) throw damaged(`range ${i} is empty`);
    const start = prevEnd + gap;
    const end = start + length;
    if (end > sourceSize) throw damaged(`range ${i} (bytes ${start}-${end}) lies beyond the ${sourceSize}-byte source`);
    ranges[2 * i] = start;
    ranges[2 * i + 1] = end;
    prevEnd = end;
  }
  if (c.remaining < 32) throw damaged("it ends inside the sha256");
  const sha256 = body.subarray(c.pos, c.pos + 32);
  c.pos += 32;
  const readChunkShift = c.offset();
  if (readChunkShift < MIN_SHIFT || readChunkShift > MAX_SHIFT) throw damaged(`read chunk shift ${readChunkShift} is out of range`);
  const readBytes = countChunks(ranges, readChunkShift) * DIGEST_PREFIX;
  if (readBytes > c.remaining) throw damaged(`it needs ${readBytes} bytes of read chunk hashes, ${c.remaining} are left`);
  const readChunkHashes = body.subarray(c.pos, c.pos + readBytes);
  c.pos += readBytes;
  const wholeChunkShift = c.offset();
  if (wholeChunkShift < MIN_SHIFT || wholeChunkShift > MAX_SHIFT) throw damaged(`whole chunk shift ${wholeChunkShift} is out of range`);
  const wholeBytes = Math.ceil(sourceSize / 2 ** wholeChunkShift) * DIGEST_PREFIX;
  if (wholeBytes !== c.remaining) throw damaged(`it holds ${c.remaining} bytes of whole chunk hashes, ${wholeBytes} expected`);
  const wholeChunkHashes = body.subarray(c.pos, c.pos + wholeBytes);
  // Copies: the ReadSet must not keep the whole inflated body alive.
  return {
    sourceSize,
    ranges,
    sha256: new Uint8Array(sha256),
    readChunkShift,
    readChunkHashes: new Uint8Array(readChunkHashes),
    wholeChunkShift,
    wholeChunkHashes: new Uint8Array(wholeChunkHashes),
  };
}
