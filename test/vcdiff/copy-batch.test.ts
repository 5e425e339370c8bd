/**
 * CopyBatch: a window's source copies done in source order, from page-aligned runs of at most one
 * block. Checked against the copies done one by one, with every read recorded: aligned, within a
 * block, each page of a batch read at most once unless a long copy's later part came first, and far
 * fewer bytes than whole blocks for scattered short copies.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type BlockSource, SOURCE_PAGE } from "../../src/io/interfaces";
import { CopyBatch } from "../../src/vcdiff/decoder/copy-batch";
import { ReadBudgetExceeded, SourceReader, SourceTooShort } from "../../src/vcdiff/decoder/source-reader";
import { RecordingMemorySource, Rng } from "./helpers";

/** Deterministic pseudo-random integers below a bound (the tests' xorshift32). */
function random(seed: number): (below: number) => number {
  const rng = new Rng(seed);
  return (below) => rng.below(below);
}

function sourceBytes(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (Math.imul(i, 2654435761) >>> 13) & 0xff;
  return data;
}

interface Copy {
  to: number;
  position: number;
  size: number;
}

/** Queues `copies`, flushes, and returns the target; checks it against the copies made directly. */
function runBatch(source: RecordingMemorySource, data: Uint8Array, copies: Copy[], targetSize: number): Uint8Array {
  const reader = new SourceReader(source);
  const batch = new CopyBatch(reader);
  const target = new Uint8Array(targetSize);
  for (const c of copies) batch.addSource(target, c.to, c.position, c.size);
  batch.flush(target);
  const expected = new Uint8Array(targetSize);
  for (const c of copies) expected.set(data.subarray(c.position, c.position + c.size), c.to);
  assert.ok(Buffer.from(target).equals(Buffer.from(expected)), "the target differs from the copies made one by one");
  assert.equal(reader.bytesRead, source.log.reduce((sum, [offset, want]) => sum + Math.min(want, data.length - offset), 0));
  for (const [offset, want] of source.log) {
    assert.equal(offset % SOURCE_PAGE, 0, `read at ${offset} is not page-aligned`);
    assert.ok(want > 0 && want <= source.blockSize, `read of ${want} bytes`);
  }
  return target;
}

test("scattered short copies read their pages, not whole blocks, and land where they belong", () => {
  const blockSize = 65536;
  const data = sourceBytes(64 << 20);
  const next = random(7);
  // A stock xdelta3 window: short copies scattered over a 64 MiB source window, in target order.
  const copies: Copy[] = [];
  let to = 0;
  for (let k = 0; k < 3000; k++) {
    const size = 4 + next(60);
    copies.push({ to, position: next(data.length - size), size });
    to += size;
  }
  const source = new RecordingMemorySource(data, blockSize);
  runBatch(source, data, copies, to);
  const pages = new Set<number>();
  for (const c of copies) for (let p = Math.floor(c.position / SOURCE_PAGE); p * SOURCE_PAGE < c.position + c.size; p++) pages.add(p);
  const blocks = new Set([...pages].map((p) => Math.floor((p * SOURCE_PAGE) / blockSize)));
  const read = source.log.reduce((s, [, n]) => s + n, 0);
  // The pages the copies need, plus at most a gap's worth between neighbours a run took in.
  assert.ok(read >= pages.size * SOURCE_PAGE, `read ${read} bytes for ${pages.size} pages`);
  assert.ok(read <= pages.size * SOURCE_PAGE * 1.5, `read ${read} bytes for ${pages.size} pages`);
  assert.ok(read < (blocks.size * blockSize) / 4, `read ${read} bytes; whole blocks would be ${blocks.size * blockSize}`);
  // Each page read once.
  const seen = new Set<number>();
  for (const [offset, want] of source.log) {
    for (let p = offset / SOURCE_PAGE; p * SOURCE_PAGE < offset + want; p++) {
      assert.ok(!seen.has(p), `page ${p} read twice`);
      seen.add(p);
    }
  }
});

test("copies longer than a block, crossing page and block edges, up to the source's odd end", () => {
  const blockSize = 16384;
  const data = sourceBytes(1_000_003);
  const copies: Copy[] = [
    { to: 0, position: 4095, size: 3 * blockSize + 17 }, // starts one byte before a page, spans four runs
    { to: 50_000, position: 4100, size: 10 }, // inside the long copy's first run, sorted after it
    { to: 50_010, position: 20_000, size: 100 }, // inside the long copy's second run
    { to: 50_110, position: data.length - 5, size: 5 }, // the source's last bytes
    { to: 50_115, position: 600_000, size: 1 },
    { to: 50_116, position: 600_001, size: 2 * blockSize }, // right after a one-byte copy, same page
  ];
  const source = new RecordingMemorySource(data, blockSize);
  runBatch(source, data, copies, 50_116 + 2 * blockSize);
  // The long copy in four runs (the last taking in no other copy: the next starts too far on);
  // the two copies inside it, sorted after it, read their pages again; a run near 600,000 that
  // holds the one-byte copy and the first part of the next, whose rest takes two more runs; the
  // source's last 579 bytes.
  assert.deepEqual(source.log, [
    [0, blockSize],
    [blockSize, blockSize],
    [2 * blockSize, blockSize],
    [3 * blockSize, 2 * SOURCE_PAGE],
    [SOURCE_PAGE, SOURCE_PAGE],
    [4 * SOURCE_PAGE, SOURCE_PAGE],
    [146 * SOURCE_PAGE, blockSize],
    [146 * SOURCE_PAGE + blockSize, blockSize],
    [146 * SOURCE_PAGE + 2 * blockSize, SOURCE_PAGE],
    [244 * SOURCE_PAGE, data.length - 244 * SOURCE_PAGE],
  ]);
});

test("many batches of random copies (some long) equal the copies made one by one", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const next = random(seed);
    const blockSize = [4096, 16384, 65536][seed % 3]!;
    const data = sourceBytes(300_000 + next(5000));
    const copies: Copy[] = [];
    let to = 0;
    for (let k = 0; k < 400; k++) {
      const size = next(10) === 0 ? 1 + next(3 * blockSize) : 1 + next(40);
      const position = next(data.length - size + 1);
      copies.push({ to, position, size });
      to += size;
    }
    runBatch(new RecordingMemorySource(data, blockSize), data, copies, to);
  }
});

test("the read budget and a source that ends early refuse a batch", () => {
  const data = sourceBytes(200_000);
  const source = new RecordingMemorySource(data, 65536);
  const reader = new SourceReader(source);
  const batch = new CopyBatch(reader);
  const target = new Uint8Array(200_000);
  reader.readAllowance = 6000; // one page, not two
  batch.addSource(target, 0, 0, 10);
  batch.addSource(target, 10, 150_000, 10);
  assert.throws(() => batch.flush(target), ReadBudgetExceeded);

  // The source file shrank after it was opened: fewer bytes arrive than its size promised.
  const shrunk = new RecordingMemorySource(data.subarray(0, 100_000), 65536);
  Object.defineProperty(shrunk, "size", { value: 200_000 });
  const batch2 = new CopyBatch(new SourceReader(shrunk));
  batch2.addSource(target, 0, 150_000, 100);
  assert.throws(() => batch2.flush(target), SourceTooShort);
  // A copy past the source's end is refused when it is queued.
  assert.throws(() => batch2.addSource(target, 0, 199_990, 20), SourceTooShort);
});

/** A source of `size` bytes computed from their positions (no memory), recording its reads. */
class ComputedSource implements BlockSource {
  readonly blockSize = 65536;
  readonly log: number[] = [];
  constructor(readonly size: number) {}
  static byteAt(position: number): number {
    return (Math.imul(position % 1_000_003, 2654435761) ^ Math.floor(position / 1_000_003)) & 0xff;
  }
  allocateBlock(): Uint8Array {
    return new Uint8Array(this.blockSize);
  }
  readBlock(index: number, into: Uint8Array): number {
    return this.readAt(index * this.blockSize, into, this.blockSize);
  }
  readAt(offset: number, into: Uint8Array, want: number): number {
    this.log.push(offset);
    const n = Math.max(0, Math.min(want, this.size - offset));
    for (let i = 0; i < n; i++) into[i] = ComputedSource.byteAt(offset + i);
    return n;
  }
  close(): void {}
}

test("copies spread over a 1 TiB source (three radix passes) are done in source order, each right", () => {
  for (const seed of [11, 12, 13]) {
    const next = random(seed);
    const source = new ComputedSource(2 ** 40 + 12345);
    const batch = new CopyBatch(new SourceReader(source));
    const copies: Copy[] = [];
    let to = 0;
    for (let k = 0; k < 3000; k++) {
      const size = 1 + next(100);
      // Positions above 2^32 and 2^36 too: pages beyond 2^22 and 2^33 need every pass.
      const position = Math.min(source.size - size, next(2 ** 30) * 1024 + next(1024) + (k % 3 === 0 ? 2 ** 39 : 0));
      copies.push({ to, position, size });
      to += size;
    }
    copies.push({ to, position: source.size - 7, size: 7 });
    to += 7;
    const target = new Uint8Array(to);
    for (const c of copies) batch.addSource(target, c.to, c.position, c.size);
    batch.flush(target);
    for (const c of copies) {
      for (let i = 0; i < c.size; i++) assert.equal(target[c.to + i], ComputedSource.byteAt(c.position + i), `copy from ${c.position}, byte ${i}`);
    }
    for (let i = 1; i < source.log.length; i++) assert.ok(source.log[i]! > source.log[i - 1]!, `read at ${source.log[i]} after ${source.log[i - 1]}`);
  }
});
