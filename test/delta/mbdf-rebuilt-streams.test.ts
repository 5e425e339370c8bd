/**
 * A content met again in one decode (the same compressed file under several names) is compressed
 * once: REDEFLATE records reuse the stream an earlier record made for the same content, compressor
 * and level, and only then; the kept streams stay within their capacity.
 */
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import { test } from "node:test";
import { Compressor, OldFormat } from "../../src/delta/mbdf/format";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { MIN_REBUILT_CONTENT, RebuiltStreams } from "../../src/delta/mbdf/rebuilt-streams";
import { needTools } from "../helpers/peers";
import { concat, decode, Rng, sha256 } from "./mbdf-helpers";

function text(rng: Rng, words: number): Uint8Array {
  const vocabulary = "changelog entry security fix for CVE upload urgency medium openssl release".split(" ");
  return new Uint8Array(Buffer.from(Array.from({ length: words }, () => vocabulary[rng.below(vocabulary.length)]).join(" ")));
}

test("REDEFLATE: a content met again at the same compressor and level reuses its stream; another level or compressor is made anew", async (t) => {
  if (!needTools(t, "gzip")) return;
  const rng = new Rng(41);
  const shared = text(rng, 20_000);
  const other = text(rng, 15_000);
  const gzip = (content: Uint8Array, level: number) => new Uint8Array(execFileSync("gzip", [`-${level}n`], { input: content }));
  // Each file a new compressed file, as gzip -n writes it (mtime 0, no name).
  const files = [
    { content: shared, level: 9, file: gzip(shared, 9) },
    { content: other, level: 9, file: gzip(other, 9) },
    { content: shared, level: 9, file: gzip(shared, 9) },
    { content: shared, level: 6, file: gzip(shared, 6) },
    { content: shared, level: 9, file: gzip(shared, 9) },
  ];
  // The copy's header differs from the first's (its mtime): the stream is reused, the header is the record's own.
  files[2]!.file[4] = 0x5a;
  assert.notDeepEqual(gzip(shared, 9).subarray(10, -8), gzip(shared, 6).subarray(10, -8), "levels 9 and 6 make different streams");
  const target = concat(files.map((f) => f.file));
  const w = new MbdfWriter({ targetSize: target.length, sourceSize: 4096, targetSha256: sha256(target) });
  for (const f of files) {
    w.redeflate(
      {
        extents: [], oldFormat: OldFormat.gzip, oldContentLength: 0, compressor: Compressor.gnuGzip, level: f.level,
        header: f.file.subarray(0, 10), content: { kind: "literal" }, newContent: f.content,
      },
      f.file,
    );
  }
  w.end();
  const { target: out, result } = await decode(w.bytes(), new Uint8Array(4096));
  assert.ok(Buffer.from(out).equals(Buffer.from(target)), "every file byte for byte, the copy's own header included");
  assert.equal(result.records, 5);
  assert.equal(result.streamsReused, 2, "records 3 and 5 reuse record 1's stream; record 4 (level 6) does not");
});

test("RebuiltStreams: keys only contents worth keeping, holds at most its capacity, and drops the cheapest streams first", () => {
  const streams = new RebuiltStreams(1000);
  const content = (n: number, fill: number) => new Uint8Array(n).fill(fill);
  assert.equal(streams.keyOf(1, 9, content(MIN_REBUILT_CONTENT - 1, 1)), undefined, "a small content is compressed again");
  const key = (fill: number, level = 9, compressor = 1) => streams.keyOf(compressor, level, content(MIN_REBUILT_CONTENT, fill))!;
  assert.notEqual(key(1), key(2));
  assert.notEqual(key(1, 9), key(1, 8));
  assert.notEqual(key(1, 9, 1), key(1, 9, 2));
  assert.equal(key(1), key(1));

  streams.keep(key(1), new Uint8Array(400).fill(1), 50_000);
  streams.keep(key(2), new Uint8Array(400).fill(2), 20_000);
  assert.equal(streams.heldBytes, 800);
  streams.keep(key(3), new Uint8Array(400).fill(3), 30_000);
  assert.equal(streams.heldBytes, 800, "over capacity: one stream dropped");
  assert.equal(streams.find(key(2)), undefined, "the cheapest one to make again");
  assert.equal(streams.find(key(1))![0], 1);
  assert.equal(streams.find(key(3))![0], 3);
  streams.keep(key(4), new Uint8Array(501), 1e9);
  assert.equal(streams.find(key(4)), undefined, "a stream over half the capacity is not kept");
  assert.equal(streams.heldBytes, 800);
  assert.equal(streams.reused, 2);

  // However small the streams, at most `maxEntries` are kept (a lookup stays short).
  const few = new RebuiltStreams(1 << 20, 3);
  for (let fill = 1; fill <= 5; fill++) few.keep(key(fill), new Uint8Array(10), fill * 1000);
  assert.equal(few.heldBytes, 30);
  assert.deepEqual([1, 2, 3, 4, 5].map((fill) => few.find(key(fill)) !== undefined), [false, false, true, true, true], "the three costliest");
});
