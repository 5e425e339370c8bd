/**
 * crc32: the portable table loop gives the standard check value and zlib's CRC32; the runtime's
 * zlib.crc32 (used for long spans where the runtime has it) gives the same over any span and
 * when continued. crc32OfZeros: a zero run's CRC32 by length, also when remembered.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import zlib from "node:zlib";
import { crc32, crc32OfZeros, crc32Table } from "../../src/compress/crc32";

test("crc32OfZeros matches zlib's CRC32 of zero buffers, first and second time asked", () => {
  for (const length of [0, 1, 7, 8, 65535, 65536, 65537, 1 << 20, (8 << 20) + 3]) {
    const expected = zlib.crc32(Buffer.alloc(length));
    assert.equal(crc32OfZeros(length), expected, `${length} zeros`);
    assert.equal(crc32OfZeros(length), expected, `${length} zeros, remembered`);
    assert.equal(crc32(new Uint8Array(length)), expected);
  }
});

test("the table CRC32 gives the standard check value and zlib's result on every length around its 8-byte loop", () => {
  assert.equal(crc32Table(Buffer.from("123456789")), 0xcbf43926);
  assert.equal(crc32(Buffer.from("123456789")), 0xcbf43926);
  const data = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 13);
  for (let length = 0; length < 40; length++) assert.equal(crc32Table(data.subarray(0, length)), zlib.crc32(data.subarray(0, length)), `${length} bytes`);
});

test("crc32 over spans and continued equals the table CRC32, below and above the native threshold", () => {
  const data = new Uint8Array(70000).map((_, i) => (i * 40503) >>> 7);
  for (const [start, end] of [[0, 255], [0, 256], [3, 4000], [1, 70000], [60000, 60300], [500, 500]] as const) {
    assert.equal(crc32(data, 0, start, end), crc32Table(data, 0, start, end), `[${start}, ${end})`);
    const half = (start + end) >>> 1;
    assert.equal(crc32(data, crc32(data, 0, start, half), half, end), crc32Table(data, 0, start, end), `[${start}, ${end}) in two calls`);
  }
});
