/**
 * The multi-block xz writer: the same bytes for 1, 2 and 4 threads, blocks that state their sizes
 * (as xz -T writes them), read by the real xz and by our decoder; an input of one block is the
 * single-block stream XzEncoder writes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { test } from "node:test";
import { createXzBlocksStream, type XzBlocksOptions } from "../../src/compress/xz-blocks-stream.js";
import { XzEncoder } from "../../src/compress/xz-encoder.js";
import { needTools } from "../helpers/peers.js";
import { decodeWhole, mixedData } from "./xz-fixtures.js";

const BLOCK = 64 << 10;

/** Feeds `data` in uneven pieces (so blocks are cut inside pieces) and collects the output. */
async function compress(data: Uint8Array, options: XzBlocksOptions): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for (let at = 0, n = 1000; at < data.length; at += n, n = (n * 7) % 50_000 + 3000) pieces.push(data.subarray(at, at + n));
  return buffer(Readable.from(pieces).pipe(createXzBlocksStream(options)));
}

/** `xz --list --robot` for the file: its block lines. */
function xzBlocks(file: Uint8Array): string[] {
  const r = spawnSync("sh", ["-c", "f=$(mktemp); cat > $f; xz --robot --list -vv $f; rm -f $f"], { input: file, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l.startsWith("block\t"));
}

test("multi-block xz: the same bytes for 1, 2 and 4 threads, read back by the real xz", async (t) => {
  // 5.5 blocks: a partial last block, and blocks cut inside the pieces fed.
  const data = mixedData(BLOCK * 5 + BLOCK / 2, 7);
  const one = await compress(data, { dictSize: 1 << 20, sizeHint: data.length, blockSize: BLOCK, threads: 1 });
  for (const threads of [2, 4]) {
    const many = await compress(data, { dictSize: 1 << 20, sizeHint: data.length, blockSize: BLOCK, threads });
    assert.ok(one.equals(many), `${threads} threads wrote other bytes than 1 thread`);
  }
  assert.ok(one.length < data.length, "no compression at all");
  assert.ok(decodeWhole(one).equals(data), "our decoder read other bytes");
  if (!needTools(t, "xz")) return;
  const t2 = spawnSync("xz", ["-t"], { input: one });
  assert.equal(t2.status, 0, `xz -t rejected it: ${t2.stderr}`);
  const d = spawnSync("xz", ["-dc"], { input: one, maxBuffer: 1 << 30 });
  assert.equal(d.status, 0, `xz -d rejected it: ${d.stderr}`);
  assert.ok(Buffer.from(data).equals(d.stdout), "xz -d read other bytes");
  const blocks = xzBlocks(one);
  assert.equal(blocks.length, 6, `blocks: ${blocks.join("\n")}`);
  // -vv lists each block header's flags ("cu": both sizes stated) and filter chain.
  for (const line of blocks) {
    const cols = line.split("\t");
    assert.equal(cols[12], "cu", `block header without its sizes: ${line}`);
    assert.equal(cols.at(-1), "--lzma2=dict=64KiB", `dictionary not capped at the block size: ${line}`);
  }
});

test("an input expected to fit one block is the single-block stream XzEncoder writes", async () => {
  for (const size of [0, 1000, BLOCK]) {
    const data = mixedData(size, 3);
    const parts: Uint8Array[] = [];
    const single = new XzEncoder({ dictSize: 1 << 20, sizeHint: size }, (b) => parts.push(b));
    single.write(data);
    single.end();
    const got = await compress(data, { dictSize: 1 << 20, sizeHint: size, blockSize: BLOCK, threads: 2 });
    assert.ok(got.equals(Buffer.concat(parts)), `size ${size}: not the single-block stream`);
  }
});

test("multi-block layout: one byte past a block, exactly two blocks, an empty input", async (t) => {
  for (const size of [BLOCK + 1, 2 * BLOCK, 0]) {
    const data = mixedData(size, 5);
    const got = await compress(data, { dictSize: 1 << 20, sizeHint: 2 * BLOCK, blockSize: BLOCK, threads: 2 });
    assert.ok(decodeWhole(got).equals(data), `size ${size}: our decoder read other bytes`);
    if (!needTools(t, "xz")) return;
    assert.equal(xzBlocks(got).length, Math.ceil(size / BLOCK), `size ${size}: block count`);
    assert.ok(Buffer.from(data).equals(spawnSync("xz", ["-dc"], { input: got }).stdout), `size ${size}: xz -d read other bytes`);
  }
});
