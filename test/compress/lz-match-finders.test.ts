/**
 * The match finders on their own: every match they report is real (the bytes agree, within the
 * dictionary), lengths grow, and the binary tree's rebasing of stored positions (which happens
 * after ~4 GiB of input) changes nothing it finds.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BinaryTreeFinder } from "../../src/compress/lz-binary-tree.js";
import { HashChainFinder } from "../../src/compress/lz-hash-chain.js";
import type { MatchFinder } from "../../src/compress/lz-match-finder.js";
import { mixedData } from "./xz-fixtures.js";

const OPTIONS = { dictSize: 128 << 10, keepExtra: 0, niceLen: 64, depth: 32 };

/** Feeds data through the finder, looking up every position; returns a digest of all matches and checks each. */
function walk(mf: MatchFinder, data: Uint8Array, dictSize: number): { matches: number; digest: number } {
  const lens = new Int32Array(274);
  const dists = new Int32Array(274);
  let matches = 0;
  let digest = 0;
  let fed = 0;
  for (let pos = 0; pos < data.length; pos++) {
    while (fed < data.length && mf.available < 300) fed += mf.append(data, fed, Math.min(data.length, fed + 65536));
    const count = mf.find(lens, dists);
    let last = 1;
    for (let k = 0; k < count; k++) {
      const len = lens[k]!;
      const dist = dists[k]! + 1;
      if (len <= last) assert.fail(`lengths must grow at ${pos}`);
      if (dist > dictSize || dist > pos || pos + len > data.length) assert.fail(`match at ${pos} (len ${len}, dist ${dist}) is out of reach`);
      for (let b = 0; b < len; b++) {
        if (data[pos - dist + b] !== data[pos + b]) assert.fail(`match at ${pos} (len ${len}, dist ${dist}) differs at +${b}`);
      }
      last = len;
      digest = (Math.imul(digest, 31) + len * 65599 + dist) | 0;
      matches++;
    }
  }
  return { matches, digest };
}

test("match finders: every reported match is real and within the dictionary (hash chain, binary tree)", () => {
  const data = mixedData(512 << 10, 17);
  for (const mf of [new HashChainFinder(OPTIONS), new BinaryTreeFinder(OPTIONS)]) {
    const r = walk(mf, data, OPTIONS.dictSize);
    assert.ok(r.matches > 5000, `${mf.constructor.name} found only ${r.matches} matches`);
  }
});

test("binary tree: rebasing stored positions (every 100 KiB here, every ~4 GiB in use) changes no match", () => {
  const data = mixedData(640 << 10, 23);
  const plain = walk(new BinaryTreeFinder(OPTIONS), data, OPTIONS.dictSize);
  const rebased = walk(new BinaryTreeFinder(OPTIONS, OPTIONS.dictSize + 1 + (100 << 10)), data, OPTIONS.dictSize);
  assert.equal(rebased.matches, plain.matches);
  assert.equal(rebased.digest, plain.digest);
});
