/**
 * The read set (src/vcdiff/format/read-set.ts): its application header round trip and alphabet, damaged
 * and hostile headers, the check against a changed source, and stock xdelta3 decoding a delta that
 * carries one.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { deflateSync } from "fflate";
import { MenderDeltaError } from "../../src/errors";
import { decodeVcdiff } from "../../src/vcdiff/decoder/decode";
import {
  buildReadSet,
  checkReadSet,
  encodeReadSetAppHeader,
  parseReadSetAppHeader,
  READ_SET_PREFIX,
  type ByteRange,
} from "../../src/vcdiff/format/read-set";
import { normalizeRanges } from "../../src/io/byte-ranges";
import { writeVarint } from "../../src/vcdiff/format/varint";
import { needTools } from "../helpers/peers";
import { assertSameBytes, makeImage, MemorySink, MemorySource, scratchDir, xdelta3 } from "./helpers";

const MiB = 1 << 20;
const SOURCE = makeImage(7, 3 * MiB + 12345);
const RANGES: ByteRange[] = [
  [10, 5000],
  [70_000, 200_000], // spans read chunks 1-3
  [199_000, 201_000], // overlaps the one before: merged
  [201_000, 201_500], // adjacent: merged
  [MiB + 3, MiB + 4],
  [3 * MiB, 3 * MiB + 12345], // to the end
];

const text = (b: Uint8Array) => Buffer.from(b).toString("latin1");
const header = (body: Uint8Array) => new TextEncoder().encode(READ_SET_PREFIX + Buffer.from(deflateSync(body)).toString("base64url"));

function body(values: number[], extra: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(values.length * 10 + extra.length);
  let pos = 0;
  for (const v of values) pos = writeVarint(out, pos, v);
  out.set(extra, pos);
  return out.subarray(0, pos + extra.length);
}

test("ranges are sorted and merged (overlapping and adjacent ones become one)", () => {
  assert.deepEqual([...normalizeRanges([[5, 9], [0, 2], [2, 3], [8, 12], [20, 20]])], [0, 3, 5, 12]);
  assert.throws(() => normalizeRanges([[5, 4]]), RangeError);
});

test("round trip: encode, parse, same read set; the header is only [A-Za-z0-9_:-]", () => {
  for (const blockSize of [4096, 65536, 4 * MiB]) {
    const set = buildReadSet(RANGES, new MemorySource(SOURCE, blockSize));
    assert.equal(set.sourceSize, SOURCE.length);
    assert.deepEqual([...set.ranges], [10, 5000, 70_000, 201_500, MiB + 3, MiB + 4, 3 * MiB, 3 * MiB + 12345]);
    // chunks of 64 KiB holding range bytes: 0, 1, 2, 3, 16, 48
    assert.equal(set.readChunkHashes.length, 6 * 4);
    assert.equal(set.wholeChunkHashes.length, 4 * 4);
    const all = createHash("sha256");
    for (let i = 0; i < set.ranges.length; i += 2) all.update(SOURCE.subarray(set.ranges[i]!, set.ranges[i + 1]!));
    assert.deepEqual(Buffer.from(set.sha256), all.digest());
    const last = createHash("sha256").update(SOURCE.subarray(3 * MiB)).digest();
    assert.deepEqual(Buffer.from(set.wholeChunkHashes.subarray(12)), last.subarray(0, 4));
    const inChunk2 = createHash("sha256").update(SOURCE.subarray(2 * 65536, 3 * 65536)).digest();
    assert.deepEqual(Buffer.from(set.readChunkHashes.subarray(8, 12)), inChunk2.subarray(0, 4));

    const app = encodeReadSetAppHeader(set);
    assert.match(text(app), /^mbd-readset1:[A-Za-z0-9_-]+$/);
    assert.deepEqual(parseReadSetAppHeader(app), set);
  }
  // Float64Array input and no ranges at all.
  const empty = buildReadSet(new Float64Array(0), new MemorySource(SOURCE));
  assert.deepEqual(parseReadSetAppHeader(encodeReadSetAppHeader(empty)), empty);
  assert.equal(checkReadSet(empty, new MemorySource(SOURCE)).intact, true);
});

test("a range beyond the source is refused when building", () => {
  assert.throws(() => buildReadSet([[0, SOURCE.length + 1]], new MemorySource(SOURCE)), RangeError);
});

test("headers that are not a read set are undefined (xdelta3's own names, empty, other text)", () => {
  for (const s of ["", "v1.ext4//v2.ext4/", "mbd-readset", "mbd-readset2:AAAA", "x/lzma/"]) {
    assert.equal(parseReadSetAppHeader(new TextEncoder().encode(s)), undefined, s);
  }
});

test("damaged and hostile read sets are MenderDeltaErrors, with bounded memory", () => {
  const good = buildReadSet(RANGES, new MemorySource(SOURCE));
  const app = text(encodeReadSetAppHeader(good));
  const sha = new Uint8Array(32);
  const cases: [string, Uint8Array][] = [
    ["bad base64", new TextEncoder().encode(app.slice(0, 20) + "/" + app.slice(21))],
    ["base64 with padding", new TextEncoder().encode(app + "==")],
    ["impossible base64 length", new TextEncoder().encode(READ_SET_PREFIX + "AAAAA")],
    ["not deflate", new TextEncoder().encode(READ_SET_PREFIX + "____________")],
    ["truncated", new TextEncoder().encode(app.slice(0, app.length - 8))],
    // 70 MiB of zeros deflate to ~70 KiB: inflating must stop at the cap.
    ["inflate bomb", header(new Uint8Array(70 * MiB))],
    ["count larger than the body", header(body([SOURCE.length, 2 ** 40, 0, 1]))],
    ["range beyond the source", header(body([1000, 1, 900, 200], sha))],
    ["empty range", header(body([1000, 1, 0, 0], sha))],
    ["adjacent ranges", header(body([1000, 2, 0, 10, 0, 10], sha))],
    ["varint overflow", header(new Uint8Array(20).fill(0xff))],
    ["empty source", header(body([0, 0], sha))],
    ["whole-chunk hashes missing", header(body([1000, 1, 0, 10], sha).slice())],
    ["read chunk hashes claimed beyond the body", header(Buffer.concat([body([2 ** 40, 1, 0, 2 ** 39]), sha, body([12])]))],
    ["whole-chunk hashes claimed beyond the body", header(Buffer.concat([body([2 ** 50, 0]), sha, body([16, 12])]))],
    ["trailing bytes", header(Buffer.concat([body([1000, 0]), sha, body([16, 20]), new Uint8Array(5)]))],
    ["bad shift", header(Buffer.concat([body([1000, 0]), sha, body([63, 20]), new Uint8Array(4)]))],
  ];
  const before = process.memoryUsage().rss;
  for (const [what, bytes] of cases) {
    assert.throws(() => parseReadSetAppHeader(bytes), (err: unknown) => {
      assert.ok(err instanceof MenderDeltaError, `${what}: ${String(err)}`);
      assert.match(err.message, /^the delta's read set \(application header\) is damaged: .*; fetch or generate the delta again$/, what);
      return true;
    }, what);
  }
  // The one valid case built by hand parses: 1000 bytes, no range, one whole chunk.
  const ok = parseReadSetAppHeader(header(Buffer.concat([body([1000, 0]), sha, body([16, 20]), new Uint8Array(4)])));
  assert.equal(ok?.sourceSize, 1000);
  assert.ok(process.memoryUsage().rss - before < 150 * MiB, "no allocation in proportion to the claimed counts");
});

test("checkReadSet: intact source; a flipped byte inside a range; flipped bytes outside ranges", () => {
  const set = buildReadSet(RANGES, new MemorySource(SOURCE));
  const same = checkReadSet(set, new MemorySource(SOURCE, 65536));
  assert.deepEqual(same, {
    intact: true,
    rangesRead: 4,
    bytesRead: SOURCE.length,
    changedChunks: [],
    changedRanges: 0,
    wholeChunksChanged: 0,
    wholeChunks: 4,
  });

  // Outside every range, in whole chunks 0 and 2: intact, two whole chunks changed.
  const outside = Uint8Array.from(SOURCE);
  outside[6000]! ^= 1;
  outside[2 * MiB + 77]! ^= 0x80;
  const o = checkReadSet(set, new MemorySource(outside));
  assert.equal(o.intact, true);
  assert.equal(o.wholeChunksChanged, 2);
  assert.deepEqual(o.changedChunks, []);

  // Inside the second range, in read chunk 2 (bytes 131072-196607).
  const inside = Uint8Array.from(outside);
  inside[150_000]! ^= 4;
  const i = checkReadSet(set, new MemorySource(inside, 4096));
  assert.equal(i.intact, false);
  assert.deepEqual(i.changedChunks, [[131_072, 196_608]]);
  assert.equal(i.changedRanges, 1);
  assert.equal(i.wholeChunksChanged, 2);

  // Two chunks of one range and the tail range: the range counts once.
  inside[80_000]! ^= 4;
  inside[3 * MiB + 100]! ^= 4;
  const j = checkReadSet(set, new MemorySource(inside, 4096));
  assert.deepEqual(j.changedChunks, [[70_000, 131_072], [131_072, 196_608], [3 * MiB, 3 * MiB + 12345]]);
  assert.equal(j.changedRanges, 2);
  assert.equal(j.wholeChunksChanged, 3);

  // A read chunk holding pieces of two ranges reports both pieces.
  const two = buildReadSet([[100, 200], [300, 400]], new MemorySource(SOURCE));
  const src = Uint8Array.from(SOURCE);
  src[150]! ^= 1;
  assert.deepEqual(checkReadSet(two, new MemorySource(src)).changedChunks, [[100, 200], [300, 400]]);

  // A source shorter than the read set describes.
  assert.throws(() => checkReadSet(set, new MemorySource(SOURCE.subarray(0, MiB))), MenderDeltaError);
});

test("a delta carrying a read set: stock xdelta3 -d and decodeVcdiff both rebuild the target; onAppHeader sees it first", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("read-set");
  const oldFile = path.join(dir, "old");
  const newFile = path.join(dir, "new");
  const deltaFile = path.join(dir, "delta");
  const outFile = path.join(dir, "out");
  const target = Buffer.concat([SOURCE.subarray(0, MiB), makeImage(9, 50_000), SOURCE.subarray(MiB, 2 * MiB)]);
  fs.writeFileSync(oldFile, SOURCE);
  fs.writeFileSync(newFile, target);
  const set = buildReadSet([[0, 2 * MiB]], new MemorySource(SOURCE));
  const app = encodeReadSetAppHeader(set);
  xdelta3(["-e", "-f", "-S", "lzma", `-A=${text(app)}`, "-s", oldFile, newFile, deltaFile]);
  xdelta3(["-d", "-f", "-s", oldFile, deltaFile, outFile]);
  assertSameBytes(fs.readFileSync(outFile), target);

  const delta = fs.readFileSync(deltaFile);
  const seen: (Uint8Array | undefined)[] = [];
  const sink = new MemorySink();
  await decodeVcdiff((async function* () { yield delta; })(), new MemorySource(SOURCE), sink, {
    onAppHeader(appHeader) {
      assert.equal(sink.bytes().length, 0, "called before anything is written");
      seen.push(appHeader);
    },
  });
  assertSameBytes(sink.bytes(), target);
  assert.equal(seen.length, 1);
  assert.deepEqual(parseReadSetAppHeader(seen[0]!), set);

  // No application header: called once with undefined. Throwing from it ends the decode unwritten.
  xdelta3(["-e", "-f", "-A=", "-s", oldFile, newFile, deltaFile]);
  const plain = fs.readFileSync(deltaFile);
  const calls: (Uint8Array | undefined)[] = [];
  const sink2 = new MemorySink();
  await decodeVcdiff((async function* () { yield plain; })(), new MemorySource(SOURCE), sink2, { onAppHeader: (a) => void calls.push(a) });
  assert.deepEqual(calls, [undefined]);
  const sink3 = new MemorySink();
  await assert.rejects(
    decodeVcdiff((async function* () { yield delta; })(), new MemorySource(SOURCE), sink3, {
      onAppHeader: async () => {
        throw new MenderDeltaError("refused");
      },
    }),
    /refused/,
  );
  assert.equal(sink3.bytes().length, 0);
});

test("an application header longer than 64 MiB is refused as a corrupt delta when it is read", async () => {
  // Magic, version, VCD_APPHEADER, length 2^26 + 1.
  const head = new Uint8Array([0xd6, 0xc3, 0xc4, 0, 0x04, ...body([2 ** 26 + 1])]);
  await assert.rejects(
    decodeVcdiff((async function* () { yield head; })(), new MemorySource(SOURCE), new MemorySink(), { onAppHeader: () => {} }),
    /invalid delta at delta byte 9: the application header claims 67108865 bytes, more than the 67108864 any delta needs/,
  );
  const cut = new Uint8Array([0xd6, 0xc3, 0xc4, 0, 0x04, 10, 65, 65]);
  await assert.rejects(
    decodeVcdiff((async function* () { yield cut; })(), new MemorySource(SOURCE), new MemorySink(), { onAppHeader: () => {} }),
    /the delta ends inside the application header \(truncated\)/,
  );
});
