/**
 * The reference list's sort (in place, with a copy of the shorter side) and its memory claims: the
 * order a plain stable sort gives, for every shape of in-order prefix and out-of-order rest.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LoadSegments } from "../../src/filediff/exec/elf-layout";
import { ReferenceList, ReferenceScratch, wideTargets } from "../../src/filediff/exec/references";
import { MemoryBudget, WorkingSetError } from "../../src/filediff/exec/working-set";
import { Rng } from "../vcdiff/helpers";

const segments = (end: number): LoadSegments => ({
  count: 1, offset: Float64Array.of(0), vaddr: Float64Array.of(0), filesz: Float64Array.of(end), memsz: Float64Array.of(end),
});
/** Kind 0: a 4-byte field, kind 1: an 8-byte one. */
const FIELD_SIZE = Uint8Array.of(4, 8);

type Ref = [position: number, kind: number, target: number];

/**
 * What sorted() must give: by position; on equal positions the references of the in-order prefix
 * first, in found order, then the others by kind and target; then every reference overlapping the
 * one kept before it dropped.
 */
function expected(found: Ref[]): Ref[] {
  let run = 1;
  while (run < found.length && found[run - 1]![0] <= found[run]![0]) run++;
  const rank = (i: number): number[] => (i < run ? [0, i, 0] : [1, found[i]![1], found[i]![2]]);
  const order = (i: number, j: number): number => {
    const a = rank(i);
    const b = rank(j);
    return found[i]![0] - found[j]![0] || a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  };
  const sorted = found.map((_, i) => i).sort(order).map((i) => found[i]!);
  const kept: Ref[] = [];
  let end = 0;
  for (const r of sorted) {
    if (r[0] < end) continue;
    kept.push(r);
    end = r[0] + FIELD_SIZE[r[1]]!;
  }
  return kept;
}

function sortedBy(found: Ref[], segs: LoadSegments, budget?: MemoryBudget): Ref[] {
  const scratch = new ReferenceScratch();
  scratch.budget = budget;
  const list = new ReferenceList(scratch, FIELD_SIZE, segs);
  for (const [p, k, t] of found) list.add(p, k, t);
  const refs = list.sorted();
  return Array.from({ length: refs.count }, (_, i) => [refs.position[i]!, refs.kind[i]!, refs.target[i]!]);
}

test("sorted(): by position with overlaps dropped, for short and long in-order prefixes, ties and both target widths", () => {
  const rng = new Rng(23);
  for (let round = 0; round < 300; round++) {
    const n = 1 + (rng.next() % 400);
    const inOrder = rng.next() % (n + 1);
    const spread = 1 + (rng.next() % 3000);
    const wide = round % 3 === 0;
    const found: Ref[] = [];
    let p = 0;
    for (let i = 0; i < n; i++) {
      // The in-order prefix as a code scan gives it, then positions anywhere (ties likely when spread is small).
      p = i < inOrder ? p + (rng.next() % 9) : rng.next() % spread;
      const target = wide ? 2 ** 40 + (rng.next() % 1000) * 2 ** 20 : rng.next();
      found.push([p, rng.next() % 2, target]);
    }
    const segs = segments(wide ? 2 ** 41 : 2 ** 32);
    assert.equal(wideTargets(segs), wide);
    assert.deepEqual(sortedBy(found, segs), expected(found), `round ${round}: ${n} references, ${inOrder} in order first`);
  }
});

test("sorted(): a list whose every reference is out of order is sorted in place, its merge copying the one in-order reference", () => {
  const found: Ref[] = [];
  for (let i = 0; i < 5000; i++) found.push([(5000 - i) * 8, 0, i]);
  const budget = new MemoryBudget(1 << 30);
  assert.deepEqual(sortedBy(found, segments(2 ** 32), budget), expected(found));
  // Found arrays grown to 8192 entries from 4096 (9 bytes each), then a copy of the 1-reference run.
  assert.equal(budget.used, 9 * 4096 + 9 * 8192 + 9 * 1);
});

test("a budget refuses a claim that would take the record past 3 times its window, and says how much", () => {
  const budget = new MemoryBudget(1000);
  budget.claim(2900, "the old file and the output");
  assert.throws(
    () => budget.claim(101, "the references"),
    (err: unknown) => err instanceof WorkingSetError && /more than 3 times its 1000-byte window in memory \(3001 bytes with the references\)/.test(err.message),
  );
});
