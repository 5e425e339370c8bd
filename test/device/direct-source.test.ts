/**
 * Issue 10: the active partition is read as it is on disk, not as the page cache shows it. An ext4
 * image with a journal, on a loop device mounted read-only, reads back differently through the page
 * cache (jbd2 rewrites the journal superblock in memory); with O_DIRECT it matches the image, and a
 * delta made from the image applies byte-exact from the mounted device. The inactive partition's
 * compare-before-write reads the storage the same way.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needRoot, needTools } from "../helpers/peers";
import { allocateAligned, openDirectSource } from "../../src/io/direct-source";
import { deviceOrFileSize } from "../../src/io/file-size";
import type { BlockSource } from "../../src/io/interfaces";
import { FileTargetSink } from "../../src/io/file-sink";
import { hashDevicePrefix } from "../../src/device/source-check";
import { FRAME_BYTES, PartitionWriter } from "../../src/device/partition-writer";
import { decodeVcdiff } from "../../src/vcdiff/decoder/decode";
import { SourceMismatchError } from "../../src/vcdiff/decoder/errors";
import { makeExt4, sha256, sha256File } from "./fixtures";

let work: string;
let loop: string | undefined;
let mountPoint: string | undefined;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-direct-"));
});

after(() => {
  if (mountPoint) spawnSync("umount", [mountPoint]);
  if (loop) spawnSync("losetup", ["-d", loop]);
  fs.rmSync(work, { recursive: true, force: true });
});

/** A buffered BlockSource over a block device: what a plain read of the active partition sees. */
function bufferedSource(device: string, blockSize = 65536): BlockSource {
  const fd = fs.openSync(device, "r");
  const size = deviceOrFileSize(device);
  return {
    size,
    blockSize,
    allocateBlock: () => new Uint8Array(blockSize),
    readBlock(index, into) {
      return this.readAt(index * blockSize, into, blockSize);
    },
    readAt(offset, into, want) {
      const n = Math.max(0, Math.min(want, size - offset));
      let done = 0;
      while (done < n) done += fs.readSync(fd, into, done, n - done, offset + done);
      return n;
    },
    close: () => fs.closeSync(fd),
  };
}

async function* chunks(file: string): AsyncIterable<Uint8Array> {
  yield* fs.createReadStream(file, { highWaterMark: 4096 }) as AsyncIterable<Buffer>;
}

test("aligned memory: O_DIRECT reads of a regular file land in WebAssembly.Memory views", async () => {
  const file = path.join(work, "plain.bin");
  const data = Buffer.alloc(3 * 65536 + 1000, 7);
  for (let i = 0; i < data.length; i += 511) data[i] = i & 0xff;
  fs.writeFileSync(file, data);
  const warnings: string[] = [];
  const src = openDirectSource(file, { onFallback: (m) => warnings.push(m) });
  const parts: Uint8Array[] = [];
  const block = src.allocateBlock();
  for (let i = 0; i * src.blockSize < src.size; i++) parts.push(Buffer.from(block.subarray(0, src.readBlock(i, block))));
  // The same through the thread pool (the whole-partition passes read ahead so).
  const asyncParts: Uint8Array[] = [];
  for (let i = 0; i * src.blockSize < src.size; i++) asyncParts.push(Buffer.from(block.subarray(0, await src.readBlockAsync(i, block))));
  src.close();
  assert.equal(sha256(Buffer.concat(parts)), sha256(data));
  assert.equal(sha256(Buffer.concat(asyncParts)), sha256(data));
  assert.ok(warnings.length <= 1, "at most one fallback warning");
  assert.equal(allocateAligned(4096).byteOffset % 4096, 0);
});

test("where the kernel refuses O_DIRECT (procfs here), one warning and buffered reads", () => {
  const warnings: string[] = [];
  const src = openDirectSource("/proc/self/cmdline", { onFallback: (m) => warnings.push(m) });
  assert.equal(src.isDirect, false);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /refuses O_DIRECT for \/proc\/self\/cmdline.*page cache/);
  src.close();
  openDirectSource("/proc/self/cmdline", { onFallback: (m) => warnings.push(m) }).close();
  assert.equal(warnings.length, 1, "warned once per file");
});

test("read-only mounted ext4 on a loop device: buffered differs, O_DIRECT hash matches, delta applies byte-exact", async (t) => {
  if (!needRoot(t, "loop devices and mount") || !needTools(t, "mke2fs", "losetup", "mount", "xdelta3")) return;
  const v1 = path.join(work, "v1.ext4");
  const v2 = path.join(work, "v2.ext4");
  makeExt4(v1, 1);
  makeExt4(v2, 2);
  const journal = execFileSync("dumpe2fs", ["-h", v1], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  assert.match(journal, /has_journal/, "the image has a journal");
  const deltaFile = path.join(work, "v2.delta");
  execFileSync("xdelta3", ["-e", "-S", "none", "-A", "-s", v1, v2, deltaFile]);

  loop = execFileSync("losetup", ["-f", "--show", v1], { encoding: "utf8" }).trim();
  mountPoint = path.join(work, "root");
  fs.mkdirSync(mountPoint);
  execFileSync("mount", ["-o", "ro", "-t", "ext4", loop, mountPoint]);

  const image = sha256File(v1);
  // The premise: through the page cache the mounted device is not the image.
  assert.notEqual(sha256(fs.readFileSync(loop)), image, "buffered read of the mounted device differs from the image");

  const src = openDirectSource(loop);
  assert.equal(src.isDirect, true);
  assert.equal(src.size, fs.statSync(v1).size);
  src.close();
  assert.equal(await hashDevicePrefix(loop, fs.statSync(v1).size), image, "our source hash (O_DIRECT) matches the image");

  // A buffered source makes the decoder fail its window checksums, as stock xdelta3 does on devices...
  const buffered = bufferedSource(loop);
  await assert.rejects(
    decodeVcdiff(chunks(deltaFile), buffered, new FileTargetSink(path.join(work, "bad.out"))),
    (err) => err instanceof SourceMismatchError,
  );
  buffered.close();

  // ...and the O_DIRECT source applies the delta byte-exact from the mounted device.
  const direct = openDirectSource(loop);
  const out = path.join(work, "v2.out");
  await decodeVcdiff(chunks(deltaFile), direct, new FileTargetSink(out));
  direct.close();
  assert.equal(sha256File(out), sha256File(v2));
});

test("compare-before-write on the inactive partition reads the storage, not a stale page cache: a frame the cache shows right but the storage does not is written", async (t) => {
  if (!needRoot(t, "loop devices") || !needTools(t, "losetup")) return;
  const backing = path.join(work, "inactive.img");
  const image = Buffer.alloc(3 * FRAME_BYTES);
  for (let i = 0; i < image.length; i += 512) image[i] = (i / 512) % 251;
  fs.writeFileSync(backing, image);
  const device = execFileSync("losetup", ["-f", "--show", backing], { encoding: "utf8" }).trim();
  // Held open throughout: the last close of a block device drops its page cache.
  const holder = fs.openSync(device, "r");
  try {
    // The device's page cache learns the image; then the storage under it changes in frame 1.
    assert.equal(sha256(fs.readFileSync(device)), sha256(image));
    const fd = fs.openSync(backing, "r+");
    fs.writeSync(fd, Buffer.alloc(8192, 0xee), 0, 8192, FRAME_BYTES + 65536);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    // The premise: a buffered read of the device still shows the image, the storage does not.
    assert.equal(sha256(fs.readFileSync(device)), sha256(image), "the page cache is stale");
    assert.notEqual(await hashDevicePrefix(device, image.length), sha256(image), "the storage differs");

    const w = new PartitionWriter(device);
    w.write(image);
    w.finish();
    const stats = w.stats();
    assert.deepEqual([stats.framesWritten, stats.framesSkipped], [1, 2], "frame 1 is written, the others are held already");
    assert.equal(await hashDevicePrefix(device, image.length), sha256(image), "the storage holds the image");
  } finally {
    fs.closeSync(holder);
    spawnSync("losetup", ["-d", device]);
  }
});
