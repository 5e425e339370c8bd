/**
 * An EXEC record's working set on real binaries of each architecture: what the device's apply
 * claims stays within 3 times the record's window, and what it really allocates (ArrayBuffer
 * memory measured around it) stays within what it claims.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { type ExecDiff, execDiff, execPrediction } from "../../src/filediff/exec/exec-diff";
import { execBudget, WORKING_SET_FACTOR } from "../../src/filediff/exec/working-set";
import { libzArmhfPair } from "./arm32-helpers";
import { cdromWithHoles, diffCost, socketPair, tinyElf } from "./exec-helpers";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/**
 * Small tables the claims leave out: the old file's ELF layout (segments and section lists,
 * at most 64 segments and a few lists of sections) and the prediction's 8-byte value.
 */
const UNCLAIMED = 16 << 10;

function measure(old: Uint8Array, neu: Uint8Array): { window: number; claimed: number; allocated: number; accounted: number } {
  const exec: ExecDiff | undefined = execDiff(old, neu, approximateDiff(old, neu), diffCost);
  assert.ok(exec, "an executable-aware diff");
  const { control, literals } = exec.diff;
  // Collected until the count settles: the diff's garbage must not be freed inside the measurement.
  let before = -1;
  for (let settled = 0; settled < 3; ) {
    gc();
    const now = process.memoryUsage().arrayBuffers;
    settled = now === before ? settled + 1 : 0;
    before = now;
  }
  const budget = execBudget(old.length, neu.length, control.length, literals.length);
  const out = new Uint8Array(neu.length);
  const made = execPrediction(old, exec.transform, exec.newSegments, exec.referenceCount, exec.diff, neu.length, budget).apply(exec.diff, out);
  // Nothing collected on the way: garbage counts as much as what is still held.
  const allocated = process.memoryUsage().arrayBuffers - before;
  assert.ok(Buffer.from(made).equals(Buffer.from(neu)), "the new file");
  // The old file, control and literals streams were held before (the test's buffers): claimed, not allocated here.
  const accounted = budget.used - old.length - control.length - literals.length;
  return { window: budget.window, claimed: budget.used, allocated, accounted };
}

const pairs: [name: string, pair: () => { old: Uint8Array; neu: Uint8Array }][] = [
  ["x86-64 perl Socket.so", () => socketPair("amd64")],
  ["arm64 perl Socket.so", () => socketPair("arm64")],
  ["armhf libz.so", libzArmhfPair],
  ["arm64 apt cdrom, whole files with holes", () => {
    const { wholeOld, wholeNew } = cdromWithHoles();
    return { old: wholeOld, neu: wholeNew };
  }],
];

for (const [name, pair] of pairs) {
  test(`${name}: the apply claims at most ${WORKING_SET_FACTOR}x its window and allocates no more than it claims`, () => {
    const { old, neu } = pair();
    const m = measure(old, neu);
    process.stderr.write(`${name}: window ${m.window}, claimed ${m.claimed} (${(m.claimed / m.window).toFixed(2)}x), allocated ${m.allocated} of ${m.accounted} accounted\n`);
    assert.ok(m.claimed <= WORKING_SET_FACTOR * m.window, `claimed ${m.claimed}`);
    assert.ok(m.allocated <= m.accounted + UNCLAIMED, `allocated ${m.allocated}, accounted ${m.accounted}`);
    // The claims are not a loose overestimate either: most of what is accounted is really made.
    assert.ok(m.allocated >= 0.5 * m.accounted, `allocated ${m.allocated}, accounted ${m.accounted}`);
  });
}

/** Code of `count` 5-byte calls, each to the call 16 before it (or the first): one reference every 5 bytes. */
function calls(count: number, shift: number): Uint8Array {
  const code = new Uint8Array(5 * count + shift).fill(0x90);
  for (let i = 0; i < count; i++) {
    const at = shift + 5 * i;
    const to = shift + 5 * Math.max(0, i - 16);
    code[at] = 0xe8;
    new DataView(code.buffer).setInt32(at + 1, to - (at + 5), true);
  }
  return code;
}

test("the generator keeps the APPROX diff of a file whose EXEC record would need more than 3x its window, and says why", () => {
  // One reference in 5 bytes: their arrays alone take nearly 2 bytes per file byte, next to the old file and the output.
  const old = tinyElf({ code: calls(4000, 0), data: 32 });
  const neu = tinyElf({ code: calls(4000, 3), data: 32 });
  const reasons: string[] = [];
  assert.equal(execDiff(old, neu, approximateDiff(old, neu), diffCost, (why) => reasons.push(why)), undefined);
  assert.match(reasons.join("\n"), new RegExp(`the record needs more than 3 times its ${neu.length}-byte window in memory \\(\\d+ bytes with \\d+ references\\)`));
});
