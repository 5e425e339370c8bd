/**
 * A file with holes (all-zero blocks a file system leaves unallocated: mke2fs -d does so for every
 * zero 4 KiB block, e.g. an arm64 program's page-alignment padding) as two views: its data (the
 * bytes outside the holes, in order: what its extents read) and the whole file (zeros in the
 * holes: what an ELF reader needs). Both directions work in place in one buffer of the whole
 * length, so a record holds no second copy.
 */

/** One hole: `length` zero bytes at `offset` of the whole file. */
export interface Hole {
  offset: number;
  length: number;
}

/** The holes of a record's old and new file (EXEC with holes, docs/file-delta-format.md). */
export interface FileHoles {
  old: Hole[];
  new: Hole[];
}

/** At most this many holes per file (as many as a record may have extents). */
export const MAX_HOLES = 4096;

/** The whole file's length: its data and its holes. */
export function wholeLength(holes: readonly Hole[], dataLength: number): number {
  let total = dataLength;
  for (const h of holes) total += h.length;
  return total;
}

/**
 * Why `holes` cannot be the holes of a file of `dataLength` data bytes whose whole is at most
 * `maxWhole` bytes, or undefined when they can: sorted, at least 1 byte each, neither
 * overlapping nor adjacent (adjacent holes are one hole: one spelling per file), inside the whole.
 */
export function holesProblem(holes: readonly Hole[], dataLength: number, maxWhole: number): string | undefined {
  if (holes.length > MAX_HOLES) return `${holes.length} holes, at most ${MAX_HOLES}`;
  let total = dataLength;
  let end = -1;
  for (let i = 0; i < holes.length; i++) {
    const { offset, length } = holes[i]!;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 1) return `hole ${i} is [${offset}, +${length})`;
    if (offset <= end) return `hole ${i} at ${offset} does not start after the end of hole ${i - 1} (${end}) and a data byte`;
    total += length;
    if (total > maxWhole) return `the data (${dataLength} bytes) and holes make more than ${maxWhole} bytes`;
    end = offset + length;
  }
  if (end > total) return `the last hole ends at ${end}, past the whole file's ${total} bytes`;
  return undefined;
}

/**
 * Spreads the data held in `buffer`'s first bytes over the whole file `buffer` is (its length: the
 * data's and the holes' together), zeros in the holes. Pieces move toward the end, last first, so
 * none is overwritten before it moved. `holes` must have passed holesProblem.
 */
export function expandInPlace(buffer: Uint8Array, holes: readonly Hole[]): void {
  let dataEnd = buffer.length;
  for (const h of holes) dataEnd -= h.length;
  let wholeEnd = buffer.length;
  for (let i = holes.length - 1; i >= 0; i--) {
    const h = holes[i]!;
    const holeEnd = h.offset + h.length;
    const piece = wholeEnd - holeEnd;
    buffer.copyWithin(holeEnd, dataEnd - piece, dataEnd);
    dataEnd -= piece;
    buffer.fill(0, h.offset, holeEnd);
    wholeEnd = h.offset;
  }
}

/**
 * The whole file `buffer` gathered to its data, in place: the bytes outside `holes`, in order, as
 * a view of `buffer`'s first bytes (pieces move toward the start, first first). `holes` must have
 * passed holesProblem for `buffer`'s length.
 */
export function compactInPlace(buffer: Uint8Array, holes: readonly Hole[]): Uint8Array {
  let to = 0;
  let from = 0;
  for (const h of holes) {
    buffer.copyWithin(to, from, h.offset);
    to += h.offset - from;
    from = h.offset + h.length;
  }
  buffer.copyWithin(to, from, buffer.length);
  return buffer.subarray(0, to + buffer.length - from);
}
