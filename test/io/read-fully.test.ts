/**
 * The shared I/O helpers of src/io/: readFullyAt (count at end of file, `enough`, the offset of a
 * failed read), openForReading's message and deviceOrFileSize of a regular file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MenderDeltaError } from "../../src/errors";
import { deviceOrFileSize } from "../../src/io/file-size";
import { openForReading } from "../../src/io/open-for-reading";
import { failedReadAt, readFullyAt } from "../../src/io/read-fully";

function scratchFile(t: { after(fn: () => void): void }, bytes: Uint8Array): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "read-fully-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "data");
  fs.writeFileSync(file, bytes);
  return file;
}

const DATA = Uint8Array.from({ length: 10000 }, (_, i) => (i * 7) & 0xff);

test("readFullyAt fills the buffer from the position, and stops short only at the end of the file", (t) => {
  const fd = fs.openSync(scratchFile(t, DATA), "r");
  t.after(() => fs.closeSync(fd));
  const into = new Uint8Array(4000);
  assert.equal(readFullyAt(fd, into, 1234), 4000);
  assert.deepEqual(into, DATA.subarray(1234, 5234));
  const tail = new Uint8Array(4000).fill(0xee);
  assert.equal(readFullyAt(fd, tail, 8000), 2000);
  assert.deepEqual(tail.subarray(0, 2000), DATA.subarray(8000));
  assert.ok(tail.subarray(2000).every((b) => b === 0xee), "nothing written past the end of the file");
  assert.equal(readFullyAt(fd, tail, 20000), 0);
});

test("readFullyAt with `enough` stops once that many bytes are in", (t) => {
  const fd = fs.openSync(scratchFile(t, DATA), "r");
  t.after(() => fs.closeSync(fd));
  // A regular file answers the whole request in one read: all 4096 bytes arrive although 100 were enough.
  assert.equal(readFullyAt(fd, new Uint8Array(4096), 0, 100), 4096);
  assert.equal(readFullyAt(fd, new Uint8Array(4096), 0, 0), 0, "nothing asked, nothing read");
});

test("a failed read is rethrown unchanged, with its offset from failedReadAt", () => {
  const fd = fs.openSync(os.tmpdir(), "r"); // a directory: read(2) fails with EISDIR
  try {
    let caught: unknown;
    try {
      readFullyAt(fd, new Uint8Array(16), 4096);
    } catch (err) {
      caught = err;
    }
    assert.equal((caught as NodeJS.ErrnoException).code, "EISDIR");
    assert.equal(failedReadAt(caught), 4096);
    assert.equal(failedReadAt(new Error("other")), undefined);
  } finally {
    fs.closeSync(fd);
  }
});

test("openForReading names the input and the reason; deviceOrFileSize of a file is its length", (t) => {
  const file = scratchFile(t, DATA);
  assert.equal(deviceOrFileSize(file), DATA.length);
  fs.closeSync(openForReading(file, "source (old image)"));
  const absent = path.join(path.dirname(file), "absent");
  assert.throws(() => openForReading(absent, "target (new image)"), (err: unknown) =>
    err instanceof MenderDeltaError
      && err.message === `cannot open the target (new image) ${absent}: ENOENT; check the path and its permissions`);
});
