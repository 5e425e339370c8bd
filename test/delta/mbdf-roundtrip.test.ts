/**
 * MBDF round trips: every record kind through MbdfWriter -> decodeMbdf, on generated data and on
 * real machine code (the branch filters on x86-64, AArch64 and ARM libc, an approximate diff of a
 * patched shared library), and the same result whatever the delta's chunking.
 */
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import zlib from "node:zlib";
import { storedDeflate } from "../../src/delta/mbdf/compressors";
import { Compressor, OldFormat } from "../../src/delta/mbdf/format";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { crc32 } from "../../src/compress/crc32";
import { needTools, REQUIRE_PEERS } from "../helpers/peers";
import { makeImage, mutateImage, scratchDir, xdelta3Encode } from "../vcdiff/helpers";
import { decodeMbdf } from "../../src/delta/mbdf/decode";
import { concat, decode, inChunks, MemorySource, RecordingSink, Rng, sha256 } from "./mbdf-helpers";

const X86_LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6";
const ARM64_LIBC = "/usr/aarch64-linux-gnu/lib/libc.so.6";
const ARMHF_LIBC = "/usr/arm-linux-gnueabihf/lib/libc.so.6";

function readPeerFile(file: string): Uint8Array {
  if (!fs.existsSync(file)) {
    // scripts/install-deps.sh's test profile installs them (libc6-arm64-cross, libc6-armhf-cross).
    if (REQUIRE_PEERS) throw new Error(`${file} is missing; REQUIRE_PEERS=1 forbids skipping`);
    return new Uint8Array(0);
  }
  return new Uint8Array(fs.readFileSync(file));
}

/** Code from the middle of a library (its .text), `size` bytes. */
function codeOf(file: string, size: number): Uint8Array {
  const all = readPeerFile(file);
  const start = Math.min(Math.floor(all.length / 4), Math.max(0, all.length - size));
  return all.slice(start, start + size);
}

/** A delta with ZERO, COPY, LITERAL (`literalSize` bytes), VCDIFF and APPROX records, and its target. */
function everyKind(source: Uint8Array, literalSize: number, zeroSize: number): { delta: Uint8Array; target: Uint8Array } {
  const newRegion = mutateImage(source.subarray(100_000, 400_000), 9);
  const rng = new Rng(3);
  const changedFile = source.slice(450_000, 520_000);
  for (let i = 0; i < changedFile.length; i += 97) changedFile[i] = changedFile[i]! + 1;
  const pieces = [
    new Uint8Array(zeroSize), // ZERO
    source.slice(10_000, 90_000), // COPY
    rng.bytes(literalSize), // LITERAL (above 1 MiB: streamed in chunks)
    newRegion, // VCDIFF
    changedFile, // APPROX over two extents
  ];
  const target = concat(pieces);
  const vcdiff = xdelta3Encode(scratchDir("mbdf-rt"), source, newRegion, ["-W", "65536"]);
  const w = new MbdfWriter({ targetSize: target.length, sourceSize: source.length, targetSha256: sha256(target) });
  w.zero(pieces[0]!.length);
  w.copy(10_000, pieces[1]!);
  w.literal(pieces[2]!);
  w.vcdiff(vcdiff, newRegion);
  w.approx(
    [{ sourceOffset: 450_000, length: 30_000 }, { sourceOffset: 480_000, length: 40_000 }],
    approximateDiff(source.subarray(450_000, 520_000), changedFile),
    changedFile,
  );
  w.end();
  return { delta: w.bytes(), target };
}

test("ZERO, COPY, LITERAL, VCDIFF and APPROX records make the target, in order, in one pass", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const source = makeImage(5, 600_000);
  // Records longer than the 1 MiB chunk (ZERO over several chunks, a streamed LITERAL).
  const big = everyKind(source, 2_500_000, 3 << 20);
  const { target: out, result } = await decode(big.delta, source);
  assert.equal(result.targetBytes, big.target.length);
  assert.equal(result.records, 5);
  assert.ok(result.sourceBytesRead >= 80_000 + 70_000, `read ${result.sourceBytesRead}`);
  assert.ok(Buffer.from(out).equals(Buffer.from(big.target)));
  const odd = await decode(big.delta, source, 65_537);
  assert.ok(Buffer.from(odd.target).equals(Buffer.from(big.target)));
  assert.deepEqual(odd.result, result);
  // A smaller one fed 1 byte at a time makes the same bytes as fed whole.
  const small = everyKind(source, 3000, 5000);
  const whole = await decode(small.delta, source);
  const bytes = await decode(small.delta, source, 1);
  assert.ok(Buffer.from(whole.target).equals(Buffer.from(small.target)));
  assert.ok(Buffer.from(bytes.target).equals(Buffer.from(small.target)));
  assert.deepEqual(bytes.result, whole.result);
});

test("LITERAL with each branch filter on real x86-64, AArch64 and ARM code: stored filtered, decoded back", async () => {
  const cases: [string, "x86" | "arm64" | "arm" | "armthumb"][] = [
    [X86_LIBC, "x86"],
    [ARM64_LIBC, "arm64"],
    [ARMHF_LIBC, "arm"],
    [ARMHF_LIBC, "armthumb"],
  ];
  for (const [file, arch] of cases) {
    const code = codeOf(file, 300_000);
    if (code.length === 0) continue;
    const w = new MbdfWriter({ targetSize: code.length, sourceSize: 0, targetSha256: sha256(code) });
    w.literal(code, arch, 0x40_0000);
    w.end();
    const delta = w.bytes();
    // The stored bytes are the filter's encoded form: the filter changed some of them.
    const stored = delta.subarray(delta.length - 1 - 4 - code.length, delta.length - 5);
    assert.equal(stored.length, code.length);
    assert.ok(!Buffer.from(stored).equals(Buffer.from(code)), `${arch} filter converted nothing in ${file}`);
    const { target } = await decode(delta, new Uint8Array(0));
    assert.ok(Buffer.from(target).equals(Buffer.from(code)), `${arch} on ${file}`);
    const odd = await decode(delta, new Uint8Array(0), 4099);
    assert.ok(Buffer.from(odd.target).equals(Buffer.from(code)));
  }
});

test("APPROX on a real shared library and a rebuilt-like copy (insertion, scattered edits): small and exact", async () => {
  const old = codeOf(X86_LIBC, 400_000);
  if (old.length === 0) return;
  const rng = new Rng(8);
  const neu = concat([old.subarray(0, 150_000), rng.bytes(200), old.subarray(150_000)]);
  for (let i = 1000; i < neu.length; i += 1009) neu[i] = (neu[i]! + 4) & 0xff;
  const source = concat([rng.bytes(5000), old]);
  const diff = approximateDiff(old, neu);
  assert.ok(diff.literals.length < 5000, `literals ${diff.literals.length}`);
  const w = new MbdfWriter({ targetSize: neu.length, sourceSize: source.length, targetSha256: sha256(neu) });
  w.approx([{ sourceOffset: 5000, length: old.length }], diff, neu);
  w.end();
  const { target, result } = await decode(w.bytes(), source);
  assert.ok(Buffer.from(target).equals(Buffer.from(neu)));
  assert.equal(result.records, 1);
});

test("APPROX between two different AArch64 builds of similar code (libc and libstdc++ from the cross toolchain)", async () => {
  const a = codeOf(ARM64_LIBC, 200_000);
  const b = codeOf("/usr/aarch64-linux-gnu/lib/libstdc++.so.6", 200_000);
  if (a.length === 0 || b.length === 0) return;
  const diff = approximateDiff(a, b);
  const w = new MbdfWriter({ targetSize: b.length, sourceSize: a.length, targetSha256: sha256(b) });
  w.approx([{ sourceOffset: 0, length: a.length }], diff, b);
  w.end();
  const { target } = await decode(w.bytes(), a);
  assert.ok(Buffer.from(target).equals(Buffer.from(b)));
});

/** A gzip member header with no name and mtime 0 (10 bytes). */
const GZIP_HEADER = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3);

test("REDEFLATE with stored blocks: a gzip file's content diffed and re-framed; gunzip reads the result", async () => {
  const rng = new Rng(21);
  const words = "changelog entry security fix for CVE upload urgency medium ".split(" ");
  const text = (n: number) => Buffer.from(Array.from({ length: n }, () => words[rng.below(words.length)]).join(" "));
  const oldContent = new Uint8Array(text(30_000));
  const newContent = concat([new Uint8Array(text(300)), oldContent]);
  const oldFile = new Uint8Array(zlib.gzipSync(oldContent, { level: 9 }));
  const source = concat([rng.bytes(4096), oldFile]);
  for (const content of ["approx", "literal"] as const) {
    const deflated = storedDeflate(newContent);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc32(newContent), 0);
    trailer.writeUInt32LE(newContent.length, 4);
    const newFile = concat([GZIP_HEADER, deflated, trailer]);
    assert.ok(Buffer.from(zlib.gunzipSync(newFile)).equals(Buffer.from(newContent)), "a valid gzip file");
    const target = concat([newFile, new Uint8Array(100)]);
    const w = new MbdfWriter({ targetSize: target.length, sourceSize: source.length, targetSha256: sha256(target) });
    w.redeflate(
      {
        extents: [{ sourceOffset: 4096, length: oldFile.length }],
        oldFormat: OldFormat.gzip,
        oldContentLength: oldContent.length,
        compressor: Compressor.stored,
        level: 0,
        header: GZIP_HEADER,
        content: content === "approx" ? { kind: "approx", diff: approximateDiff(oldContent, newContent) } : { kind: "literal" },
        newContent,
      },
      newFile,
    );
    w.zero(100);
    w.end();
    const { target: out, result } = await decode(w.bytes(), source);
    assert.ok(Buffer.from(out).equals(Buffer.from(target)), content);
    assert.equal(result.records, 2);
    const again = await decode(w.bytes(), source, 13);
    assert.ok(Buffer.from(again.target).equals(Buffer.from(target)));
  }
});

test("REDEFLATE with GNU gzip's and zlib's deflate: files made by gzip -9n and by zlib rebuilt byte for byte from a diff of their contents", async () => {
  const rng = new Rng(22);
  const words = "changelog entry security fix for CVE upload urgency medium ".split(" ");
  const text = (n: number) => Buffer.from(Array.from({ length: n }, () => words[rng.below(words.length)]).join(" "));
  const oldContent = new Uint8Array(text(40_000));
  const newContent = concat([new Uint8Array(text(200)), oldContent.subarray(0, 20_000), new Uint8Array(text(50)), oldContent.subarray(20_000)]);
  // The real GNU gzip makes both files; zlib's are made by the system zlib through python3.
  const gzip9n = (data: Uint8Array) => new Uint8Array(execFileSync("gzip", ["-9n"], { input: data }));
  const zlib6 = (data: Uint8Array) =>
    new Uint8Array(execFileSync("python3", ["-c", "import sys,zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read(), 6))"], { input: data }));
  const cases = [
    { name: "gzip -9n", make: gzip9n, format: OldFormat.gzip, compressor: Compressor.gnuGzip, level: 9, headerLength: 10, trailerLength: 8 },
    { name: "zlib level 6", make: zlib6, format: OldFormat.zlib, compressor: Compressor.zlib, level: 6, headerLength: 2, trailerLength: 4 },
  ];
  for (const c of cases) {
    const oldFile = c.make(oldContent);
    const newFile = c.make(newContent);
    const source = concat([rng.bytes(4096), oldFile]);
    const target = concat([new Uint8Array(7), newFile]);
    const w = new MbdfWriter({ targetSize: target.length, sourceSize: source.length, targetSha256: sha256(target) });
    w.zero(7);
    w.redeflate(
      {
        extents: [{ sourceOffset: 4096, length: oldFile.length }], oldFormat: c.format, oldContentLength: oldContent.length,
        compressor: c.compressor, level: c.level, header: newFile.subarray(0, c.headerLength),
        content: { kind: "approx", diff: approximateDiff(oldContent, newContent) }, newContent,
      },
      newFile,
    );
    w.end();
    const delta = w.bytes();
    // Stored as the Artifact stores it (xz): the record costs far less than the compressed file.
    const packed = execFileSync("xz", ["-9", "-c"], { input: delta }).length;
    assert.ok(packed < newFile.length / 4, `${c.name}: the record (${packed} bytes after xz) costs far less than the file (${newFile.length})`);
    const { target: out } = await decode(delta, source);
    assert.ok(Buffer.from(out).equals(Buffer.from(target)), c.name);
  }
});

test("REDEFLATE naming an unknown compressor is refused before anything of it is written", async () => {
  const content = new Uint8Array(Buffer.from("a line of text\n".repeat(200)));
  const oldFile = new Uint8Array(zlib.deflateSync(content));
  const newFile = concat([Uint8Array.of(0x78, 0xda), new Uint8Array(zlib.deflateRawSync(content, { level: 9 })), new Uint8Array(4)]);
  const target = concat([new Uint8Array(10), newFile]);
  const w = new MbdfWriter({ targetSize: target.length, sourceSize: oldFile.length, targetSha256: sha256(target) });
  w.zero(10);
  w.redeflate(
    {
      extents: [{ sourceOffset: 0, length: oldFile.length }], oldFormat: OldFormat.zlib, oldContentLength: content.length,
      compressor: Compressor.stored, level: 0, header: Uint8Array.of(0x78, 0xda), content: { kind: "literal" }, newContent: content,
    },
    newFile,
  );
  w.end();
  const bytes = w.bytes();
  // The compressor byte follows the old content length: patch stored (0) to an id no version defines.
  const at = findCompressorByte(bytes, content.length);
  bytes[at] = 9;
  const sink = new RecordingSink();
  await assert.rejects(decodeMbdf(inChunks(bytes, 1 << 20), new MemorySource(oldFile), sink, {}), {
    message: /^unsupported MBDF delta at record 1 \(target byte 10\), delta byte \d+: unknown compressor 9/,
  });
  assert.equal(sink.bytesWritten, 10, "only the ZERO record before it");
});

/** Offset of a REDEFLATE record's compressor byte: after old_format and the old content length's varint. */
function findCompressorByte(delta: Uint8Array, oldContentLength: number): number {
  const varint: number[] = [];
  for (let v = oldContentLength, first = true; first || v > 0; first = false, v = Math.floor(v / 128)) varint.unshift(v % 128);
  for (let k = 0; k < varint.length - 1; k++) varint[k]! |= 0x80;
  const needle = Buffer.from([OldFormat.zlib, ...varint, Compressor.stored, 0]);
  const at = Buffer.from(delta).indexOf(needle);
  assert.ok(at > 0, "the record's old_format, length, compressor and level are in the delta");
  return at + 1 + varint.length;
}

test("MbdfWriter holds the planner to the format: lengths, source ranges, extents, filtered literal and END", () => {
  const w = new MbdfWriter({ targetSize: 100, sourceSize: 50, targetSha256: "00".repeat(32) });
  assert.throws(() => w.zero(0), /length is 1 to the 100 bytes of target left, got 0/);
  assert.throws(() => w.zero(101), /got 101/);
  assert.throws(() => w.copy(40, new Uint8Array(11)), /source range \[40, \+11\) is not inside the 50-byte source/);
  assert.throws(() => w.approx([], { control: new Uint8Array(0), differences: new Uint8Array(0), literals: new Uint8Array(1) }, new Uint8Array(1)), /1 to 4096 extents, got 0/);
  assert.throws(() => w.approx([{ sourceOffset: 0, length: 10 }], { control: new Uint8Array(0), differences: new Uint8Array(1), literals: new Uint8Array(1) }, new Uint8Array(1)), /the diff's streams make 2 bytes, the record 1/);
  assert.throws(() => w.literal(new Uint8Array(4), "arm", 2 ** 32), /filter_start must be 0 to 2\^32 - 1/);
  assert.throws(() => w.end(), /END after 0 bytes, the target is 100/);
  assert.throws(() => new MbdfWriter({ targetSize: 1, sourceSize: 0, targetSha256: "xyz" }), /targetSha256 must be 32 bytes/);
  w.zero(100);
  assert.throws(() => w.bytes(), /bytes\(\) before end\(\)/);
  w.end();
  assert.throws(() => w.zero(1), /a record after END/);
  assert.equal(w.records, 1);
  // magic, version 1, flags 0, target_size 100, source_size 50, sha, no read set, ZERO 100 + crc, END
  assert.equal(Buffer.from(w.bytes().subarray(0, 8)).toString("hex"), "4d42444601006432");
  assert.equal(w.bytes().length, 8 + 32 + 1 + 1 + 1 + 4 + 1);
});
