/**
 * The formats benchmark's judging (test/bench/lib/format-goals.ts): which goal applies to which
 * pair, where PASS turns into MISS, what counts as not measured, and the rows and table it prints.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatRow, goalRows, missed, summaryTable, verdict, type PairFigures, type Row, type RowKey } from "./lib/format-goals";

/** A pair that meets every goal of pair U with some room; tests change one figure at a time. */
function figures(change: Partial<PairFigures> = {}): PairFigures {
  return {
    goalPair: "U",
    mbdf: { size: 400_000, generatorWall: 90, device: { wall: 10, peakMiB: 80 } },
    vcdiff: { size: 1_170_944, generatorWall: 50, device: { wall: 12, peakMiB: 82 } },
    mbdfWithoutExec: { size: 520_000, generatorWall: 60 },
    hdiffpatch: 1_000_000,
    xdelta3: 2_000_000,
    ...change,
  };
}

const row = (f: PairFigures, key: RowKey): Row => goalRows(f).find((r) => r.key === key)!;

test("MBDF / HDiffPatch is held to its pair's goal: U 0.45, B 0.93, A 0.97, the goal itself passing", () => {
  for (const [pair, goal] of [["U", 0.45], ["B", 0.93], ["A", 0.97]] as const) {
    const at = figures({ goalPair: pair, mbdf: { ...figures().mbdf, size: goal * 1_000_000 } });
    assert.equal(row(at, "mbdfHdiff").goal, goal);
    assert.equal(verdict(row(at, "mbdfHdiff")), "PASS", `${pair} at its goal`);
    const over = figures({ goalPair: pair, mbdf: { ...figures().mbdf, size: goal * 1_000_000 + 1 } });
    assert.equal(verdict(row(over, "mbdfHdiff")), "MISS", `${pair} one byte over`);
  }
});

test("a pair without a goal (the generated one) shows its ratios with no verdict", () => {
  const r = row(figures({ goalPair: undefined, mbdf: { ...figures().mbdf, size: 5_000_000 } }), "mbdfHdiff");
  assert.equal(r.value, 5);
  assert.equal(verdict(r), "-");
  assert.equal(verdict(row(figures(), "mbdfXdelta3")), "-");
});

test("MBDF larger than VCDIFF, a Download over 100 MiB, a slower Download, a generator over 2x: each a MISS", () => {
  assert.deepEqual(missed(goalRows(figures())), []);
  const worse = figures({
    mbdf: { size: 1_170_945, generatorWall: 100.5, device: { wall: 12.5, peakMiB: 100.5 } },
    mbdfWithoutExec: { size: 1_170_945, generatorWall: 60 },
  });
  assert.deepEqual(missed(goalRows(worse)), [
    "MBDF / HDiffPatch native + xz -9",
    "MBDF / VCDIFF",
    "MBDF Download peak RSS",
    "MBDF / VCDIFF Download wall time",
    "MBDF / VCDIFF generator wall time",
  ]);
  const atLimits = figures({ mbdf: { size: 400_000, generatorWall: 100, device: { wall: 12, peakMiB: 100 } } });
  assert.deepEqual(missed(goalRows(atLimits)), []);
});

test("what was not measured (no hdiffz, a failed Download) is said so and is no miss", () => {
  const f = figures({ hdiffpatch: undefined, mbdf: { size: 400_000, generatorWall: 90 } });
  for (const key of ["mbdfHdiff", "vcdiffHdiff", "mbdfPeak", "downloadTime"] as const) assert.equal(verdict(row(f, key)), "not measured", key);
  assert.equal(verdict(row(f, "vcdiffPeak")), "PASS");
  assert.deepEqual(missed(goalRows(f)), []);
  assert.match(formatRow(row(f, "mbdfHdiff")), /MBDF \/ HDiffPatch native \+ xz -9\s+-\s+goal <= 0\.45x\s+not measured$/);
});

test("a printed row carries the figure, its goal and the verdict", () => {
  const f = figures({ mbdf: { ...figures().mbdf, size: 526_000 } });
  assert.match(formatRow(row(f, "mbdfHdiff")), /^ {2}MBDF \/ HDiffPatch native \+ xz -9\s+0\.526x {2}goal <= 0\.45x\s+MISS$/);
  assert.match(formatRow(row(f, "mbdfPeak")), /MBDF Download peak RSS\s+80\.0 MiB {2}goal <= 100 MiB\s+PASS$/);
});

test("the summary table: one row per pair, sizes in bytes, MBDF's ratios and the goals it missed", () => {
  const table = summaryTable([
    { name: "corpus U", figures: figures() },
    { name: "generated", figures: figures({ goalPair: undefined, hdiffpatch: undefined, mbdfWithoutExec: undefined, mbdf: { size: 1_200_000, generatorWall: 4.25 } }) },
  ]).split("\n");
  assert.equal(table.length, 4);
  assert.match(table[0]!, /^\| pair \| MBDF \| MBDF without EXEC \| VCDIFF \| HDiffPatch \+ xz -9 \| xdelta3 \|/);
  assert.equal(table[1]!.split("|").length, table[0]!.split("|").length);
  assert.equal(table[2], "| corpus U | 400,000 | 520,000 | 1,170,944 | 1,000,000 | 2,000,000 | 0.400x | 0.342x | 0.200x | 90.0 s | 80.0 MiB | none |");
  assert.equal(table[3], "| generated | 1,200,000 | - | 1,170,944 | - | 2,000,000 | - | 1.025x | 0.600x | 4.3 s | - | MBDF / VCDIFF |");
});

test("EXEC records: the bytes they save, MBDF no larger than without them, the generator at most 2x as long", () => {
  const f = figures();
  assert.equal(row(f, "execSaved").value, 120_000);
  assert.match(formatRow(row(f, "execSaved")), /bytes EXEC records save\s+120,000 B\s+-$/);
  assert.equal(verdict(row(f, "execSize")), "PASS");
  assert.equal(verdict(row(f, "execGeneratorTime")), "PASS");
  const worse = figures({ mbdfWithoutExec: { size: 399_999, generatorWall: 44.9 } });
  assert.deepEqual(missed(goalRows(worse)), ["MBDF / MBDF without EXEC", "MBDF / without EXEC generator wall"]);
  assert.equal(row(worse, "execSaved").value, -1);
  const atLimits = figures({ mbdfWithoutExec: { size: 400_000, generatorWall: 45 } });
  assert.deepEqual(missed(goalRows(atLimits)), []);
  const unmeasured = figures({ mbdfWithoutExec: undefined });
  for (const key of ["execSaved", "execSize", "execGeneratorTime"] as const) assert.equal(verdict(row(unmeasured, key)), "not measured", key);
});

test("the link speed below which MBDF's Download ends sooner: transfer plus local Download, no goal", () => {
  // B's figures of 2026-12-05: 1,674,240 bytes smaller, 0.58 s slower locally -> 23 Mbit/s.
  const b = figures({
    goalPair: "B",
    mbdf: { size: 8_967_680, generatorWall: 30.9, device: { wall: 2.2, peakMiB: 94.3 } },
    vcdiff: { size: 10_641_920, generatorWall: 19.8, device: { wall: 1.62, peakMiB: 95.5 } },
    mbdfWithoutExec: { size: 9_091_584, generatorWall: 30.3 },
    hdiffpatch: 10_241_988,
  });
  const r = row(b, "breakEvenLink");
  assert.ok(Math.abs(r.value! - (1_674_240 * 8) / 1e6 / 0.58) < 1e-9);
  assert.match(formatRow(r), /MBDF Download sooner below a link of\s+23 Mbit\/s\s+-$/);
  // Smaller and no slower: sooner on any link; not smaller, or a Download missing: no figure.
  assert.match(formatRow(row(figures(), "breakEvenLink")), /\s+any\s+-$/);
  assert.equal(row(figures({ mbdf: { ...figures().mbdf, size: 1_170_944 } }), "breakEvenLink").value, undefined);
  assert.equal(verdict(row(figures({ mbdf: { size: 400_000, generatorWall: 90 } }), "breakEvenLink")), "not measured");
  assert.deepEqual(missed(goalRows(b)), ["MBDF / VCDIFF Download wall time"]);
});

test("issue #22's time goals are against release 0.1.0 where it was measured; this build's VCDIFF is then shown without a goal", () => {
  // MBDF slower than this build's VCDIFF (12.5 against 12 s) and over 2x its generator time, but
  // faster than 0.1.0's Download and within 2x its generator: no miss.
  const release = { size: 1_170_944, generatorWall: 55, device: { wall: 14, peakMiB: 104 } };
  const f = figures({ mbdf: { size: 400_000, generatorWall: 110, device: { wall: 12.5, peakMiB: 80 } }, baseline: release });
  assert.equal(row(f, "baselineDownloadTime").value, 12.5 / 14);
  assert.equal(verdict(row(f, "baselineDownloadTime")), "PASS");
  assert.equal(verdict(row(f, "baselineGeneratorTime")), "PASS");
  assert.equal(verdict(row(f, "downloadTime")), "-");
  assert.equal(verdict(row(f, "generatorTime")), "-");
  assert.deepEqual(missed(goalRows(f)), []);
  assert.match(formatRow(row(f, "baselineDownloadTime")), /MBDF \/ 0\.1\.0 Download wall time\s+0\.893x {2}goal <= 1\.00x\s+PASS$/);
  // Slower than 0.1.0, or over 2x its generator: a MISS.
  const slower = figures({ mbdf: { size: 400_000, generatorWall: 115, device: { wall: 14.5, peakMiB: 80 } }, baseline: release });
  assert.deepEqual(missed(goalRows(slower)), ["MBDF / 0.1.0 Download wall time", "MBDF / 0.1.0 generator wall time"]);
  // 0.1.0's Download failed: the Download goal falls back to this build's VCDIFF; its generator still counts.
  const noDownload = figures({ mbdf: { size: 400_000, generatorWall: 110, device: { wall: 12.5, peakMiB: 80 } }, baseline: { size: 1_170_944, generatorWall: 60 } });
  assert.equal(verdict(row(noDownload, "baselineDownloadTime")), "not measured");
  assert.deepEqual(missed(goalRows(noDownload)), ["MBDF / VCDIFF Download wall time"]);
  // Not measured at all (the default figures): both rows say so, the goals are this build's VCDIFF's.
  assert.equal(verdict(row(figures(), "baselineDownloadTime")), "not measured");
  assert.equal(row(figures(), "generatorTime").goal, 2);
});
