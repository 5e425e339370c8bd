/**
 * DeflateScratch: one set of arrays reused across streams (the device rebuilding hundreds of .gz
 * files) gives byte for byte what fresh arrays give, for both compressors and every level, in any
 * order: a stream never sees the previous stream's window, chains or symbols.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DeflateScratch } from "../../src/deflate/deflate-window";
import { gzipDeflate } from "../../src/deflate/gzip-deflate";
import { zlibDeflate } from "../../src/deflate/zlib-deflate";
import { inputs, randomBytes, text } from "./gzip-fixtures";

test("a reused DeflateScratch gives exactly the fresh compressors' output, stream after stream", () => {
  const scratch = new DeflateScratch();
  // Big, small, random and text inputs interleaved, so each stream follows one that filled the arrays differently.
  const data = [text(200_000, 1), randomBytes(3000, 2), ...inputs().slice(0, 4).map((i) => i.data), text(70_000, 3), new Uint8Array([7])];
  let streams = 0;
  for (const level of [1, 4, 6, 9]) {
    for (const d of data) {
      assert.deepEqual(gzipDeflate(d, level, scratch), gzipDeflate(d, level), `gzip -${level}, ${d.length} bytes`);
      assert.deepEqual(zlibDeflate(d, level, scratch), zlibDeflate(d, level), `zlib ${level}, ${d.length} bytes`);
      streams += 2;
    }
  }
  assert.ok(streams >= 64);
});
