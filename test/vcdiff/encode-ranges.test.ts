/**
 * TargetRangeEncoder: FROM indexed once, then any number of target ranges (each at most one
 * window) encoded as self-contained VCDIFF deltas, in order, in one or several calls. Each decodes
 * with stock xdelta3 to exactly its range of the target; copies find moved source data; ranges
 * that do not fit one window or the target are refused.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { TargetRangeEncoder, type TargetRange } from "../../src/vcdiff/encoder/encode";
import { needTools } from "../helpers/peers";
import { makeImage, mutateImage } from "./helpers";
import { assertXdelta3Decodes, tempDir } from "./encode-oracles";

const WINDOW = 256 * 1024;

test("TargetRangeEncoder: each range's delta decodes with xdelta3 to that range, call after call, on 1 and 2 threads", async (t) => {
  if (!needTools(t, "xdelta3", "cmp")) return;
  const dir = tempDir(t, "enc-ranges-");
  const old = makeImage(5, 3 << 20);
  const neu = mutateImage(old, 6);
  // The new image's second MiB is the old image's first: a copy far from the same offset.
  neu.set(old.subarray(0, 1 << 20), 1 << 20);
  const from = path.join(dir, "from.img");
  const to = path.join(dir, "to.img");
  fs.writeFileSync(from, old);
  fs.writeFileSync(to, neu);
  const first: TargetRange[] = [{ start: 0, length: 1 }, { start: 1 << 20, length: WINDOW }, { start: 4097, length: 100_000 }];
  const second: TargetRange[] = [{ start: neu.length - WINDOW, length: WINDOW }, { start: 2 << 20, length: 12_345 }];
  for (const threads of [1, 2]) {
    const encoder = await TargetRangeEncoder.open(from, to, { windowSize: WINDOW, threads });
    try {
      for (const ranges of [first, second]) {
        const seen: number[] = [];
        await encoder.encode(ranges, (index, delta) => {
          seen.push(index);
          const r = ranges[index]!;
          const deltaPath = path.join(dir, `d-${threads}-${index}`);
          const expected = path.join(dir, `e-${threads}-${index}`);
          fs.writeFileSync(deltaPath, delta);
          fs.writeFileSync(expected, neu.subarray(r.start, r.start + r.length));
          assertXdelta3Decodes(from, deltaPath, expected, path.join(dir, "out"));
          // The moved MiB is copied from the source, not stored: its delta is tiny.
          if (r.start === 1 << 20) assert.ok(delta.length < 2000, `moved data costs ${delta.length} bytes`);
        });
        assert.deepEqual(seen, ranges.map((_, i) => i), "every range, in order");
      }
      await assert.rejects(encoder.encode([{ start: 0, length: WINDOW + 1 }], () => {}), /not within the .*-byte target in one window/);
      await assert.rejects(encoder.encode([{ start: neu.length - 10, length: 11 }], () => {}), /not within/);
    } finally {
      encoder.close();
    }
  }
});
