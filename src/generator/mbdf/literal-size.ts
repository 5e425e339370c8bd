/**
 * What a piece of a new executable costs as a LITERAL record with its branch filter (estimated as
 * compress/xz-size.ts measures): the writer keeps that record where it is smaller than the piece's
 * VCDIFF record (write-delta.ts). Worked out on the planner threads, while they are there, rather
 * than on the main thread after planning, where the other core mostly idled: pair A's encode phase
 * 6.7 -> 5.6 s (two runs each, the same Artifact).
 */
import { bcjFilter, type BcjArch } from "../../compress/bcj";
import { xzSize } from "../../compress/xz-size";

/** A LITERAL record's bytes beyond its data's (kind, length, filter, filter_start, crc32; as estimated). */
const LITERAL_FIELDS = 8;

/**
 * The estimated LITERAL record size of each `pieceSize` piece of `bytes` (a new executable, in
 * order, the last one shorter), filtered with `filter` from the piece's offset in the file.
 */
export function filteredPieceSizes(bytes: Uint8Array, filter: BcjArch, pieceSize: number): number[] {
  const sizes: number[] = [];
  for (let at = 0; at < bytes.length; at += pieceSize) {
    const piece = bytes.slice(at, Math.min(bytes.length, at + pieceSize));
    bcjFilter(filter, piece, true, at);
    sizes.push(xzSize([piece]) + LITERAL_FIELDS);
  }
  return sizes;
}
