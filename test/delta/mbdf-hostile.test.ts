/**
 * Hostile MBDF deltas: each is refused with a MenderDeltaError whose one line names the record,
 * and nothing is written past the last record that was whole and checked (the sink records every
 * write). Then a seeded fuzz loop: every mutation of a valid delta either makes the exact target
 * or is refused so, never another exception, never a byte past target_size.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import zlib from "node:zlib";
import { crc32 } from "../../src/compress/crc32";
import { storedDeflate } from "../../src/delta/mbdf/compressors";
import { decodeMbdf } from "../../src/delta/mbdf/decode";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { MenderDeltaError } from "../../src/errors";
import { writeVarint } from "../../src/vcdiff/format/varint";
import { buildReadSet, encodeReadSetAppHeader } from "../../src/vcdiff/format/read-set";
import { SourceMismatchError } from "../../src/vcdiff/decoder/errors";
import { concat, inChunks, MemorySource, RecordingSink, refused, Rng, sha256, smallDelta } from "./mbdf-helpers";

/** True when what `sink` holds is the target up to the end of one of its records (or nothing). */
function wholeRecordsOnly(sink: RecordingSink, target: Uint8Array, recordEnds: number[]): boolean {
  const n = sink.bytesWritten;
  return (n === 0 || recordEnds.includes(n)) && Buffer.from(sink.bytes()).equals(Buffer.from(target.subarray(0, n)));
}

test("a delta cut at every byte is refused, and what was written is whole records of the target", async () => {
  const { delta, source, target, recordEnds } = smallDelta();
  let before = 0;
  for (let cut = 0; cut < delta.length; cut++) {
    const { err, sink } = await refused(delta.subarray(0, cut), source);
    assert.match(err.message, /truncated|ends before/, `cut at ${cut}: ${err.message}`);
    assert.ok(wholeRecordsOnly(sink, target, recordEnds), `cut at ${cut}: ${sink.bytesWritten} bytes written`);
    assert.ok(sink.bytesWritten >= before, "a longer delta never writes less");
    before = sink.bytesWritten;
  }
  assert.equal(before, target.length, "cut only before END, every record was written");
});

test("a flipped bit anywhere (every field of every record, the header, the CRCs) is refused, writing only whole good records, or changes nothing", async () => {
  const { delta, source, target, recordEnds } = smallDelta();
  let unchanged = 0;
  for (let byte = 0; byte < delta.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      // Each flip alone, on a copy (a Buffer's slice() would be a view of the delta).
      const bad = Uint8Array.from(delta);
      bad[byte] = bad[byte]! ^ (1 << bit);
      const sink = new RecordingSink();
      try {
        await decodeMbdf(inChunks(bad, bad.length), new MemorySource(source), sink, {});
      } catch (err) {
        if (!(err instanceof MenderDeltaError)) throw err;
        assert.equal(err.message.split("\n").length, 1, "one line");
        assert.ok(wholeRecordsOnly(sink, target, recordEnds), `byte ${byte} bit ${bit}: ${sink.bytesWritten} bytes written`);
        continue;
      }
      // Accepted: a field with more than one spelling of the same output (a filter or filter_start
      // that converts nothing in these bytes, a source_size above every read, an extent boundary
      // moved inside the old buffer). The records' CRC-32s and the image's SHA-256 vouch for it.
      assert.ok(Buffer.from(sink.bytes()).equals(Buffer.from(target)), `byte ${byte} bit ${bit} was accepted with other bytes`);
      unchanged++;
    }
  }
  assert.ok(unchanged < (delta.length * 8) / 100, `${unchanged} of ${delta.length * 8} flips accepted`);
});

// Hand-made deltas for the lies a damaged or crafted delta can tell.
const v = (n: number): Uint8Array => {
  const b = new Uint8Array(10);
  return b.slice(0, writeVarint(b, 0, n));
};
const u32 = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
const zeroCrc = (n: number): Uint8Array => u32(crc32(new Uint8Array(n)));

function header(targetSize: number, sourceSize: number, o: { magic?: string; version?: number; flags?: number; sha?: Uint8Array } = {}): Uint8Array {
  return concat([
    new Uint8Array(Buffer.from(o.magic ?? "MBDF")), Uint8Array.of(o.version ?? 1, o.flags ?? 0),
    v(targetSize), v(sourceSize), o.sha ?? new Uint8Array(32), v(0),
  ]);
}
/** A read set of the first 100 bytes of a `sourceSize`-byte source of 7s, as the generator writes it. */
function readSetOf(sourceSize: number): Uint8Array {
  return encodeReadSetAppHeader(buildReadSet([[0, 100]], new MemorySource(new Uint8Array(sourceSize).fill(7))));
}
/** A ZERO record of n bytes, whole. */
const zero = (n: number): Uint8Array => concat([Uint8Array.of(1), v(n), zeroCrc(n)]);

test("lies and unknowns are refused before the record writes anything, with one line naming record and offset", async () => {
  const src = new Uint8Array(3000).fill(7);
  const sha100 = new Uint8Array(Buffer.from(sha256(new Uint8Array(100)), "hex"));
  const readSet = readSetOf(3000);
  // A '.' in its base64url text, three bytes from the end.
  const damagedReadSet = readSet.map((b, i) => (i === readSet.length - 3 ? 0x2e : b));
  const cases: [name: string, delta: Uint8Array, message: RegExp, written: number, source?: Uint8Array][] = [
    ["not MBDF", concat([Uint8Array.of(0xd6, 0xc3, 0xc4, 0), new Uint8Array(50)]), /^invalid MBDF delta at the MBDF header, delta byte 0: the delta starts d6c3c400, not "MBDF"/, 0],
    ["version 2", header(100, 0, { version: 2 }), /^unsupported MBDF delta at the MBDF header, .*format version 2; this program reads version 1 \(a delta made by a newer generator\?\)/, 0],
    ["flags", header(100, 0, { flags: 1 }), /flags 1; version 1 defines none/, 0],
    ["target_size 0", header(0, 0), /target_size is 0/, 0],
    ["length past target_size", concat([header(100, 0), zero(60), zero(41)]), /^invalid MBDF delta at record 1 \(target byte 60\), delta byte \d+: a ZERO record of 41 bytes; it must be 1 to the 40 bytes of target left/, 60],
    ["length 0", concat([header(100, 0), zero(0)]), /a ZERO record of 0 bytes/, 0],
    ["length too long for its bytes (a literal that runs into the next record)", concat([header(100, 0), Uint8Array.of(3), v(100), Uint8Array.of(0), v(0), new Uint8Array(60), zero(40)]), /record 0 .*(CRC-32|truncated)/, 0],
    ["length too short (record produces less)", concat([header(100, 0, { sha: sha100 }), zero(50), Uint8Array.of(1), v(49), zeroCrc(50), Uint8Array.of(0)]), /record 1 .*CRC-32/, 50],
    ["unknown kind", concat([header(100, 0), zero(10), Uint8Array.of(8), v(90)]), /^unsupported MBDF delta at record 1 \(target byte 10\).*unknown record kind 8/, 10],
    ["unknown filter", concat([header(100, 0), Uint8Array.of(3), v(100), Uint8Array.of(5), v(0), new Uint8Array(100), u32(0)]), /unknown filter 5/, 0],
    ["filter_start above 2^32", concat([header(100, 0), Uint8Array.of(3), v(100), Uint8Array.of(1), v(2 ** 32), new Uint8Array(100), u32(0)]), /filter_start 4294967296/, 0],
    ["COPY past source_size", concat([header(100, 3000), zero(10), Uint8Array.of(2), v(90), v(2911), u32(0)]), /record 1 .*the copied source range \[2911, \+90\) reaches past the end of the 3000-byte source/, 10, src],
    ["extent past source_size", concat([header(100, 3000), Uint8Array.of(5), v(100), v(1), v(2990), v(20)]), /extent 0 \[2990, \+20\) reaches past/, 0, src],
    ["extents over 16 MiB", concat([header(100, 20 << 20), Uint8Array.of(5), v(100), v(2), v(0), v(9 << 20), v(9 << 20), v(9 << 20)]), /the extents hold more than the 16777216 bytes/, 0, new Uint8Array(20 << 20)],
    ["4097 extents", concat([header(100, 3000), Uint8Array.of(5), v(100), v(4097)]), /extent count is 4097/, 0, src],
    ["APPROX with no extents", concat([header(100, 3000), Uint8Array.of(5), v(100), v(0)]), /the extent count is 0, it must be 1 to 4096/, 0, src],
    ["REDEFLATE of a new file (no extents) declaring an old content", concat([header(100, 3000), Uint8Array.of(6), v(100), v(0), Uint8Array.of(1), v(5)]), /no extents, yet an old content of 5 bytes/, 0, src],
    ["REDEFLATE of a new file (no extents) with an APPROX content", concat([header(100, 3000), Uint8Array.of(6), v(100), v(0), Uint8Array.of(1), v(0), Uint8Array.of(0, 0), v(10), new Uint8Array(10), Uint8Array.of(5), v(50)]), /an APPROX content record without extents: it has no old content to diff against/, 0, src],
    ["APPROX streams that do not add up", concat([header(100, 3000), Uint8Array.of(5), v(100), v(1), v(0), v(100), v(3), v(50), v(49)]), /do not add up to the record's 100 bytes/, 0, src],
    ["END too early", concat([header(100, 0), zero(60), Uint8Array.of(0)]), /record 1 .*END after 60 bytes, the target is 100 bytes/, 60],
    ["missing END", concat([header(100, 0, { sha: sha100 }), zero(100)]), /record 1 .*the delta ends before END/, 100],
    ["a record after the target is complete", concat([header(100, 0, { sha: sha100 }), zero(100), zero(1)]), /a ZERO record after all 100 target bytes \(END expected\)/, 100],
    ["bytes after END", concat([header(100, 0, { sha: sha100 }), zero(100), Uint8Array.of(0, 0)]), /record 1 .*bytes follow END/, 100],
    ["CRC mismatch", concat([header(100, 0), zero(50), Uint8Array.of(1), v(50), u32(crc32(new Uint8Array(50)) ^ 1)]), /record 1 \(target byte 50\).*the record's bytes have CRC-32 [0-9a-f]{8}, the delta declares [0-9a-f]{8}/, 50],
    ["a whole-image SHA-256 that does not match", concat([header(100, 0), zero(100), Uint8Array.of(0)]), /the new image has SHA-256 [0-9a-f]{64}, the delta's header declares 0{64}/, 100],
    ["read set longer than allowed", concat([new Uint8Array(Buffer.from("MBDF")), Uint8Array.of(1, 0), v(100), v(0), new Uint8Array(32), v(65 << 20)]), /a read set of 68157440 bytes/, 0],
    // read_set_length damaged from 0: the bytes it takes (here the first record) are no read set.
    ["read_set_length that swallows a record", concat([header(100, 0).subarray(0, -1), v(6), zero(50), zero(50), Uint8Array.of(0)]), /^invalid MBDF delta at the MBDF header, delta byte \d+: the header's 6-byte read_set is not a read set/, 0],
    ["a damaged read set", concat([header(100, 3000).subarray(0, -1), v(readSet.length), damagedReadSet, zero(100), Uint8Array.of(0)]), /the MBDF header, delta byte \d+: the delta's read set is damaged: byte \d+ is not base64url/, 0, src],
    ["a read set of another source size", concat([header(100, 3000).subarray(0, -1), v(readSetOf(2999).length), readSetOf(2999), zero(100), Uint8Array.of(0)]), /the header's read set describes a 2999-byte source, its source_size is 3000/, 0, src],
    ["a varint longer than 2^53 - 1", concat([header(100, 0).subarray(0, 6), new Uint8Array(10).fill(0xff)]), /target_size is an integer larger than 2\^53 - 1/, 0],
  ];
  for (const [name, delta, message, written, source] of cases) {
    const { err, sink } = await refused(delta, source ?? new Uint8Array(0));
    assert.match(err.message, message, name);
    assert.equal(sink.bytesWritten, written, `${name}: bytes written`);
    // Byte by byte, the same verdict.
    const byBytes = await refused(delta, source ?? new Uint8Array(0), 1);
    assert.equal(byBytes.err.message, err.message, name);
  }
});

test("a source shorter than the header's source_size, or a copy that differs, is a source mismatch (exit 3)", async () => {
  const { delta, source } = smallDelta();
  const short = await refused(delta, source.subarray(0, 2000));
  assert.ok(short.err instanceof SourceMismatchError);
  assert.match(short.err.message, /the source has 2000 bytes, the delta was made from a 3000-byte image/);
  assert.equal(short.sink.bytesWritten, 0);
  const changed = source.slice();
  changed[150] = changed[150]! ^ 1;
  const wrong = await refused(delta, changed);
  assert.ok(wrong.err instanceof SourceMismatchError);
  assert.match(wrong.err.message, /^the record's bytes have CRC-32 \w+, the delta declares \w+ at record 1 \(target byte 40\)/);
  assert.equal(wrong.sink.bytesWritten, 40);
});

test("REDEFLATE: an old file that inflates to more than declared is refused without holding more", async () => {
  const content = new Uint8Array(1 << 20).fill(65);
  const oldFile = new Uint8Array(zlib.gzipSync(content));
  const target = new Uint8Array(200);
  const body = concat([
    Uint8Array.of(6), v(200), v(1), v(0), v(oldFile.length), Uint8Array.of(1), v(1000), Uint8Array.of(0, 0), v(10), new Uint8Array(10),
    Uint8Array.of(3), v(5), Uint8Array.of(0), v(0), new Uint8Array(5), u32(crc32(new Uint8Array(5))), u32(0),
  ]);
  const delta = concat([header(200, oldFile.length, { sha: new Uint8Array(Buffer.from(sha256(target), "hex")) }), body]);
  // A LITERAL content does not need the old file; an APPROX one does: make it APPROX.
  const approx = concat([
    header(200, oldFile.length), Uint8Array.of(6), v(200), v(1), v(0), v(oldFile.length), Uint8Array.of(1), v(1000), Uint8Array.of(0, 0), v(10), new Uint8Array(10),
    Uint8Array.of(5), v(5), v(3), v(5), v(0), Uint8Array.of(5, 0, 0), new Uint8Array(5), u32(0), u32(0),
  ]);
  const { err } = await refused(approx, oldFile);
  assert.match(err.message, /the old compressed file does not inflate to its declared content: it inflates to more than 1000 bytes/);
  // The stored compressor's output is not 200 bytes here: the record's length is the re-compressed file's.
  const sized = await refused(delta, oldFile);
  assert.match(sized.err.message, /the re-compressed file is 28 bytes, the record declares 200/);
});

/** One mutation of `delta`: a flipped bit, a random byte, a cut, a deletion, an insertion or a repeat. */
function mutate(delta: Uint8Array, rng: Rng): Uint8Array {
  const at = rng.below(delta.length);
  switch (rng.below(6)) {
    case 0: {
      const d = Uint8Array.from(delta);
      d[at] = d[at]! ^ (1 << rng.below(8));
      return d;
    }
    case 1: {
      const d = Uint8Array.from(delta);
      d[at] = rng.below(256);
      return d;
    }
    case 2:
      return delta.subarray(0, at);
    case 3:
      return concat([delta.subarray(0, at), delta.subarray(Math.min(delta.length, at + 1 + rng.below(16)))]);
    case 4:
      return concat([delta.subarray(0, at), rng.bytes(1 + rng.below(16)), delta.subarray(at)]);
    default:
      return concat([delta.subarray(0, at), delta.subarray(at, at + 1 + rng.below(32)), delta.subarray(at)]);
  }
}

test("fuzz: 3000 seeded mutations either make the exact target or are refused with a MenderDeltaError, never past target_size", async () => {
  const { delta, source, target } = smallDelta();
  // A second delta with the REDEFLATE record's fields to mutate.
  const content = new Uint8Array(Buffer.from("a changelog line\n".repeat(40)));
  const oldFile = new Uint8Array(zlib.gzipSync(content));
  const trailer = concat([u32(crc32(content)), u32(content.length)]);
  const gz = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3);
  const newFile = concat([gz, storedDeflate(content), trailer]);
  const w = new MbdfWriter({ targetSize: newFile.length, sourceSize: oldFile.length, targetSha256: sha256(newFile) });
  w.redeflate({ extents: [{ sourceOffset: 0, length: oldFile.length }], oldFormat: 1, oldContentLength: content.length, compressor: 0, level: 0, header: gz, content: { kind: "literal" }, newContent: content }, newFile);
  w.end();
  // A third with a new file's REDEFLATE record (no extents: its content stored, its old buffer none).
  const fresh = new MbdfWriter({ targetSize: newFile.length, sourceSize: oldFile.length, targetSha256: sha256(newFile) });
  fresh.redeflate({ extents: [], oldFormat: 1, oldContentLength: 0, compressor: 0, level: 0, header: gz, content: { kind: "literal" }, newContent: content }, newFile);
  fresh.end();
  const inputs = [
    { delta, source, target },
    { delta: w.bytes(), source: oldFile, target: newFile },
    { delta: fresh.bytes(), source: new Uint8Array(oldFile.length), target: newFile },
  ];
  for (const input of inputs) {
    const sink = new RecordingSink();
    await decodeMbdf(inChunks(input.delta, 7), new MemorySource(input.source), sink, {});
    assert.ok(Buffer.from(sink.bytes()).equals(Buffer.from(input.target)), "the unmutated delta makes its target");
  }
  const rng = new Rng(2026);
  const started = Date.now();
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const input = inputs[i % inputs.length]!;
    let bad = mutate(input.delta, rng);
    if (rng.below(4) === 0) bad = mutate(bad, rng);
    const sink = new RecordingSink();
    try {
      await decodeMbdf(inChunks(bad, 1 + rng.below(64)), new MemorySource(input.source), sink, {});
      assert.ok(Buffer.from(sink.bytes()).equals(Buffer.from(input.target)), `mutation ${i} was accepted with other bytes`);
      accepted++;
    } catch (err) {
      if (!(err instanceof MenderDeltaError)) throw new Error(`mutation ${i}: ${String(err)}`, { cause: err });
    }
    assert.ok(sink.bytesWritten <= input.target.length, `mutation ${i} wrote ${sink.bytesWritten} bytes`);
    assert.ok(Buffer.from(sink.bytes()).equals(Buffer.from(input.target.subarray(0, sink.bytesWritten))), `mutation ${i} wrote other bytes`);
  }
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  // Some mutations (a repeat inside literal bytes cut back by the CRC, ...) are refused; almost none pass.
  assert.ok(accepted < 30, `${accepted} mutations accepted`);
});

test("a record built whole in memory (a 2 MiB APPROX) is held until its CRC matched: a mismatch writes none of it", async () => {
  const rng = new Rng(4);
  const source = rng.bytes(2 << 20);
  // One stretch of differences over the whole old buffer: zero differences, so the new file is the old one.
  const neu = source.slice();
  const target = concat([new Uint8Array(1000), neu]);
  const w = new MbdfWriter({ targetSize: target.length, sourceSize: source.length, targetSha256: sha256(target) });
  w.zero(1000);
  w.approx([{ sourceOffset: 0, length: source.length }], { control: concat([v(neu.length), v(0), v(0)]), differences: new Uint8Array(neu.length), literals: new Uint8Array(0) }, neu);
  w.end();
  const bad = w.bytes().slice();
  bad[bad.length - 2] = bad[bad.length - 2]! ^ 1; // the APPROX record's crc32, just before END
  const { err, sink } = await refused(bad, source);
  assert.match(err.message, /CRC-32 .* at record 1 \(target byte 1000\)/);
  assert.equal(sink.bytesWritten, 1000);
});

test("a delta that makes the decoder read far more source than it writes is refused (the read budget)", async () => {
  const source = new Uint8Array(16 << 20).fill(3);
  // One-byte APPROX records, each over the whole 16 MiB source: 16 MiB read per byte written.
  const record = concat([Uint8Array.of(5), v(1), v(1), v(0), v(16 << 20), v(3), v(1), v(0), Uint8Array.of(1, 0, 0), Uint8Array.of(0), u32(crc32(Uint8Array.of(3)))]);
  const delta = concat([header(40, source.length), ...Array.from({ length: 40 }, () => record), Uint8Array.of(0)]);
  const { err, sink } = await refused(delta, source);
  assert.match(err.message, /^invalid MBDF delta at record 1[56] .*the delta has read \d+ bytes of the source by this record, more than 16 bytes per target byte plus 268435456/);
  assert.ok(sink.bytesWritten >= 15 && sink.bytesWritten <= 16, `${sink.bytesWritten} written`);
});
