/**
 * The alignment of an approximate diff of two files' data (filediff/holes.ts: the bytes outside
 * their holes) as a control stream over the whole files (zeros in the holes), for the
 * executable-aware diff, which works on whole files. Mapping the data diff's stretches costs a
 * pass over its control; diffing the whole files again would cost a second suffix array and
 * search of the old file, for an alignment that differs from this one only at the holes.
 *
 * Each difference stretch keeps its pairs of bytes: it is split where either side's data has a
 * hole between two of its bytes (the old side then seeks over the hole). A hole of the new file
 * becomes literal zeros; the old file's holes are never read.
 */
import { ByteBuilder, StretchReader, zigzag } from "./approximate-diff";
import type { FileHoles, Hole } from "./holes";

/** Builds a control stream from difference and literal pieces in new-file order. */
class ControlBuilder {
  private readonly out = new ByteBuilder(64);
  private diffLength = 0;
  private literalLength = 0;
  /** Old-file position after the open stretch's difference bytes. */
  private oldAt = 0;

  difference(oldStart: number, length: number): void {
    if (length === 0) return;
    if (this.literalLength === 0 && oldStart === this.oldAt && this.diffLength > 0) {
      this.diffLength += length;
      this.oldAt += length;
      return;
    }
    if (this.diffLength > 0 || this.literalLength > 0 || oldStart !== this.oldAt) this.close(oldStart - this.oldAt);
    this.diffLength = length;
    this.oldAt = oldStart + length;
  }

  literal(length: number): void {
    this.literalLength += length;
  }

  private close(seek: number): void {
    this.out.varint(this.diffLength);
    this.out.varint(this.literalLength);
    this.out.varint(zigzag(seek));
    this.oldAt += seek;
    this.diffLength = 0;
    this.literalLength = 0;
  }

  bytes(): Uint8Array {
    if (this.diffLength > 0 || this.literalLength > 0) this.close(0);
    return this.out.bytes();
  }
}

/** Where one file's holes sit in its data: hole k lies before data byte dataAt[k]; shift[k] is the hole bytes up to and including it. */
class HoleIndex {
  readonly dataAt: Float64Array;
  readonly shift: Float64Array;
  constructor(holes: readonly Hole[]) {
    this.dataAt = new Float64Array(holes.length);
    this.shift = new Float64Array(holes.length);
    let total = 0;
    holes.forEach((h, k) => {
      this.dataAt[k] = h.offset - total;
      total += h.length;
      this.shift[k] = total;
    });
  }
}

/**
 * `control` (an approximate diff of new data against old data, `newDataLength` bytes made) over
 * the whole files that `holes` make of the data. Stretches that read outside the old data throw
 * ApproximateDiffError (StretchReader's checks).
 */
export function wholeFileControl(control: Uint8Array, oldDataLength: number, newDataLength: number, holes: FileHoles): Uint8Array {
  const out = new ControlBuilder();
  const oldHoles = new HoleIndex(holes.old);
  const newHoles = new HoleIndex(holes.new);
  let nextNew = 0; // the next new hole not yet written
  /** Writes the new holes that come before new data byte `at`. */
  const newHolesBefore = (at: number): void => {
    for (; nextNew < holes.new.length && newHoles.dataAt[nextNew]! <= at; nextNew++) out.literal(holes.new[nextNew]!.length);
  };
  let nextOld = 0; // the first old hole after the old data position being mapped
  const placeholder = { control, differences: new Uint8Array(newDataLength), literals: new Uint8Array(newDataLength) };
  const stretches = new StretchReader(oldDataLength, placeholder, newDataLength);
  while (stretches.next()) {
    let newAt = stretches.outPos;
    let oldAt = stretches.oldPos;
    let left = stretches.diffLength;
    // Seeks may go back: find the old holes around this stretch's start again.
    while (nextOld > 0 && oldHoles.dataAt[nextOld - 1]! > oldAt) nextOld--;
    while (nextOld < holes.old.length && oldHoles.dataAt[nextOld]! <= oldAt) nextOld++;
    while (left > 0) {
      newHolesBefore(newAt);
      // The piece ends at the next hole on either side.
      let length = left;
      if (nextNew < holes.new.length) length = Math.min(length, newHoles.dataAt[nextNew]! - newAt);
      if (nextOld < holes.old.length) length = Math.min(length, oldHoles.dataAt[nextOld]! - oldAt);
      out.difference(oldAt + (nextOld > 0 ? oldHoles.shift[nextOld - 1]! : 0), length);
      newAt += length;
      oldAt += length;
      left -= length;
      while (nextOld < holes.old.length && oldHoles.dataAt[nextOld]! <= oldAt) nextOld++;
    }
    // Literal data bytes, and the new holes among them, are literal bytes of the whole file.
    for (let end = newAt + stretches.literalLength; newAt < end; ) {
      newHolesBefore(newAt);
      const length = Math.min(end - newAt, nextNew < holes.new.length ? newHoles.dataAt[nextNew]! - newAt : Infinity);
      out.literal(length);
      newAt += length;
    }
  }
  newHolesBefore(newDataLength);
  return out.bytes();
}
