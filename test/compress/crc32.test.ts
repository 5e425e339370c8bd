/** crc32OfZeros: the CRC32 of a zero run by length equals zlib's over a buffer of zeros, also when remembered. */
import assert from "node:assert/strict";
import { test } from "node:test";
import zlib from "node:zlib";
import { crc32, crc32OfZeros } from "../../src/compress/crc32";

test("crc32OfZeros matches zlib's CRC32 of zero buffers, first and second time asked", () => {
  for (const length of [0, 1, 7, 8, 65535, 65536, 65537, 1 << 20, (8 << 20) + 3]) {
    const expected = zlib.crc32(Buffer.alloc(length));
    assert.equal(crc32OfZeros(length), expected, `${length} zeros`);
    assert.equal(crc32OfZeros(length), expected, `${length} zeros, remembered`);
    assert.equal(crc32(new Uint8Array(length)), expected);
  }
});
