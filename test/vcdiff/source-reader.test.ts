/**
 * SourceReader, the decoders' reader of the source: arbitrary ranges read as page-aligned runs of at
 * most one block into one buffer, the last run reused, under the read budget.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SOURCE_PAGE } from "../../src/io/interfaces";
import { ReadBudgetExceeded, SourceReader, SourceTooShort } from "../../src/vcdiff/decoder/source-reader";
import { MemorySource, RecordingMemorySource } from "./helpers";

const data = Uint8Array.from({ length: 200_003 }, (_, i) => (i * 131 + (i >>> 10)) & 0xff);

function read(reader: SourceReader, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  reader.copy(out, 0, position, length);
  return out;
}

test("ranges are read as the pages they cover, at most a block at a time, the last run reused", () => {
  const source = new RecordingMemorySource(data, 16384);
  const reader = new SourceReader(source);
  assert.deepEqual(read(reader, 5000, 10), data.subarray(5000, 5010));
  assert.deepEqual(read(reader, 5010, 3000), data.subarray(5010, 8010)); // inside the run: no read
  assert.deepEqual(read(reader, 8100, 100), data.subarray(8100, 8200)); // the next page: one more
  assert.deepEqual(read(reader, 30_000, 40_000), data.subarray(30_000, 70_000)); // three runs
  assert.deepEqual(read(reader, data.length - 3, 3), data.subarray(data.length - 3)); // the odd end
  assert.deepEqual(source.log, [
    [SOURCE_PAGE, SOURCE_PAGE], // 5000..5010: its page
    [2 * SOURCE_PAGE, SOURCE_PAGE], // 8100..8200: the rest of its first page was in the run
    [7 * SOURCE_PAGE, 16384], // 30,000..70,000: a block, a block, then the last pages
    [11 * SOURCE_PAGE, 16384],
    [15 * SOURCE_PAGE, 3 * SOURCE_PAGE],
    [48 * SOURCE_PAGE, data.length - 48 * SOURCE_PAGE], // the source's last bytes
  ]);
  assert.equal(reader.bytesRead, source.log.reduce((sum, [offset, want]) => sum + Math.min(want, data.length - offset), 0));
});

test("past the source's end, and past the read budget, nothing is copied", () => {
  const reader = new SourceReader(new MemorySource(data, 65536));
  assert.throws(() => read(reader, data.length - 2, 3), SourceTooShort);
  reader.readAllowance = 4096;
  assert.deepEqual(read(reader, 0, 100), data.subarray(0, 100));
  assert.throws(() => read(reader, 50_000, 100), ReadBudgetExceeded);
  // A source that holds fewer bytes than its size says (a file cut after it was opened).
  const cut = new MemorySource(data.subarray(0, 100_000), 65536);
  Object.defineProperty(cut, "size", { value: data.length });
  assert.throws(() => read(new SourceReader(cut), 150_000, 10), SourceTooShort);
});
