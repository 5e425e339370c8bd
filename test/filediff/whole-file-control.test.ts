/**
 * The data diff's alignment carried over to the whole files (src/filediff/whole-file-control.ts):
 * applied to the whole old file it makes the whole new file, every difference stretch pairs the
 * same bytes as in the data diff (the difference streams are equal), and the new holes become
 * literal zeros; holes at either end, many holes, none on one side, seeks back and forth.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { applyApproximateDiff, approximateDiff, diffAlong } from "../../src/filediff/approximate-diff";
import { expandInPlace, type Hole, holesProblem, wholeLength } from "../../src/filediff/holes";
import { wholeFileControl } from "../../src/filediff/whole-file-control";
import { Rng } from "../vcdiff/helpers";
import { randomHoles } from "./exec-helpers";

/** Hole lists of every shape the planner meets, now and then one after the last data byte (the file ends in a hole). */
function holesFor(rng: Rng, dataLength: number): Hole[] | undefined {
  const holes = randomHoles(rng, dataLength, 8, 300, 500, 400);
  if (holes && holes.length > 0 && rng.next() % 4 === 0) {
    const last = holes[holes.length - 1]!;
    const end = wholeLength(holes, dataLength);
    if (last.offset + last.length < end) holes.push({ offset: end, length: 1 + (rng.next() % 100) });
  }
  return holes;
}

function whole(data: Uint8Array, holes: Hole[]): Uint8Array {
  const w = new Uint8Array(wholeLength(holes, data.length));
  w.set(data);
  expandInPlace(w, holes);
  return w;
}

test("wholeFileControl: the data diff's stretches over the whole files make the whole new file", () => {
  const rng = new Rng(41);
  let checked = 0;
  for (let round = 0; round < 400; round++) {
    const oldData = Uint8Array.from({ length: 200 + (rng.next() % 3000) }, () => rng.next() % 7);
    // The new data: pieces of the old data, moved and changed here and there, and new bytes.
    const parts: number[] = [];
    while (parts.length < 200 + (rng.next() % 3000)) {
      const from = rng.next() % oldData.length;
      for (let k = 0; k < 50 + (rng.next() % 400) && from + k < oldData.length; k++) parts.push(rng.next() % 23 === 0 ? rng.next() & 255 : oldData[from + k]!);
      if (rng.next() % 3 === 0) for (let k = rng.next() % 40; k > 0; k--) parts.push(rng.next() & 255);
    }
    const newData = Uint8Array.from(parts);
    const oldHoles = holesFor(rng, oldData.length);
    const newHoles = holesFor(rng, newData.length);
    if (!oldHoles || !newHoles) continue;
    const holes = { old: oldHoles, new: newHoles };
    assert.equal(holesProblem(holes.old, oldData.length, 1 << 24) ?? holesProblem(holes.new, newData.length, 1 << 24), undefined);
    const dataDiff = approximateDiff(oldData, newData);
    const wholeOld = whole(oldData, holes.old);
    const wholeNew = whole(newData, holes.new);
    const mapped = diffAlong(wholeFileControl(dataDiff.control, oldData.length, newData.length, holes), wholeOld, wholeNew);
    assert.deepEqual(applyApproximateDiff(wholeOld, mapped, wholeNew.length), wholeNew, `round ${round}`);
    assert.deepEqual(mapped.differences, dataDiff.differences, `round ${round}: the same byte pairs`);
    const newHoleBytes = holes.new.reduce((sum, h) => sum + h.length, 0);
    assert.equal(mapped.literals.length, dataDiff.literals.length + newHoleBytes, `round ${round}: literals and the new holes`);
    checked++;
  }
  assert.ok(checked > 250, `${checked} rounds checked`);
});

test("wholeFileControl: no holes gives the data diff's own stretches (adjacent ones may merge)", () => {
  const old = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 251);
  const neu = old.slice(100, 4000);
  neu[50] = 9;
  const d = approximateDiff(old, neu);
  const mapped = wholeFileControl(d.control, old.length, neu.length, { old: [], new: [] });
  const along = diffAlong(mapped, old, neu);
  assert.deepEqual([along.differences, along.literals], [d.differences, d.literals]);
  assert.ok(mapped.length <= d.control.length);
  assert.deepEqual(applyApproximateDiff(old, along, neu.length), neu);
});
