/**
 * The encoder's source-use controls: ranges to avoid (no COPY reads them) and the read ranges it
 * reports for the application header. Proof by damage: the avoided bytes of the source are
 * scrambled after encoding, and the delta still decodes to the new image with stock `xdelta3 -d`
 * and our decoder; the reported read ranges are exactly the bytes the copies use (scrambling
 * everything else changes nothing either; flipping one byte inside a read range breaks it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { encodeVcdiff } from "../../src/vcdiff/encoder/encode";
import { normalizeRanges, type ByteRange } from "../../src/io/byte-ranges";
import { avoidCopies, zeroStretches } from "../../src/vcdiff/encoder/source-ranges";
import { InstructionList, KIND_COPY_SOURCE, KIND_RUN } from "../../src/vcdiff/encoder/instruction-list";
import { needTools } from "../helpers/peers";
import { assertOurDecoderDecodes, assertXdelta3Decodes, tempDir } from "./encode-oracles";

/** Fills every byte of `file` outside `keep` (sorted pairs) with random bytes. */
function scrambleOutside(file: string, keep: Float64Array): void {
  const buf = fs.readFileSync(file);
  let at = 0;
  for (let i = 0; i <= keep.length; i += 2) {
    const end = i < keep.length ? keep[i]! : buf.length;
    if (end > at) crypto.randomFillSync(buf, at, end - at);
    at = i < keep.length ? keep[i + 1]! : buf.length;
  }
  fs.writeFileSync(file, buf);
}

function scrambleInside(file: string, ranges: Float64Array): void {
  const buf = fs.readFileSync(file);
  for (let i = 0; i < ranges.length; i += 2) crypto.randomFillSync(buf, ranges[i]!, ranges[i + 1]! - ranges[i]!);
  fs.writeFileSync(file, buf);
}

/** An old image and a new one that moves, edits and repeats parts of it (zeros included). */
function makePair(dir: string): { v1: string; v2: string } {
  const rnd = crypto.randomBytes(3 << 20);
  const v1 = Buffer.concat([rnd.subarray(0, 1 << 20), Buffer.alloc(512 << 10), rnd.subarray(1 << 20)]);
  const v2 = Buffer.concat([
    rnd.subarray(2 << 20, (2 << 20) + (700 << 10)), // moved
    Buffer.alloc(300 << 10), // zeros: the old zeros are avoided below
    rnd.subarray(0, 1 << 20), // in place-ish
    Buffer.from("a small edit"),
    rnd.subarray(1 << 20, 2 << 20),
  ]);
  fs.writeFileSync(path.join(dir, "v1"), v1);
  fs.writeFileSync(path.join(dir, "v2"), v2);
  return { v1: path.join(dir, "v1"), v2: path.join(dir, "v2") };
}

test("avoided source ranges are never read: the delta decodes from a source scrambled there", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const { v1, v2 } = makePair(dir);
  // Avoid the zeros, a 64 KiB stretch inside data that v2 reuses, and odd-sized, unaligned pieces.
  const avoid: ByteRange[] = [[(1 << 20) + 4096, (1 << 20) + (512 << 10)], [(2 << 20) + 100_000, (2 << 20) + 165_536], [5000, 5003], [(1 << 20) - 7, 1 << 20]];
  let reads: Float64Array | undefined;
  for (const threads of [1, 2]) {
    const delta = path.join(dir, `d${threads}.vcdiff`);
    const stats = await encodeVcdiff(v1, v2, delta, {
      threads, windowSize: 1 << 20, avoid,
      appHeader: (r) => { reads = r; return Buffer.from("mbd-test-header"); },
    });
    assert.ok(stats.copiedFromSource > 2 << 20, `still copies most: ${stats.copiedFromSource}`);
    assert.equal(stats.appHeaderSize, 15);
    const damaged = path.join(dir, `v1-damaged-${threads}`);
    fs.copyFileSync(v1, damaged);
    scrambleInside(damaged, normalizeRanges(avoid));
    assertXdelta3Decodes(damaged, delta, v2, path.join(dir, "out"));
    await assertOurDecoderDecodes(damaged, delta, v2, path.join(dir, "out"));

    // The reads: disjoint from the avoided ranges, and all the delta needs.
    const union = reads!;
    const av = normalizeRanges(avoid);
    for (let i = 0; i < union.length; i += 2) {
      for (let j = 0; j < av.length; j += 2) assert.ok(union[i + 1]! <= av[j]! || union[i]! >= av[j + 1]!, "a read range overlaps an avoided one");
    }
    assert.equal(stats.sourceBytesRead, union.reduce((s, v, i) => (i % 2 ? s + v - union[i - 1]! : s), 0));
    const onlyReads = path.join(dir, `v1-reads-${threads}`);
    fs.copyFileSync(v1, onlyReads);
    scrambleOutside(onlyReads, union);
    assertXdelta3Decodes(onlyReads, delta, v2, path.join(dir, "out"));
    // One flipped byte inside the largest read range: xdelta3's window checksum catches it.
    let best = 0;
    for (let i = 2; i < union.length; i += 2) if (union[i + 1]! - union[i]! > union[best + 1]! - union[best]!) best = i;
    const buf = fs.readFileSync(onlyReads);
    const mid = Math.floor((union[best]! + union[best + 1]!) / 2);
    buf[mid] = buf[mid]! ^ 0xff;
    fs.writeFileSync(onlyReads, buf);
    const r = spawnSync("xdelta3", ["-d", "-f", "-s", onlyReads, delta, path.join(dir, "out")], { encoding: "utf8" });
    assert.notEqual(r.status, 0, "a changed read byte went unnoticed");
  }
});

test("a delta without avoid or appHeader is byte-identical to before (header indicator 0)", async (t) => {
  const dir = tempDir(t);
  const { v1, v2 } = makePair(dir);
  const a = path.join(dir, "a"), b = path.join(dir, "b");
  await encodeVcdiff(v1, v2, a, { threads: 1, windowSize: 1 << 20 });
  await encodeVcdiff(v1, v2, b, { threads: 1, windowSize: 1 << 20, avoid: [] });
  assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)));
  assert.equal(fs.readFileSync(a)[4], 0);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes(".windows-")), [], "no temporary file left");
});

test("avoidCopies: a copy crossing avoided ranges becomes copy, zero RUN, copy (window offsets right)", () => {
  const list = new InstructionList(4);
  list.push(1, 10, 0); // ADD 10 bytes at window offset 0
  list.push(KIND_COPY_SOURCE, 100, 1000); // window bytes 10..110 from source 1000..1100
  const out = avoidCopies(list, normalizeRanges([[1020, 1030], [1090, 2000]]), new InstructionList(4));
  const got = Array.from({ length: out.count }, (_, i) => [out.kind[i], out.size[i], out.pos[i]]);
  assert.deepEqual(got, [[1, 10, 0], [KIND_COPY_SOURCE, 20, 1000], [KIND_RUN, 10, 30], [KIND_COPY_SOURCE, 60, 1030], [KIND_RUN, 10, 100]]);
});

test("a copy over a long stretch of zero source blocks is a RUN there: a decoder reads none of it", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const rnd = crypto.randomBytes(3 << 20);
  // Identical regions continue through free space: one long stretch (256 KiB) and one short (16 KiB).
  const longZeros: ByteRange = [1 << 20, (1 << 20) + (256 << 10)];
  const shortZeros: ByteRange = [(2 << 20) + (256 << 10), (2 << 20) + (272 << 10)];
  const v1Bytes = Buffer.concat([rnd.subarray(0, 1 << 20), Buffer.alloc(256 << 10), rnd.subarray(1 << 20, 2 << 20), Buffer.alloc(16 << 10), rnd.subarray(2 << 20)]);
  const v2Bytes = Buffer.from(v1Bytes);
  v2Bytes.write("an edit near the end", v2Bytes.length - 4000);
  const v1 = path.join(dir, "v1"), v2 = path.join(dir, "v2");
  fs.writeFileSync(v1, v1Bytes);
  fs.writeFileSync(v2, v2Bytes);
  let reads: Float64Array | undefined;
  for (const threads of [1, 2]) {
    const delta = path.join(dir, `d${threads}.vcdiff`);
    const stats = await encodeVcdiff(v1, v2, delta, { threads, windowSize: 1 << 20, appHeader: (r) => { reads = r; return Buffer.from("h"); } });
    assert.equal(stats.runBytes, 256 << 10, "the long zero stretch is one RUN, the short one stays a copy");
    assert.equal(stats.sourceBytesRead, v1Bytes.length - (256 << 10) - 20, "all but the RUN and the edit");
    assert.deepEqual([...reads!], [0, longZeros[0], longZeros[1], v1Bytes.length - 4000, v1Bytes.length - 3980, v1Bytes.length]);
    const damaged = path.join(dir, `v1-damaged-${threads}`);
    fs.copyFileSync(v1, damaged);
    scrambleInside(damaged, normalizeRanges([longZeros]));
    assertXdelta3Decodes(damaged, delta, v2, path.join(dir, "out"));
    await assertOurDecoderDecodes(damaged, delta, v2, path.join(dir, "out"));
    // The short stretch is still read: scrambling it breaks the delta.
    scrambleInside(damaged, normalizeRanges([shortZeros]));
    const r = spawnSync("xdelta3", ["-d", "-f", "-s", damaged, delta, path.join(dir, "out")], { encoding: "utf8" });
    assert.notEqual(r.status, 0, "the short zero stretch was not read");
  }
});

test("zeroStretches: runs of zero blocks of at least the minimum, clipped to the source size", () => {
  const zero = Uint8Array.from([1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1]);
  assert.deepEqual([...zeroStretches(zero, 4096, 11 * 4096 - 100, 2 * 4096)], [2 * 4096, 4 * 4096, 5 * 4096, 8 * 4096, 9 * 4096, 11 * 4096 - 100]);
  assert.deepEqual([...zeroStretches(zero, 4096, 11 * 4096, 3 * 4096)], [5 * 4096, 8 * 4096]);
  assert.deepEqual([...zeroStretches(zero, 4096, 11 * 4096, 1)], [0, 4096, 2 * 4096, 4 * 4096, 5 * 4096, 8 * 4096, 9 * 4096, 11 * 4096]);
});
