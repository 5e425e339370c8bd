/**
 * The whole-source index, built once and shared (SharedArrayBuffer) by every window encoder:
 *
 * - a block index: the hash of every 4 KiB-aligned source block, open addressing (first
 *   occurrence wins), for whole relocated filesystem blocks;
 * - an anchor index: source positions where the gear hash's top `anchorBits` bits are zero
 *   (one per 2^anchorBits bytes on average, content-defined, so a block that moved anywhere still
 *   has its anchors), in buckets of `bucketSize` entries (newest first), each entry a position
 *   and the full hash to reject most false hits without touching the source. Entries are
 *   interleaved (pos, hash, pos, hash, ...) so a bucket of 8 is one 64-byte cache line: inserting
 *   and probing cost one cache miss.
 *
 * All-zero 4 KiB blocks get no anchors (free space in images; runs and the block index cover it).
 * Positions are stored +1 in Uint32Arrays, 0 meaning empty, so sources are limited to 4 GiB.
 *
 * Building, in phases that parallelise and still give the same index for any thread count:
 * 1. SourceLoader (any thread, disjoint ranges): copies non-zero blocks into shared memory and
 *    marks zero blocks.
 * 2. scanSourceRange (the same thread, right after): anchors of the range as a (pos, hash) list,
 *    and the hash of every block into `blockHashes`.
 * 3. insertAnchors (any thread, disjoint sets of buckets): the lists in source order into the
 *    buckets a thread owns; so every bucket receives its anchors in source order.
 * 4. buildBlockIndex (main thread): the block hashes into the block table in source order.
 */
import { anchorBucket, GEAR, GEAR_AFTER_ZEROS, GEAR_SPAN } from "./gear-hash";
import { BLOCK_SIZE, blockHash } from "./block-hash";

export interface IndexParams {
  /** log2 of the mean distance between anchors. */
  anchorBits: number;
  /** Entries per anchor bucket. */
  bucketSize: number;
}

/** What a worker needs to rebuild the views (all memory shared). */
export interface SourceIndexShared {
  source: SharedArrayBuffer;
  sourceSize: number;
  anchorBits: number;
  bucketSize: number;
  bucketBits: number;
  /** Interleaved Uint32 pairs: position + 1 (0 = empty), then the gear hash. */
  anchors: SharedArrayBuffer;
  blockBits: number;
  blockKey: SharedArrayBuffer;
  blockPos: SharedArrayBuffer;
  /** Per 4 KiB block: 1 when all zero (set while loading). */
  zeroBlocks: SharedArrayBuffer;
  /** Per 4 KiB block: its hash (set by scanSourceRange for full, non-zero blocks). */
  blockHashes: SharedArrayBuffer;
}

/** Largest source the index supports (Uint32 positions; segment + window < 2^32 for xdelta3). */
export const MAX_SOURCE_SIZE = 2 ** 32 - 2 ** 25;

export class SourceIndex {
  readonly source: Buffer;
  readonly words: Int32Array;
  readonly anchors: Uint32Array;
  readonly blockKey: Uint32Array;
  readonly blockPos: Uint32Array;
  readonly blockMask: number;

  constructor(readonly shared: SourceIndexShared) {
    this.source = Buffer.from(shared.source, 0, shared.sourceSize);
    this.words = new Int32Array(shared.source);
    this.anchors = new Uint32Array(shared.anchors);
    this.blockKey = new Uint32Array(shared.blockKey);
    this.blockPos = new Uint32Array(shared.blockPos);
    this.blockMask = (1 << shared.blockBits) - 1;
  }

  get size(): number {
    return this.shared.sourceSize;
  }

  /** Allocates the shared memory for a source of `sourceSize` bytes (contents filled by SourceIndexBuilder). */
  static allocate(sourceSize: number, params: IndexParams): SourceIndexShared {
    const anchors = Math.max(1, Math.ceil(sourceSize / 2 ** params.anchorBits));
    const bucketBits = Math.max(4, Math.ceil(Math.log2(anchors / params.bucketSize)));
    const blocks = Math.ceil(sourceSize / BLOCK_SIZE);
    const blockBits = Math.max(4, Math.ceil(Math.log2(blocks * 2 + 1)));
    const entries = 2 ** bucketBits * params.bucketSize;
    return {
      // Rounded up to whole blocks (zero padded) so block hashing never reads past the end.
      source: new SharedArrayBuffer(Math.ceil(sourceSize / BLOCK_SIZE) * BLOCK_SIZE || BLOCK_SIZE),
      sourceSize,
      anchorBits: params.anchorBits,
      bucketSize: params.bucketSize,
      bucketBits,
      anchors: new SharedArrayBuffer(entries * 8),
      blockBits,
      blockKey: new SharedArrayBuffer(2 ** blockBits * 4),
      blockPos: new SharedArrayBuffer(2 ** blockBits * 4),
      zeroBlocks: new SharedArrayBuffer(Math.max(1, blocks)),
      blockHashes: new SharedArrayBuffer(Math.max(1, blocks) * 4),
    };
  }
}

/**
 * Phase 1: puts source bytes into the shared buffer (`add(chunk, at)`, `at` block aligned, chunks
 * a multiple of 4096 bytes but the source's last). All-zero blocks are only marked, not copied: the
 * buffer's pages stay untouched, so the free space of an image (or a sparse file) costs neither RAM
 * nor page faults. Disjoint parts of the source may be added from different threads.
 */
export class SourceLoader {
  private readonly view: Uint8Array;
  private readonly zero: Uint8Array;
  private readonly zeroBlock = Buffer.alloc(BLOCK_SIZE);

  constructor(shared: SourceIndexShared) {
    this.view = new Uint8Array(shared.source);
    this.zero = new Uint8Array(shared.zeroBlocks);
  }

  add(chunk: Buffer, at: number): void {
    let runStart = 0; // start of the current run of non-zero blocks, copied in one go
    for (let off = 0; off < chunk.length; off += BLOCK_SIZE) {
      const len = Math.min(BLOCK_SIZE, chunk.length - off);
      if (chunk.compare(this.zeroBlock, 0, len, off, off + len) === 0) {
        this.zero[(at + off) / BLOCK_SIZE] = 1;
        if (runStart < off) this.view.set(chunk.subarray(runStart, off), at + runStart);
        runStart = off + len;
      }
    }
    if (runStart < chunk.length) this.view.set(chunk.subarray(runStart), at + runStart);
  }
}

/** Anchors found by scanSourceRange: `count` (position + 1, hash) pairs. */
export interface AnchorList {
  pairs: Uint32Array;
  count: number;
}

/** Splits [0, size) into `parts` block-aligned ranges (some may be empty). */
export function sourceRanges(size: number, parts: number): [number, number][] {
  const blocks = Math.ceil(size / BLOCK_SIZE);
  const out: [number, number][] = [];
  for (let i = 0; i < parts; i++) {
    const a = Math.floor((blocks * i) / parts) * BLOCK_SIZE;
    const b = Math.min(size, Math.floor((blocks * (i + 1)) / parts) * BLOCK_SIZE);
    out.push([a, b]);
  }
  return out;
}

/**
 * Phase 2: anchors of source bytes [from, to) (block aligned) in source order, and block hashes.
 * The gear hash is warmed up on the 32 bytes before `from` (`before`, when another thread may still
 * be loading them), so ranges give the same anchors as one pass over everything.
 */
export function scanSourceRange(index: SourceIndex, from: number, to: number, before?: Uint8Array): AnchorList {
  const src = index.source;
  const zero = new Uint8Array(index.shared.zeroBlocks);
  const hashes = new Uint32Array(index.shared.blockHashes);
  const anchorShift = 32 - index.shared.anchorBits;
  const gear = GEAR; // a local: outside a bundle each module-binding access is a getter call
  const words = new Uint32Array(index.shared.source);
  let pairs = new Uint32Array(Math.max(64, Math.ceil(((to - from) / 2 ** index.shared.anchorBits) * 1.25) * 2));
  let n = 0;
  let h = 0;
  if (before !== undefined) for (let i = 0; i < before.length; i++) h = ((h << 1) + gear[before[i]!]!) | 0;
  else for (let i = Math.max(0, from - GEAR_SPAN); i < from; i++) h = ((h << 1) + gear[src[i]!]!) | 0;
  for (let start = from; start < to; start += BLOCK_SIZE) {
    const stop = Math.min(start + BLOCK_SIZE, to);
    const block = start / BLOCK_SIZE;
    if (zero[block] === 1 && stop - start === BLOCK_SIZE) {
      h = GEAR_AFTER_ZEROS;
      continue;
    }
    if (stop - start === BLOCK_SIZE) hashes[block] = blockHash(index.words, start / 4);
    // Whole 32-bit words where possible: one load per four bytes (about 2x the byte loop).
    const wordEnd = LITTLE_ENDIAN ? start + ((stop - start) & ~3) : start;
    for (let w = start >>> 2, i = start; i < wordEnd; w++, i += 4) {
      const x = words[w]!;
      h = ((h << 1) + gear[x & 0xff]!) | 0;
      if (h >>> anchorShift === 0) pairs = pushAnchor(pairs, n, i, h), n += 2;
      h = ((h << 1) + gear[(x >>> 8) & 0xff]!) | 0;
      if (h >>> anchorShift === 0) pairs = pushAnchor(pairs, n, i + 1, h), n += 2;
      h = ((h << 1) + gear[(x >>> 16) & 0xff]!) | 0;
      if (h >>> anchorShift === 0) pairs = pushAnchor(pairs, n, i + 2, h), n += 2;
      h = ((h << 1) + gear[x >>> 24]!) | 0;
      if (h >>> anchorShift === 0) pairs = pushAnchor(pairs, n, i + 3, h), n += 2;
    }
    for (let i = wordEnd; i < stop; i++) {
      h = ((h << 1) + gear[src[i]!]!) | 0;
      if (h >>> anchorShift === 0) pairs = pushAnchor(pairs, n, i, h), n += 2;
    }
  }
  return { pairs, count: n / 2 };
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Stores anchor (pos, h) at pairs[n], growing the list when full; returns the list. */
function pushAnchor(pairs: Uint32Array<ArrayBuffer>, n: number, pos: number, h: number): Uint32Array<ArrayBuffer> {
  if (n + 2 > pairs.length) {
    const grown = new Uint32Array(pairs.length * 2);
    grown.set(pairs);
    pairs = grown;
  }
  pairs[n] = pos + 1;
  pairs[n + 1] = h;
  return pairs;
}

/**
 * Phase 3: inserts the anchors of `lists` (in source order) whose bucket number is `part` modulo
 * `parts`: threads given different parts never touch the same bucket.
 */
export function insertAnchors(index: SourceIndex, lists: AnchorList[], part: number, parts: number): void {
  const anchors = index.anchors;
  const bucketBits = index.shared.bucketBits;
  const bucketSize = index.shared.bucketSize;
  for (const { pairs, count } of lists) {
    for (let k = 0; k < count * 2; k += 2) {
      const h = pairs[k + 1]!;
      const bucket = anchorBucket(h, bucketBits);
      if (bucket % parts !== part) continue;
      const base = bucket * bucketSize * 2;
      // Newest first: shift the bucket down by one entry and drop the oldest (a loop: a
      // copyWithin call costs more than these few moves).
      for (let j = base + bucketSize * 2 - 2; j > base; j -= 2) {
        anchors[j] = anchors[j - 2]!;
        anchors[j + 1] = anchors[j - 1]!;
      }
      anchors[base] = pairs[k]!;
      anchors[base + 1] = h;
    }
  }
}

/** Phase 4: the block table, in source order (the first copy of identical content wins). */
export function buildBlockIndex(index: SourceIndex): void {
  const { blockKey, blockPos, blockMask } = index;
  const zero = new Uint8Array(index.shared.zeroBlocks);
  const hashes = new Uint32Array(index.shared.blockHashes);
  const fullBlocks = Math.floor(index.size / BLOCK_SIZE);
  let zeroSeen = false;
  for (let b = 0; b < fullBlocks; b++) {
    let key: number;
    if (zero[b] === 1) {
      if (zeroSeen) continue;
      zeroSeen = true;
      key = blockHash(index.words, (b * BLOCK_SIZE) / 4);
    } else {
      key = hashes[b]!;
    }
    let slot = key & blockMask;
    for (;;) {
      if (blockPos[slot] === 0) { blockKey[slot] = key; blockPos[slot] = b + 1; break; }
      if (blockKey[slot] === key) break;
      slot = (slot + 1) & blockMask;
    }
  }
}
