/**
 * Malformed input always ends in an XzError (a MenderDeltaError) with an actionable message:
 * never a hang, never a TypeError/RangeError, never output beyond what the data declares.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { pipeline } from "node:stream/promises";
import { Readable, Writable } from "node:stream";
import { needTools } from "../helpers/peers.js";
import { MenderDeltaError } from "../../src/errors.js";
import { XzDecoder, XzError, createXzDecompressStream, type XzErrorKind } from "../../src/compress/xz.js";
import { crc32 } from "../../src/compress/crc32.js";
import { decodeChunked, decodeWhole, mixedData, rng, xz } from "./xz-fixtures.js";

const DATA = mixedData(6000, 41);

/** Decodes, returning what was produced before the error (or all of it) and the error. */
function attempt(file: Uint8Array, options?: { maxDictionarySize?: number }): { out: Buffer; error: unknown } {
  const d = new XzDecoder(options);
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  try {
    d.push(file);
    for (;;) {
      const n = d.readInto(buf, 0, buf.length);
      if (n === 0) break;
      parts.push(Buffer.from(buf.subarray(0, n)));
    }
    d.end();
    return { out: Buffer.concat(parts), error: null };
  } catch (error) {
    return { out: Buffer.concat(parts), error };
  }
}

function assertXzError(error: unknown, kind: XzErrorKind | XzErrorKind[], what: string): XzError {
  assert.ok(error instanceof XzError, `${what}: expected an XzError, got ${error instanceof Error ? error.stack : String(error)}`);
  assert.ok(error instanceof MenderDeltaError);
  const kinds = Array.isArray(kind) ? kind : [kind];
  assert.ok(kinds.includes(error.kind), `${what}: kind ${error.kind} not in ${kinds.join(",")}: ${error.message}`);
  assert.match(error.message, /xz|LZMA/, `${what}: message names the format`);
  return error;
}

function assertPrefix(out: Buffer, expected: Uint8Array, what: string): void {
  assert.ok(out.length <= expected.length, `${what}: ${out.length} bytes out, more than the ${expected.length} the data holds`);
  assert.ok(out.equals(Buffer.from(expected.subarray(0, out.length))), `${what}: output is not a prefix of the original`);
}

test("truncation at every byte offset is reported as truncated, output is a correct prefix", (t) => {
  if (!needTools(t, "xz")) return;
  const first = xz(["-T2", "--block-size=2500", "-6", "--check=crc64"], DATA);
  const file = Buffer.concat([first, xz(["-0", "--check=crc32"], DATA.subarray(0, 900))]);
  const expected = Buffer.concat([DATA, DATA.subarray(0, 900)]);
  for (let cut = 0; cut < file.length; cut++) {
    if (cut === first.length) continue; // a complete first stream is a valid file
    const { out, error } = attempt(file.subarray(0, cut));
    const e = assertXzError(error, "truncated", `cut at ${cut}`);
    if (cut > 0) assert.match(e.message, /ends early.*inside .* after \d+ compressed bytes/, `cut at ${cut}: ${e.message}`);
    assertPrefix(out, expected, `cut at ${cut}`);
  }
  assert.ok(attempt(file).out.equals(expected));
});

test("random byte flips (fixed seeds) end in an XzError or decode to the original", (t) => {
  if (!needTools(t, "xz")) return;
  const files = [
    xz(["-6", "--check=crc64"], DATA),
    xz(["-T2", "--block-size=2000", "-1", "--check=crc32"], DATA),
    xz(["-0", "--check=none"], DATA),
    xz(["-9", "--check=sha256"], DATA),
  ];
  let detected = 0;
  let trials = 0;
  for (let f = 0; f < files.length; f++) {
    const r = rng(100 + f);
    for (let k = 0; k < 150; k++) {
      const bad = Buffer.from(files[f]!);
      const flips = 1 + Math.floor(r() * 3);
      for (let j = 0; j < flips; j++) bad[Math.floor(r() * bad.length)]! ^= 1 + Math.floor(r() * 255);
      const { out, error } = attempt(bad);
      trials++;
      if (error === null) {
        if (f !== 2) assert.ok(out.equals(Buffer.from(DATA)), `file ${f} trial ${k}: undetected corruption`);
        continue;
      }
      detected++;
      assertXzError(error, ["corrupt", "check", "truncated", "unsupported", "limit"], `file ${f} trial ${k}`);
      // Without a check nothing can catch every flip in LZMA data, but never more output than declared.
      if (f !== 2) assert.ok(out.length <= DATA.length);
    }
  }
  assert.ok(detected > trials * 0.9, `${detected} of ${trials} corruptions detected`);
});

test("BCJ and delta filters are refused by name", (t) => {
  if (!needTools(t, "xz")) return;
  for (const [args, name] of [
    [["--x86", "--lzma2"], "x86 BCJ"],
    [["--arm", "--lzma2"], "ARM BCJ"],
    [["--delta=dist=4", "--lzma2"], "delta"],
  ] as const) {
    const { error, out } = attempt(xz([...args], DATA));
    const e = assertXzError(error, "unsupported", args.join(" "));
    assert.ok(e.message.includes(`the ${name} filter`), e.message);
    assert.match(e.message, /recompress/);
    assert.equal(out.length, 0);
  }
});

test("a dictionary above the limit is refused before any allocation", (t) => {
  if (!needTools(t, "xz")) return;
  const file = xz(["-9"], DATA); // declares a 64 MiB dictionary
  const e = assertXzError(attempt(file, { maxDictionarySize: 8 << 20 }).error, "limit", "xz -9, 8 MiB limit");
  assert.ok(e.message.includes("64MiB") && e.message.includes("8MiB"), e.message);
  assert.equal(attempt(file).error, null, "the default limit (64 MiB) accepts xz -9");
  assert.equal(attempt(xz(["--lzma2=dict=8MiB"], DATA), { maxDictionarySize: 8 << 20 }).error, null, "exactly at the limit");
});

test("bad magic, wrong file types, trailing garbage, empty input", (t) => {
  if (!needTools(t, "xz")) return;
  const good = xz(["-1"], DATA);
  const cases: Array<[string, Uint8Array, XzErrorKind, RegExp]> = [
    ["a gzip file", Buffer.from("1f8b0800000000000003", "hex"), "corrupt", /not an xz file/],
    ["plain text", Buffer.from("hello world, not compressed at all"), "corrupt", /not an xz file/],
    ["empty input", new Uint8Array(0), "truncated", /empty/],
    ["trailing garbage", Buffer.concat([good, Buffer.from("JUNKJUNK")]), "corrupt", /after the last xz stream/],
    ["padding not a multiple of 4", Buffer.concat([good, new Uint8Array(3)]), "corrupt", /multiple of 4/],
    ["lzma-alone (.lzma) file", xz(["--format=lzma"], DATA), "corrupt", /not an xz file/],
  ];
  for (const [what, file, kind, message] of cases) {
    const e = assertXzError(attempt(file).error, kind, what);
    assert.match(e.message, message, `${what}: ${e.message}`);
  }
});

test("check mismatches name the check and the block", (t) => {
  if (!needTools(t, "xz")) return;
  for (const [check, size, name] of [["crc32", 4, "CRC32"], ["crc64", 8, "CRC64"], ["sha256", 32, "SHA-256"]] as const) {
    const file = Buffer.from(xz(["-3", `--check=${check}`], DATA));
    // The block check sits right before the index: index (8+4 rounded) + footer (12) from the end.
    const indexAndFooter = 12 + 12;
    file[file.length - indexAndFooter - size]! ^= 0x40;
    const e = assertXzError(attempt(file).error, "check", check);
    assert.ok(e.message.includes(`${name} check of block 1`), e.message);
  }
});

test("corrupt LZMA data and headers: every structure is checked", (t) => {
  if (!needTools(t, "xz")) return;
  const file = xz(["-T2", "--block-size=3000", "-6", "--check=none"], DATA);
  const mutate = (at: number, value: number) => {
    const b = Buffer.from(file);
    b[at] = value;
    return b;
  };
  // Stream header flags CRC, block header CRC, first LZMA2 control byte, index, footer magic.
  const blockHeaderSize = (file[12]! + 1) * 4;
  const cases: Array<[string, Buffer, RegExp]> = [
    ["stream flags", mutate(7, 0x01), /stream header .* CRC32/],
    ["block header", mutate(14, file[14]! ^ 0x10), /block 1 .* header fails its CRC32/],
    ["invalid LZMA2 control", mutate(12 + blockHeaderSize, 0x05), /invalid LZMA2 control byte 0x05/],
    ["LZMA2 without dictionary reset", mutate(12 + blockHeaderSize, 0x80 | (file[12 + blockHeaderSize]! & 0x1f)), /does not reset the dictionary/],
    ["footer magic", mutate(file.length - 1, 0x00), /footer .* bad magic/],
    ["index CRC", mutate(file.length - 13, file[file.length - 13]! ^ 1), /index .* CRC32/],
  ];
  for (const [what, bad, message] of cases) {
    const e = assertXzError(attempt(bad).error, ["corrupt"], what);
    assert.match(e.message, message, `${what}: ${e.message}`);
  }
});

test("an error is sticky, chunked decoding fails the same way, and the Transform rejects", async (t) => {
  if (!needTools(t, "xz")) return;
  const file = xz(["-6", "--check=crc64"], DATA);
  const cut = file.subarray(0, file.length - 30);
  assert.throws(() => decodeChunked(cut, () => 1, () => 7), { name: "XzError" });
  const d = new XzDecoder();
  d.push(Buffer.from("not xz data at all"));
  assert.throws(() => d.readInto(new Uint8Array(10), 0, 10), XzError);
  assert.throws(() => d.readInto(new Uint8Array(10), 0, 10), XzError, "stays failed");
  await assert.rejects(
    pipeline(Readable.from([cut]), createXzDecompressStream(), new Writable({ write: (_c, _e, cb) => cb() })),
    (e: unknown) => e instanceof XzError && e.kind === "truncated",
  );
  assert.ok(decodeWhole(file).equals(Buffer.from(DATA)));
});

test("end() before all output was read says so instead of claiming truncation", (t) => {
  if (!needTools(t, "xz")) return;
  const d = new XzDecoder();
  d.push(xz(["-6"], DATA));
  assert.equal(d.readInto(new Uint8Array(100), 0, 100), 100);
  assert.ok(d.pendingInput > 0);
  assert.throws(() => d.end(), (e: unknown) => e instanceof XzError && e.kind === "corrupt" && /holds more than was read/.test(e.message));
});

test("check types other than none/CRC32/CRC64/SHA-256 and unknown stream flags are refused", (t) => {
  if (!needTools(t, "xz")) return;
  const withFlags = (flags: number, check = "none") => {
    const file = Buffer.from(xz(["-1", `--check=${check}`], DATA));
    file[6] = flags >> 8;
    file[7] = flags & 0xff;
    file.writeUInt32LE(crc32(file, 0, 6, 8), 8);
    return file;
  };
  let e = assertXzError(attempt(withFlags(0x0002)).error, "unsupported", "check type 2");
  assert.match(e.message, /integrity check type 2.*--check=crc64/);
  e = assertXzError(attempt(withFlags(0x0100)).error, "unsupported", "stream flags");
  assert.match(e.message, /stream flags/);
  // A CRC32 file relabelled "no check": the CRC bytes no longer fit anywhere.
  assertXzError(attempt(withFlags(0x0000, "crc32")).error, ["corrupt", "truncated"], "check type changed");
});
