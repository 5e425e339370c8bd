/**
 * EXEC records with holes (transform | 0x80, docs/file-delta-format.md): apt's arm64 cdrom method,
 * whose 62 KB of zero padding mke2fs -d leaves unallocated, is stored as its data; the device
 * rebuilds the whole old file from the data and the old holes, predicts, and writes the new
 * file's data, in any chunking. Hole lists that lie (overlapping, unsorted, past the file, sums
 * past 16 MiB or not the streams') are refused before anything is written; seeded mutations make
 * the exact data or nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { execDiff, WITH_HOLES } from "../../src/filediff/exec/exec-diff";
import type { FileHoles, Hole } from "../../src/filediff/holes";
import { writeVarint } from "../../src/vcdiff/format/varint";
import { cdromWithHoles, diffCost } from "../filediff/exec-helpers";
import { concat, decode, mutationsMakeExactOrNothing, refused, sha256 } from "./mbdf-helpers";

const BLOCK = 4096;
const { wholeOld, wholeNew, holes, oldData, newData } = cdromWithHoles();
/** The source image: 4 KiB of zeros, then the old file's data in two extents with a gap of 4 KiB. */
const OLD_AT = 4096;
const SPLIT = 20000;
const source = concat([new Uint8Array(OLD_AT), oldData.subarray(0, SPLIT), new Uint8Array(BLOCK), oldData.subarray(SPLIT)]);
const extents = [{ sourceOffset: OLD_AT, length: SPLIT }, { sourceOffset: OLD_AT + SPLIT + BLOCK, length: oldData.length - SPLIT }];
const exec = execDiff(wholeOld, wholeNew, approximateDiff(wholeOld, wholeNew), diffCost)!;

function holesDelta(h: FileHoles = holes): Uint8Array {
  const w = new MbdfWriter({ targetSize: newData.length, sourceSize: source.length, targetSha256: sha256(newData) });
  w.exec(extents, exec, newData, h);
  w.end();
  return w.bytes();
}

test("the fixture has holes on both sides, and an EXEC diff of the whole files", () => {
  assert.ok(holes.old.length >= 1 && holes.new.length >= 1, JSON.stringify(holes));
  assert.ok(oldData.length < wholeOld.length - 8 * BLOCK, `${wholeOld.length - oldData.length} bytes of holes`);
  assert.ok(exec, "an executable-aware diff of the cdrom pair");
  assert.equal(exec.transform, 2);
});

test("an EXEC record with holes writes the new file's data, in any chunking", async () => {
  const delta = holesDelta();
  for (const chunk of [delta.length, 4096, 1]) {
    const { target, result } = await decode(delta, source, chunk);
    assert.ok(Buffer.from(target).equals(Buffer.from(newData)), `chunks of ${chunk}`);
    assert.equal(result.records, 1);
  }
});

test("the writer refuses hole lists the device would refuse", () => {
  const w = new MbdfWriter({ targetSize: newData.length, sourceSize: source.length, targetSha256: sha256(newData) });
  const h = holes.new[0]!;
  assert.throws(() => w.exec(extents, exec, newData, { ...holes, new: [h, h] }), /the new file's holes: hole 1 at \d+ does not start after/);
  assert.throws(() => w.exec(extents, exec, newData, { ...holes, old: [{ offset: wholeOld.length, length: 8 }] }), /the old file's holes: the last hole ends at/);
  // Holes that are not the ones the diff was made with: the whole new file has another length.
  assert.throws(() => w.exec(extents, exec, newData, { ...holes, new: [{ ...h, length: h.length + 1 }] }), /streams make/);
  assert.equal(w.records, 0);
});

// Hand-made records for the lies a damaged or crafted delta can tell about holes.
const v = (n: number): Uint8Array => {
  const b = new Uint8Array(10);
  return b.slice(0, writeVarint(b, 0, n));
};

/** A delta of one EXEC record with holes whose hole lists (the CRC-32 the writer's: the new data's) are written as `oldList` and `newList` ([offset, length] pairs). */
function rawDelta(oldList: number[][], newList: number[][], transform = exec.transform | WITH_HOLES): Uint8Array {
  const s = exec.newSegments;
  const header = MbdfWriter.headerBytes({ targetSize: newData.length, sourceSize: source.length, targetSha256: sha256(newData) });
  const list = (l: number[][]): Uint8Array[] => [v(l.length), ...l.flat().map(v)];
  return concat([
    header, Uint8Array.of(7), v(newData.length), v(extents.length), ...extents.flatMap((e) => [v(e.sourceOffset), v(e.length)]),
    Uint8Array.of(transform), ...list(oldList), ...list(newList), v(exec.referenceCount), v(s.count),
    ...Array.from({ length: s.count }, (_, i) => [s.offset[i]!, s.vaddr[i]!, s.filesz[i]!, s.memsz[i]!]).flat().map(v),
    v(exec.diff.control.length), v(exec.diff.differences.length), v(exec.diff.literals.length),
    exec.diff.control, exec.diff.differences, exec.diff.literals, holesDelta().subarray(-5, -1), Uint8Array.of(0),
  ]);
}

test("hole lists that lie are refused before anything is written, each with its reason", async () => {
  const pairs = (l: Hole[]): number[][] => l.map((h) => [h.offset, h.length]);
  const o = pairs(holes.old);
  const n = pairs(holes.new);
  const [no, nl] = n[0]!;
  const cases: [name: string, delta: Uint8Array, message: RegExp][] = [
    ["overlapping holes", rawDelta(o, [[no!, nl!], [no! + 8, 16]]), /the new file's holes: hole 1 at \d+ does not start after the end of hole 0/],
    ["adjacent holes", rawDelta(o, [[no!, 8], [no! + 8, nl! - 8]]), /the new file's holes: hole 1 at \d+ does not start after/],
    ["unsorted holes", rawDelta([[o[0]![0]! + o[0]![1]! + 100, 4], ...o], n), /the old file's holes: hole 1 at \d+ does not start after/],
    ["an empty hole", rawDelta(o, [[no!, 0]]), /the new file's holes: hole 0 is \[\d+, \+0\)/],
    ["a hole past the file", rawDelta([[oldData.length + 10, 4096]], n), /the old file's holes: the last hole ends at \d+, past the whole file's \d+ bytes/],
    ["holes summing past 16 MiB", rawDelta(o, [[no!, 16 << 20]]), /the new file's holes: the data \(\d+ bytes\) and holes make more than 16777216 bytes/],
    ["a new hole list that is not the streams'", rawDelta(o, [[no!, nl! + 4096]]), /do not add up to the record's \d+ bytes/],
    ["a hole count past the limit", rawDelta(o, Array.from({ length: 4097 }, (_, i) => [2 * i, 1])), /the new file has 4097 holes, at most 4096/],
    ["an old hole list that moves the ELF file", rawDelta([[0, 4096], ...o], n), /the old file's holes: hole 1|the old file is not an AArch64 ELF file|references/],
    ["an unknown transform with holes", rawDelta(o, n, 9 | WITH_HOLES), /unknown transform 9/],
  ];
  for (const [name, delta, message] of cases) {
    for (const chunk of [1 << 20, 1]) {
      const { err, sink } = await refused(delta, source, chunk);
      assert.match(err.message, message, name);
      assert.match(err.message, /record 0 \(target byte 0\)/, name);
      assert.equal(sink.bytesWritten, 0, `${name}: bytes written`);
    }
  }
  const { target } = await decode(rawDelta(o, n), source);
  assert.ok(Buffer.from(target).equals(Buffer.from(newData)), "the hand-made record with the true lists makes the data");
});

test("fuzz: 200 seeded mutations of an EXEC delta with holes make the exact data or are refused, never more", async () => {
  const delta = holesDelta();
  // The record's fields (extents, transform, hole lists, segments) come first: most mutations go there.
  await mutationsMakeExactOrNothing(delta, source, newData, 120 + exec.diff.control.length, 200, 2380);
});
