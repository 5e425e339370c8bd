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
 */
import { anchorBucket, GEAR, GEAR_AFTER_ZEROS } from "./gear-hash";
import { BLOCK_SIZE, BLOCK_WORDS, blockHash } from "./block-hash";

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
    };
  }
}

/** Memory the index needs for a source of `sourceSize` bytes, source copy included. */
export function indexMemoryBytes(sourceSize: number, params: IndexParams): number {
  const anchors = Math.max(1, Math.ceil(sourceSize / 2 ** params.anchorBits));
  const entries = 2 ** Math.max(4, Math.ceil(Math.log2(anchors / params.bucketSize))) * params.bucketSize;
  const blocks = Math.ceil(sourceSize / BLOCK_SIZE);
  return sourceSize + entries * 8 + 2 ** Math.max(4, Math.ceil(Math.log2(blocks * 2 + 1))) * 8;
}

/**
 * Loads the source and fills the index, chunk by chunk in source order: `add(chunk, at)` with
 * chunks of a multiple of 4096 bytes (only the last may be shorter). All-zero blocks are not
 * copied into the shared buffer: its pages stay untouched, so the free space of an image (or a
 * sparse file) costs neither RAM nor page faults.
 */
export class SourceIndexBuilder {
  private readonly index: SourceIndex;
  private readonly view: Uint8Array;
  private indexed = 0;
  private h = 0;
  private readonly zeroBlock = Buffer.alloc(BLOCK_SIZE);
  private zeroHashSeen = false;

  constructor(index: SourceIndex) {
    this.index = index;
    this.view = new Uint8Array(index.shared.source);
  }

  add(chunk: Buffer, at: number): void {
    const ix = this.index;
    if (at !== this.indexed) throw new Error(`source chunk at ${at}, expected ${this.indexed}`);
    const src = ix.source;
    const { anchors, blockKey, blockPos, blockMask } = ix;
    const anchorShift = 32 - ix.shared.anchorBits;
    const bucketBits = ix.shared.bucketBits;
    const bucketSize = ix.shared.bucketSize;
    const gear = GEAR; // a local: outside a bundle each module-binding access is a getter call
    let h = this.h;
    for (let off = 0; off < chunk.length; off += BLOCK_SIZE) {
      const len = Math.min(BLOCK_SIZE, chunk.length - off);
      const start = at + off;
      const stop = start + len;
      const isZero = chunk.compare(this.zeroBlock, 0, len, off, off + len) === 0;
      if (!isZero) this.view.set(chunk.subarray(off, off + len), start);
      // Block index (a partial last block hashes with the zero padding of the shared buffer).
      if (len === BLOCK_SIZE && (!isZero || !this.zeroHashSeen)) {
        if (isZero) this.zeroHashSeen = true;
        const key = blockHash(ix.words, start >>> 2);
        let slot = key & blockMask;
        for (;;) {
          const p = blockPos[slot]!;
          if (p === 0) { blockKey[slot] = key; blockPos[slot] = start / BLOCK_SIZE + 1; break; }
          if (blockKey[slot] === key) break; // keep the first copy of identical content
          slot = (slot + 1) & blockMask;
        }
      }
      if (isZero && len === BLOCK_SIZE) {
        h = GEAR_AFTER_ZEROS;
      } else {
        for (let i = start; i < stop; i++) {
          h = ((h << 1) + gear[src[i]!]!) | 0;
          if (h >>> anchorShift === 0) {
            const base = anchorBucket(h, bucketBits) * bucketSize * 2;
            // Newest first: shift the bucket down by one entry and drop the oldest.
            anchors.copyWithin(base + 2, base, base + bucketSize * 2 - 2);
            anchors[base] = i + 1;
            anchors[base + 1] = h;
          }
        }
      }
    }
    this.indexed = at + chunk.length;
    this.h = h;
  }
}
