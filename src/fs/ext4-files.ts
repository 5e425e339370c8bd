/**
 * Every regular file of an ext2/3/4 image with the bytes of the image that hold its content, so
 * that the generator can diff a changed file against the old version of the same file instead of
 * searching the whole old image. A file's content is its pieces in order: runs of image bytes,
 * holes (sparse files, unwritten extents: zeros) and, for inline-data files, bytes of the inode
 * table. The list is kept in typed arrays (a root filesystem has tens of thousands of files).
 *
 * Not listed, so left to the whole-image matcher: directories, symlinks (a long target lives in a
 * data block, but it is a name, not file content), device files, the filesystem's own inodes
 * (journal, quota, orphan file), attribute value inodes (ea_inode) and orphans (no name left).
 */
import { createHash } from "node:crypto";
import { MenderDeltaError } from "../errors";
import type { BlockSource } from "../io/interfaces";
import { inlineDataParts } from "./ext4-inline-data";
import { forEachInode, inodeByteOffset } from "./ext4-inode-table";
import { hasInlineData, inodeLinks, inodeMode, inodeSize, isEaInode, S_IFMT, S_IFREG, visitInodeBlocks } from "./ext4-inode";
import type { Ext4Layout } from "./ext4-layout";
import { isSpecialInode } from "./ext4-metadata";
import { walkDirectories } from "./ext4-paths";
import { FsBlockReader } from "./fs-block-reader";

/** The image offset of a piece that is a hole: its bytes are zeros and nowhere in the image. */
export const HOLE = -1;
/** The file's data is in its inode (inline_data): its pieces point into the inode table. */
export const FILE_INLINE = 1;

export interface Ext4FileList {
  readonly count: number;
  readonly inode: Uint32Array;
  /** Bytes. */
  readonly size: Float64Array;
  /** FILE_INLINE. */
  readonly flags: Uint8Array;
  /** Every name of file i, sorted (hard links: several); empty when no directory names it. */
  readonly paths: ReadonlyArray<readonly string[]>;
  /** File i's pieces are triples pieceStart[i] .. pieceStart[i + 1] - 1 of `pieces`. */
  readonly pieceStart: Uint32Array;
  /**
   * Flat triples (fileOffset, imageOffset or HOLE, length), in file order, covering the file's
   * [0, size) without gaps or overlaps; data runs end at the file's size (no slack).
   */
  readonly pieces: Float64Array;
}

/** Float64 triples appended one at a time into a growing buffer. */
class Triples {
  data = new Float64Array(3 * 1024);
  count = 0;
  push(a: number, b: number, c: number): void {
    if (3 * this.count === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const o = 3 * this.count++;
    this.data[o] = a;
    this.data[o + 1] = b;
    this.data[o + 2] = c;
  }
  get(i: number, k: 0 | 1 | 2): number {
    return this.data[3 * i + k]!;
  }
  set(i: number, k: 0 | 1 | 2, value: number): void {
    this.data[3 * i + k] = value;
  }
}

/** A file's pieces as they are found: joins neighbours, fills gaps with holes, stops at the size. */
class PieceBuilder {
  private end = 0;
  private first = 0;
  constructor(
    private readonly out: Triples,
    private readonly ino: number,
    private readonly size: number,
  ) {
    this.first = out.count;
  }

  /** Bytes [fileOffset, fileOffset + length) of the file are at `imageOffset` (or HOLE). */
  add(fileOffset: number, imageOffset: number, length: number): void {
    if (fileOffset < this.end) throw new MenderDeltaError(`ext4: inode ${this.ino} maps byte ${fileOffset} of the file twice or out of order`);
    length = Math.min(length, this.size - fileOffset);
    if (length <= 0) return; // preallocated past the end of the file
    if (fileOffset > this.end) this.append(this.end, HOLE, fileOffset - this.end);
    this.append(fileOffset, imageOffset, length);
  }

  /** Ends the file with a hole up to its size; returns the index after its last piece. */
  finish(): number {
    if (this.end < this.size) this.append(this.end, HOLE, this.size - this.end);
    return this.out.count;
  }

  private append(fileOffset: number, imageOffset: number, length: number): void {
    const last = this.out.count - 1;
    if (last >= this.first) {
      const lastImage = this.out.get(last, 1);
      const follows = imageOffset === HOLE ? lastImage === HOLE : lastImage !== HOLE && lastImage + this.out.get(last, 2) === imageOffset;
      if (follows) {
        this.out.set(last, 2, this.out.get(last, 2) + length);
        this.end = fileOffset + length;
        return;
      }
    }
    this.out.push(fileOffset, imageOffset, length);
    this.end = fileOffset + length;
  }
}

/** Every regular file of the image, with its names and the pieces of the image holding its content. */
export function listExt4Files(src: BlockSource, layout: Ext4Layout): Ext4FileList {
  const reader = new FsBlockReader(src, layout.blockSize);
  const bs = layout.blockSize;
  const inodes: number[] = [];
  const sizes: number[] = [];
  const flags: number[] = [];
  const starts: number[] = [];
  const pieces = new Triples();
  forEachInode(reader, layout, (ino, raw) => {
    if ((inodeMode(raw) & S_IFMT) !== S_IFREG || inodeLinks(raw) === 0 || isSpecialInode(layout, ino) || isEaInode(raw)) return;
    const size = inodeSize(raw);
    inodes.push(ino);
    sizes.push(size);
    starts.push(pieces.count);
    const file = new PieceBuilder(pieces, ino, size);
    if (hasInlineData(raw)) {
      flags.push(FILE_INLINE);
      const at = inodeByteOffset(layout, ino);
      let fileOffset = 0;
      for (const [offset, length] of inlineDataParts(raw, ino)) {
        file.add(fileOffset, at + offset, length);
        fileOffset += length;
      }
      if (fileOffset < size) throw new MenderDeltaError(`ext4: inode ${ino} has ${size} bytes but only ${fileOffset} inline`);
    } else {
      flags.push(0);
      visitInodeBlocks(reader, layout, ino, raw, {
        data: (start, count, logical, unwritten) => file.add(logical * bs, unwritten ? HOLE : start * bs, count * bs),
        index() {},
        xattr() {},
      });
    }
    file.finish();
  });
  starts.push(pieces.count);

  const index = new Map<number, number>(inodes.map((ino, i) => [ino, i]));
  const paths: string[][] = inodes.map(() => []);
  walkDirectories(reader, layout, (ino, path) => {
    const i = index.get(ino);
    if (i !== undefined) paths[i]!.push(path);
    return true;
  });
  for (const p of paths) p.sort();
  return {
    count: inodes.length,
    inode: Uint32Array.from(inodes),
    size: Float64Array.from(sizes),
    flags: Uint8Array.from(flags),
    paths,
    pieceStart: Uint32Array.from(starts),
    pieces: pieces.data.slice(0, 3 * pieces.count),
  };
}

/** Bytes read or zeros handed out at once. */
const CHUNK = 256 * 1024;
const ZEROS = new Uint8Array(CHUNK);

/**
 * Reads the content of listed files from their image. One reader serves every file of a list, so
 * its buffers are allocated once and neighbouring small files share a read of the image.
 */
export class Ext4FileReader {
  private readonly reader: FsBlockReader;
  private readonly buffer = new Uint8Array(CHUNK);

  constructor(
    src: BlockSource,
    private readonly files: Ext4FileList,
  ) {
    this.reader = new FsBlockReader(src, 1024);
  }

  /**
   * Calls `onChunk` with file i's content in order, in chunks valid only during the call: bytes
   * of the image for data pieces, zeros for holes. Memory: one chunk, whatever the file's size.
   */
  forEachChunk(i: number, onChunk: (chunk: Uint8Array) => void): void {
    this.forEachPiece(i, (length) => {
      for (let done = 0; done < length; done += CHUNK) onChunk(ZEROS.subarray(0, Math.min(CHUNK, length - done)));
    }, onChunk);
  }

  /** The SHA-256 of file i's content (hex). */
  sha256(i: number): string {
    const hash = createHash("sha256");
    this.forEachChunk(i, (chunk) => hash.update(chunk));
    return hash.digest("hex");
  }

  /**
   * A digest of file i's content for pairing files by content (file-pairing.ts): SHA-256 over its
   * pieces in order, each tagged with its length, a hole as that alone instead of its zeros. A
   * sparse file then costs what its data does, whatever its size (a 20 GB sparse file made each
   * run hash 40 GB of zeros). Equal digests still mean equal content; the same content with its
   * holes elsewhere (zero blocks written out on one side) gives another digest, and the pair is
   * diffed rather than copied: a few bytes more, never a wrong result.
   */
  contentDigest(i: number): string {
    const hash = createHash("sha256");
    const tag = new Uint8Array(9);
    const view = new DataView(tag.buffer);
    const piece = (kind: number, length: number): void => {
      view.setUint8(0, kind);
      view.setFloat64(1, length);
      hash.update(tag);
    };
    this.forEachPiece(i, (length) => piece(0, length), (chunk) => hash.update(chunk), (length) => piece(1, length));
    return hash.digest("hex");
  }

  /**
   * File i's pieces in order: `onHole` with each hole's length, `onData` with each data piece's
   * bytes in chunks valid only during the call (after `onDataPiece` with its length, when given).
   */
  private forEachPiece(i: number, onHole: (length: number) => void, onData: (chunk: Uint8Array) => void, onDataPiece?: (length: number) => void): void {
    const { pieces, pieceStart } = this.files;
    for (let p = pieceStart[i]!; p < pieceStart[i + 1]!; p++) {
      const at = pieces[3 * p + 1]!;
      const length = pieces[3 * p + 2]!;
      if (at === HOLE) {
        onHole(length);
        continue;
      }
      onDataPiece?.(length);
      for (let done = 0; done < length; done += CHUNK) {
        const n = Math.min(CHUNK, length - done);
        this.reader.readBytes(at + done, n, this.buffer);
        onData(this.buffer.subarray(0, n));
      }
    }
  }
}
