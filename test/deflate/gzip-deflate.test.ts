/** Our gzip-compatible compressor against the real GNU gzip, level by level, byte for byte. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { inflateSync } from "fflate";
import { gzipDeflate, gzipDeflateMatches } from "../../src/deflate/gzip-deflate.js";
import { gzipCompress } from "../../src/deflate/gzip-member.js";
import { needTools } from "../helpers/peers.js";
import { debianGzFiles, firstDifference, gnuGzip, inputs } from "./gzip-fixtures.js";

test("this machine has Debian changelogs and man pages to compare on", () => {
  assert.ok(debianGzFiles().length >= 2, "no /usr/share/doc/*/changelog.Debian.gz or man pages found");
});

test("gzipCompress(data, level) equals `gzip -n -<level>` for levels 1..9", (t) => {
  if (!needTools(t, "gzip")) return;
  const dir = mkdtempSync(path.join(tmpdir(), "gzip-deflate-"));
  try {
    for (const { name, data } of inputs()) {
      for (let level = 1; level <= 9; level++) {
        const want = gnuGzip(dir, data, ["-n", `-${level}`]);
        const got = gzipCompress(data, level);
        assert.equal(firstDifference(got, want), -1, `${name}, level ${level}: first difference at byte ${firstDifference(got, want)} of ${want.length}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the raw stream inflates back to the input", () => {
  for (const { name, data } of inputs().slice(0, 8)) {
    for (const level of [1, 4, 9]) assert.deepEqual(inflateSync(gzipDeflate(data, level)), data, `${name}, level ${level}`);
  }
});

test("gzipDeflateMatches accepts the level's own stream and rejects another level's and a corrupted one", () => {
  const data = inputs().find((i) => i.name === "mixed 1.2 MB")!.data;
  const s9 = gzipDeflate(data, 9);
  const s1 = gzipDeflate(data, 1);
  assert.ok(gzipDeflateMatches(data, 9, s9));
  assert.ok(!gzipDeflateMatches(data, 9, s1));
  assert.ok(!gzipDeflateMatches(data, 1, s9));
  const tail = s9.slice();
  tail[tail.length - 1]! ^= 1;
  assert.ok(!gzipDeflateMatches(data, 9, tail), "a difference in the last byte");
  assert.ok(!gzipDeflateMatches(data, 9, s9.subarray(0, s9.length - 1)), "a shorter expected stream");
  const longer = new Uint8Array(s9.length + 1);
  longer.set(s9);
  assert.ok(!gzipDeflateMatches(data, 9, longer), "a longer expected stream");
});

test("levels outside 1..9 are refused", () => {
  assert.throws(() => gzipDeflate(new Uint8Array(1), 0), RangeError);
  assert.throws(() => gzipDeflate(new Uint8Array(1), 10), RangeError);
});
