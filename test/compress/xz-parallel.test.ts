/**
 * The parallel xz writer: parts of one block compressed on several threads, each primed with the
 * bytes before it (Lzma2Encoder.prime). The same bytes for 1, 2 and 4 threads; one block with one
 * dictionary, read by the real xz and by our decoder; matches reach across the cuts; an input of
 * one part is the single-block stream XzEncoder writes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { test } from "node:test";
import { Lzma2Encoder } from "../../src/compress/lzma2-encoder.js";
import { createXzParallelStream, xzPartSizeFor, type XzParallelOptions } from "../../src/compress/xz-parallel-stream.js";
import { XzEncoder } from "../../src/compress/xz-encoder.js";
import { needTools } from "../helpers/peers.js";
import { decodeWhole, lzma2PartStarts, mixedData } from "./xz-fixtures.js";

const PART = 64 << 10;

/** Feeds `data` in uneven pieces (so parts are cut inside pieces) and collects the output. */
async function compress(data: Uint8Array, options: XzParallelOptions): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for (let at = 0, n = 1000; at < data.length; at += n, n = (n * 7) % 50_000 + 3000) pieces.push(data.subarray(at, at + n));
  return buffer(Readable.from(pieces).pipe(createXzParallelStream(options)));
}

/** `xz --list --robot -vv` for the file: its block lines. */
function xzBlocks(file: Uint8Array): string[] {
  const r = spawnSync("sh", ["-c", "f=$(mktemp); cat > $f; xz --robot --list -vv $f; rm -f $f"], { input: file, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l.startsWith("block\t"));
}

function assertXzReads(t: import("node:test").TestContext, xz: Uint8Array, data: Uint8Array, what: string): boolean {
  assert.ok(decodeWhole(xz).equals(data), `${what}: our decoder read other bytes`);
  if (!needTools(t, "xz")) return false;
  const check = spawnSync("xz", ["-t"], { input: xz });
  assert.equal(check.status, 0, `${what}: xz -t rejected it: ${check.stderr}`);
  const d = spawnSync("xz", ["-dc"], { input: xz, maxBuffer: 1 << 30 });
  assert.equal(d.status, 0, `${what}: xz -d rejected it: ${d.stderr}`);
  assert.ok(Buffer.from(data).equals(d.stdout), `${what}: xz -d read other bytes`);
  return true;
}

test("parallel xz: the same bytes for 1, 2 and 4 threads, one block with one dictionary, read back by the real xz", async (t) => {
  // 5.5 parts: a partial last part, and parts cut inside the pieces fed.
  const data = mixedData(PART * 5 + PART / 2, 7);
  const one = await compress(data, { dictSize: 1 << 20, sizeHint: data.length, partSize: PART, threads: 1 });
  for (const threads of [2, 4]) {
    const many = await compress(data, { dictSize: 1 << 20, sizeHint: data.length, partSize: PART, threads });
    assert.ok(one.equals(many), `${threads} threads wrote other bytes than 1 thread`);
  }
  assert.ok(one.length < data.length, "no compression at all");
  assert.equal(lzma2PartStarts(one), 5, "parts 2 to 6 each start with a state reset that keeps the dictionary");
  if (!assertXzReads(t, one, data, "5.5 parts")) return;
  const blocks = xzBlocks(one);
  assert.equal(blocks.length, 1, `blocks: ${blocks.join("\n")}`);
  // One dictionary for the whole input (as large as it, here), not one per part.
  assert.equal(blocks[0]!.split("\t").at(-1), "--lzma2=dict=384KiB", `not the input's dictionary: ${blocks[0]}`);
});

test("a part's matches reach back into the part before it (its history): repeats across the cuts cost almost nothing", async (t) => {
  // 40 KiB of random bytes five times over, cut into 64 KiB parts: every part after the first is
  // a repeat of bytes the one before holds, which independent blocks would code as literals again.
  const random = crypto.randomBytes(40 << 10);
  const data = new Uint8Array(Buffer.concat([random, random, random, random, random]));
  const xz = await compress(data, { dictSize: 1 << 20, sizeHint: data.length, partSize: PART, threads: 2 });
  assert.ok(xz.length < random.length + 2048, `${xz.length} bytes: the parts did not share the dictionary`);
  assertXzReads(t, xz, data, "repeats");
});

test("an input expected to fit one part is the single-block stream XzEncoder writes", async () => {
  for (const size of [0, 1000, PART]) {
    const data = mixedData(size, 3);
    const parts: Uint8Array[] = [];
    const single = new XzEncoder({ dictSize: 1 << 20, sizeHint: size }, (b) => parts.push(b));
    single.write(data);
    single.end();
    const got = await compress(data, { dictSize: 1 << 20, sizeHint: size, partSize: PART, threads: 2 });
    assert.ok(got.equals(Buffer.concat(parts)), `size ${size}: not the single-block stream`);
  }
});

test("parallel layout: one byte past a part, exactly two parts, an odd part size, an empty input", async (t) => {
  for (const [size, partSize] of [[PART + 1, PART], [2 * PART, PART], [3 * PART + 5, PART + 3], [0, PART]] as const) {
    const data = mixedData(size, 5);
    const got = await compress(data, { dictSize: 1 << 20, sizeHint: 4 * PART, partSize, threads: 2 });
    if (!assertXzReads(t, got, data, `size ${size}, parts of ${partSize}`)) return;
    assert.equal(xzBlocks(got).length, size === 0 ? 0 : 1, `size ${size}: block count`);
  }
});

test("xzPartSizeFor: two equal parts per 64 MiB, rounded up to 4 KiB, at least 4 MiB", () => {
  assert.equal(xzPartSizeFor(44_591_104), 22_298_624); // pair B's payload: two parts, one round on two cores
  assert.equal(xzPartSizeFor(10_649_600), 5_324_800);
  assert.equal(xzPartSizeFor(3 << 20), 4 << 20); // one part
  assert.equal(xzPartSizeFor(6 << 20), 4 << 20); // two, the second smaller
  assert.equal(xzPartSizeFor(64 << 20), 32 << 20);
  assert.equal(xzPartSizeFor(100 << 20), 25 << 20); // four parts
  assert.equal(xzPartSizeFor((64 << 20) + 1), Math.ceil(((64 << 20) + 1) / 4 / 4096) * 4096);
});

test("Lzma2Encoder.prime: only before the first write, and only a history of a multiple of 4 bytes", () => {
  const fresh = () => new Lzma2Encoder({ dictSize: 1 << 16 }, () => undefined);
  assert.throws(() => fresh().prime(new Uint8Array(6)), /multiple of 4/);
  const written = fresh();
  written.write(new Uint8Array(10));
  assert.throws(() => written.prime(new Uint8Array(8)), /prime\(\) after write\(\)/);
});

/** Threads of this process now (Linux: a worker thread is one more task). */
function processThreads(): number {
  return fs.readdirSync("/proc/self/task").length;
}

/**
 * Compresses `data` while sampling the process's thread count; returns the output and the most
 * threads seen above the count before it started, once the workers have exited again.
 */
async function compressCountingThreads(data: Uint8Array, options: XzParallelOptions): Promise<{ xz: Buffer; extraThreads: number }> {
  // Workers of earlier tests may still be exiting: wait until the count holds still.
  for (let steady = 0, last = processThreads(), waited = 0; steady < 5 && waited < 5000; waited += 20) {
    await new Promise((r) => setTimeout(r, 20));
    const now = processThreads();
    steady = now === last ? steady + 1 : 0;
    last = now;
  }
  const before = processThreads();
  let most = before;
  const sampler = setInterval(() => (most = Math.max(most, processThreads())), 2);
  let xz: Buffer;
  try {
    xz = await compress(data, options);
  } finally {
    clearInterval(sampler);
  }
  for (let waited = 0; processThreads() > before && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  return { xz, extraThreads: most - before };
}

test("parallel xz: no more worker threads than the input has parts (more threads asked: the same bytes, no idle workers)", async (t) => {
  if (!fs.existsSync("/proc/self/task")) return t.skip("needs Linux /proc to count threads");
  // Two parts: two lanes whatever the thread count asked for.
  const data = mixedData(PART * 2, 11);
  const options = { dictSize: 1 << 20, sizeHint: data.length, partSize: PART };
  const two = await compressCountingThreads(data, { ...options, threads: 2 });
  const eight = await compressCountingThreads(data, { ...options, threads: 8 });
  assert.ok(two.xz.equals(eight.xz), "8 threads asked wrote other bytes than 2");
  assert.ok(two.extraThreads >= 2, `${two.extraThreads} worker threads seen while 2 lanes compressed`);
  // Before the lanes were capped, 8 asked meant 6 idle workers more; a runtime thread may come and go.
  assert.ok(eight.extraThreads <= two.extraThreads + 2, `asking for 8 threads ran ${eight.extraThreads} threads, 2 lanes need ${two.extraThreads}`);
});
