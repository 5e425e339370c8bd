/**
 * A file with holes as data and as the whole file (src/filediff/holes.ts): spreading the data
 * over the whole file and gathering it back, in place, give each other back; hole lists that
 * overlap, touch, run unsorted, past the file or past 16 MiB are refused with their reason.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { compactInPlace, expandInPlace, type Hole, holesProblem, MAX_HOLES, wholeLength } from "../../src/filediff/holes";
import { Rng } from "../vcdiff/helpers";
import { randomHoles } from "./exec-helpers";

/** The whole file of `data` with zeros at `holes`, built the slow obvious way. */
function spreadSlowly(data: Uint8Array, holes: Hole[]): Uint8Array {
  const whole = new Uint8Array(wholeLength(holes, data.length));
  let from = 0;
  let at = 0;
  for (const h of holes) {
    whole.set(data.subarray(from, from + h.offset - at), at);
    from += h.offset - at;
    at = h.offset + h.length;
  }
  whole.set(data.subarray(from), at);
  return whole;
}

test("expandInPlace and compactInPlace turn data into the whole file and back, for seeded hole lists", () => {
  const rng = new Rng(23);
  for (let round = 0; round < 200; round++) {
    const dataLength = rng.next() % 300;
    const holes = randomHoles(rng, dataLength, 6, 50, 40, 20);
    if (!holes) continue;
    assert.equal(holesProblem(holes, dataLength, 1 << 24), undefined, JSON.stringify(holes));
    const data = Uint8Array.from({ length: dataLength }, () => 1 + (rng.next() % 255));
    const whole = new Uint8Array(wholeLength(holes, dataLength)).fill(0xee);
    whole.set(data);
    expandInPlace(whole, holes);
    assert.deepEqual(whole, spreadSlowly(data, holes), `round ${round}`);
    assert.deepEqual(compactInPlace(whole, holes), data, `round ${round}`);
  }
});

test("holesProblem refuses hole lists that are not a file's", () => {
  const cases: [name: string, holes: Hole[], data: number, message: RegExp][] = [
    ["overlapping", [{ offset: 10, length: 10 }, { offset: 15, length: 10 }], 100, /hole 1 at 15 does not start after the end of hole 0 \(20\)/],
    ["adjacent", [{ offset: 10, length: 10 }, { offset: 20, length: 10 }], 100, /hole 1 at 20 does not start after/],
    ["unsorted", [{ offset: 50, length: 10 }, { offset: 10, length: 10 }], 100, /hole 1 at 10 does not start after/],
    ["empty", [{ offset: 10, length: 0 }], 100, /hole 0 is \[10, \+0\)/],
    ["past the file", [{ offset: 95, length: 10 }], 80, /the last hole ends at 105, past the whole file's 90 bytes/],
    ["past 16 MiB", [{ offset: 1, length: 16 << 20 }], 10, /make more than 16777216 bytes/],
    ["too many", Array.from({ length: MAX_HOLES + 1 }, (_, i) => ({ offset: 2 * i, length: 1 })), 10000, /4097 holes, at most 4096/],
  ];
  for (const [name, holes, data, message] of cases) assert.match(holesProblem(holes, data, 16 << 20) ?? "accepted", message, name);
  assert.equal(holesProblem([{ offset: 0, length: 5 }, { offset: 6, length: 4 }], 1, 16 << 20), undefined, "a hole at each end");
});
