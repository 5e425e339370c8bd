/**
 * EXEC records (docs/file-delta-format.md): the writer and the device decoder make the new file
 * from a real binary pair, read in any chunking; and every lie an EXEC record can tell (its segment
 * table, transform, reference count, sizes, extents, an old buffer that is not the scanned file)
 * is refused with one line before anything of the record is written.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { execDiff, type ExecDiff } from "../../src/filediff/exec/exec-diff";
import { writeVarint } from "../../src/vcdiff/format/varint";
import { SourceMismatchError } from "../../src/vcdiff/decoder/errors";
import { diffCost, socketPair } from "../filediff/exec-helpers";
import { concat, decode, mutationsMakeExactOrNothing, refused, sha256 } from "./mbdf-helpers";

const { old, neu } = socketPair();
/** The source image: 4 KiB of zeros, then the old file. */
const OLD_AT = 4096;
const source = concat([new Uint8Array(OLD_AT), old]);
const exec = execDiff(old, neu, approximateDiff(old, neu), diffCost)!;

test("an EXEC record makes the new file from the old one in the source, in any chunking", async () => {
  assert.ok(exec, "an executable-aware diff of the Socket.so pair");
  const w = new MbdfWriter({ targetSize: neu.length, sourceSize: source.length, targetSha256: sha256(neu) });
  w.exec([{ sourceOffset: OLD_AT, length: 1000 }, { sourceOffset: OLD_AT + 1000, length: old.length - 1000 }], exec, neu);
  w.end();
  for (const chunk of [w.bytes().length, 4096, 1]) {
    const { target, result } = await decode(w.bytes(), source, chunk);
    assert.ok(Buffer.from(target).equals(Buffer.from(neu)), `chunks of ${chunk}`);
    assert.equal(result.records, 1);
  }
});

test("the writer refuses an EXEC record the device would refuse", () => {
  const w = new MbdfWriter({ targetSize: neu.length, sourceSize: source.length, targetSha256: sha256(neu) });
  const extents = [{ sourceOffset: OLD_AT, length: old.length }];
  const past = { ...exec.newSegments, filesz: exec.newSegments.filesz.map((f, i) => (i === 0 ? neu.length + 1 : f)) };
  assert.throws(() => w.exec(extents, { ...exec, newSegments: past }, neu), /segment 0 holds file bytes/);
  assert.throws(() => w.exec(extents, { ...exec, transform: 256 }, neu), /transform must be a byte/);
  assert.throws(() => w.exec(extents, exec, neu.subarray(1)), /streams make/);
  assert.equal(w.records, 0);
});

// Hand-made EXEC records for the lies a damaged or crafted delta can tell.
const v = (n: number): Uint8Array => {
  const b = new Uint8Array(10);
  return b.slice(0, writeVarint(b, 0, n));
};

interface Fields {
  length: number;
  extents: [number, number][];
  transform: number;
  referenceCount: number;
  segments: number[][];
  segmentCount?: number;
  control: Uint8Array;
  differencesLength: number;
  literalsLength: number;
}

function fieldsOf(e: ExecDiff): Fields {
  const s = e.newSegments;
  return {
    length: neu.length,
    extents: [[OLD_AT, old.length]],
    transform: e.transform,
    referenceCount: e.referenceCount,
    segments: Array.from({ length: s.count }, (_, i) => [s.offset[i]!, s.vaddr[i]!, s.filesz[i]!, s.memsz[i]!]),
    control: e.diff.control,
    differencesLength: e.diff.differences.length,
    literalsLength: e.diff.literals.length,
  };
}

/** A delta of one EXEC record with `f`'s fields, the streams of `exec` (cut or padded to the declared lengths) and END. */
function execDelta(f: Fields): Uint8Array {
  const pad = (bytes: Uint8Array, n: number): Uint8Array => (bytes.length >= n ? bytes.subarray(0, n) : concat([bytes, new Uint8Array(n - bytes.length)]));
  const header = MbdfWriter.headerBytes({ targetSize: f.length, sourceSize: source.length, targetSha256: sha256(neu) });
  return concat([
    header, Uint8Array.of(7), v(f.length), v(f.extents.length), ...f.extents.flatMap(([o, n]) => [v(o), v(n)]),
    Uint8Array.of(f.transform), v(f.referenceCount), v(f.segmentCount ?? f.segments.length), ...f.segments.flat().map(v),
    v(f.control.length), v(f.differencesLength), v(f.literalsLength),
    f.control, pad(exec.diff.differences, f.differencesLength), pad(exec.diff.literals, f.literalsLength), new Uint8Array(4), Uint8Array.of(0),
  ]);
}

/** The message of a record that needs more than 3 times its window, the claim that went over matching `what`. */
const memory = (what: RegExp): RegExp => new RegExp(`needs more than 3 times its ${old.length}-byte window in memory \\(\\d+ bytes with ${what.source}\\)`);

/** A control stream of 20-byte difference stretches making the whole new file: a valid diff of many stretches. */
const shortStretches = concat(Array.from({ length: neu.length / 20 }, () => Uint8Array.of(20, 0, 0)));

test("EXEC lies are refused before anything is written, each with its reason", async () => {
  const good = fieldsOf(exec);
  const seg = (i: number, k: number, value: number): number[][] => good.segments.map((s, j) => (j === i ? s.map((x, m) => (m === k ? value : x)) : s));
  /** A seek far past the old file in the control stream's first entry. */
  const farSeek = concat([v(0), v(0), v(2 * (old.length + 10)), good.control.subarray(3)]);
  const cases: [name: string, fields: Partial<Fields>, message: RegExp, blame?: "source"][] = [
    ["no segment", { segments: [] }, /the segment count is 0, it must be 1 to 64/],
    ["65 segments", { segmentCount: 65, segments: [] }, /the segment count is 65/],
    ["a segment's file bytes past the new file", { segments: seg(0, 2, neu.length + 1) }, /segment 0 holds file bytes \[0, \+\d+\) past the file's \d+ bytes/],
    ["a segment's memory shorter than its file bytes", { segments: seg(1, 3, 0) }, /segment 1 has less memory \(0\) than file bytes/],
    ["an address of 2^48", { segments: seg(0, 1, 2 ** 48) }, /segment 0's vaddr is 281474976710656, at least 2\^48/],
    ["an unknown transform", { transform: 9 }, /unknown transform 9/],
    ["a reference count the old file does not have", { referenceCount: good.referenceCount + 1 }, /the old file has \d+ references, the delta expects \d+/, "source"],
    ["an old buffer that is no ELF file", { extents: [[0, old.length]] }, /the old file is not an x86-64 ELF file/, "source"],
    ["streams that do not add up", { differencesLength: good.differencesLength + 1 }, /do not add up to the record's \d+ bytes/],
    ["a stretch reading outside the old file", { control: farSeek }, /reads outside the old file/],
    ["a control stream cut inside a value", { control: Uint8Array.of(0x80) }, /the control stream ends inside a value/],
    ["an extent past the source", { extents: [[source.length - 10, 20]] }, /extent 0 \[\d+, \+20\) reaches past the end/],
    // The record's memory (3x its window, working-set.ts), from its declared sizes before any buffer, then as it is made.
    ["a control stream the window's memory cannot hold", { control: new Uint8Array(old.length + 1000) }, memory(/the control stream/)],
    ["a reference count the window's memory cannot hold", { referenceCount: 200_000 }, memory(/\d+ references/)],
    ["20-byte stretches the window's memory cannot hold", { control: shortStretches, differencesLength: neu.length, literalsLength: 0 }, memory(/2382 difference stretches/)],
  ];
  for (const [name, change, message, blame] of cases) {
    const delta = execDelta({ ...good, ...change });
    for (const chunk of [1 << 20, 1]) {
      const { err, sink } = await refused(delta, source, chunk);
      assert.match(err.message, message, name);
      assert.match(err.message, /record 0 \(target byte 0\)/, name);
      assert.equal(err instanceof SourceMismatchError, blame === "source", `${name}: blame`);
      assert.equal(sink.bytesWritten, 0, `${name}: bytes written`);
    }
  }
});

test("EXEC: a damaged difference byte fails the CRC-32 and writes nothing", async () => {
  const w = new MbdfWriter({ targetSize: neu.length, sourceSize: source.length, targetSha256: sha256(neu) });
  const bad = exec.diff.differences.slice();
  bad[1000] = bad[1000]! ^ 1;
  w.exec([{ sourceOffset: OLD_AT, length: old.length }], { ...exec, diff: { ...exec.diff, differences: bad } }, neu);
  w.end();
  const { err, sink } = await refused(w.bytes(), source);
  assert.match(err.message, /CRC-32/);
  assert.equal(sink.bytesWritten, 0);
});

test("fuzz: 400 seeded mutations of an EXEC delta make the exact file or are refused with a MenderDeltaError, never more", async () => {
  const w = new MbdfWriter({ targetSize: neu.length, sourceSize: source.length, targetSha256: sha256(neu) });
  w.exec([{ sourceOffset: OLD_AT, length: old.length }], exec, neu);
  w.end();
  const delta = w.bytes();
  // The record's fields come first: most mutations go there, the rest anywhere.
  await mutationsMakeExactOrNothing(delta, source, neu, 120 + exec.diff.control.length, 400, 23);
});
