/** The word-at-a-time Adler-32 against the definition: every alignment, worst-case bytes (0xff), ranges. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { adler32 } from "../../src/vcdiff/adler32";
import { Rng } from "./helpers";

function naive(d: Uint8Array, start: number, end: number): number {
  let a = 1;
  let b = 0;
  for (let i = start; i < end; i++) {
    a = (a + d[i]!) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

test("adler32 matches the definition at every alignment and length, incl. all-0xff input", () => {
  const rng = new Rng(77);
  for (const data of [rng.bytes(200_000), new Uint8Array(200_000).fill(0xff)]) {
    for (let t = 0; t < 200; t++) {
      const start = rng.below(64);
      const end = start + (t < 100 ? rng.below(130) : rng.below(data.length - 64));
      assert.equal(adler32(data, start, end), naive(data, start, end), `range ${start}..${end}`);
      assert.equal(adler32(data.subarray(start, end)), naive(data, start, end));
    }
  }
});
