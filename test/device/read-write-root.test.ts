/**
 * Deltas onto a root filesystem that was mounted read-write: the whole active partition no longer
 * hashes to the delta's source, and the delta's read set (src/vcdiff/format/read-set.ts, in its application
 * header) decides, before a byte of the inactive partition is written. Run state by state on
 * file-backed partitions with a file-backed U-Boot environment, as protocol.test.ts does.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileBlockSource } from "../../src/io/file-source";
import type { BlockSource } from "../../src/io/interfaces";
import { parseFileHeader } from "../../src/vcdiff/decoder/header";
import { VCD_APPHEADER, VCD_DECOMPRESS } from "../../src/vcdiff/format/constants";
import { decodeVcdiff } from "../../src/vcdiff/decoder/decode";
import { buildReadSet, encodeReadSetAppHeader, type ByteRange } from "../../src/vcdiff/format/read-set";
import { writeVarint } from "../../src/vcdiff/format/varint";
import { ByteCursor } from "../../src/vcdiff/format/varint-reader";
import { needTools } from "../helpers/peers";
import { INITIAL_BOOT_ENV, downloadStreaming, makeFileDevice, makeReleasePair, runModuleSync, sha256File, type FileDevice, type ReleasePair } from "./fixtures";

const PART_BYTES = 5 << 20;
const READ_BLOCK = 4096;
let work: string;
let pair: ReleasePair;
/** Stock delta v1 -> v2 with our read set spliced into its application header. */
let withReadSet: Buffer;
/** Blocks of v1 the decoder reads (by READ_BLOCK), and one it does not. */
let readBlocks: Set<number>;
let unreadByte: number;
let readByte: number;

/** A BlockSource over a file that records the blocks read. */
class RecordingSource implements BlockSource {
  readonly blocks = new Set<number>();
  constructor(private readonly inner: BlockSource) {}
  get size() {
    return this.inner.size;
  }
  get blockSize() {
    return this.inner.blockSize;
  }
  allocateBlock() {
    return this.inner.allocateBlock();
  }
  readBlock(index: number, into: Uint8Array) {
    this.blocks.add(index);
    return this.inner.readBlock(index, into);
  }
  readAt(offset: number, into: Uint8Array, want: number) {
    for (let b = Math.floor(offset / this.blockSize); b * this.blockSize < offset + want; b++) this.blocks.add(b);
    return this.inner.readAt(offset, into, want);
  }
  close() {
    this.inner.close();
  }
}

/** `delta` with its application header replaced by `appHeader`. */
function spliceAppHeader(delta: Uint8Array, appHeader: Uint8Array): Buffer {
  const c = new ByteCursor(delta, 0, delta.length);
  const { appHeaderLength } = parseFileHeader(c);
  const rest = delta.subarray(c.pos + appHeaderLength);
  const indicator = delta[4]!;
  const head = [...delta.subarray(0, 4), indicator | VCD_APPHEADER];
  if (indicator & VCD_DECOMPRESS) head.push(delta[5]!);
  const length = new Uint8Array(10);
  const n = writeVarint(length, 0, appHeader.length);
  return Buffer.concat([Uint8Array.from(head), length.subarray(0, n), appHeader, rest]);
}

function tools(t: import("node:test").TestContext): boolean {
  return needTools(t, "mke2fs", "xdelta3", "fw_printenv", "fw_setenv");
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-rw-root-"));
  if (!["mke2fs", "xdelta3", "fw_printenv", "fw_setenv"].every((t) => fs.existsSync(`/usr/bin/${t}`) || fs.existsSync(`/sbin/${t}`) || fs.existsSync(`/usr/sbin/${t}`))) return;
  pair = makeReleasePair(work);
  // The read set: every READ_BLOCK block of v1 the decoder reads (a superset of the delta's copies).
  const recording = new RecordingSource(new FileBlockSource(pair.v1, { blockSize: READ_BLOCK }));
  const sink = { write() {}, finish() {} };
  await decodeVcdiff((async function* () { yield pair.delta; })(), recording, sink);
  recording.close();
  readBlocks = recording.blocks;
  const ranges: ByteRange[] = [...readBlocks].map((b) => [b * READ_BLOCK, Math.min((b + 1) * READ_BLOCK, pair.imageBytes)]);
  const source = new FileBlockSource(pair.v1);
  const set = buildReadSet(ranges, source);
  source.close();
  withReadSet = spliceAppHeader(pair.delta, encodeReadSetAppHeader(set));
  // A block the delta does not read, past the first MiB (a file's data, say), and one it does.
  const blocks = Math.ceil(pair.imageBytes / READ_BLOCK);
  let unread = -1;
  for (let b = blocks - 1; b >= 256 && unread < 0; b--) if (!readBlocks.has(b)) unread = b;
  assert.ok(unread >= 0, "the delta reads every block of v1: no room for a write it does not read");
  unreadByte = unread * READ_BLOCK + 100;
  readByte = [...readBlocks].sort((a, b) => a - b)[Math.floor(readBlocks.size / 2)]! * READ_BLOCK + 7;
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

let count = 0;
function device(): FileDevice {
  return makeFileDevice(path.join(work, `dev${++count}`), pair.v1, {
    sourceChecksum: pair.sum1,
    targetChecksum: pair.sum2,
    metaData: { delta_algorithm: "xdelta3", rootfs_file_size: pair.imageBytes },
  }, PART_BYTES);
}

/** Flips a byte of the running partition, as a read-write mount does to some blocks. */
function flip(file: string, at: number): void {
  const fd = fs.openSync(file, "r+");
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0]! ^= 0x5a;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

test("the spliced read set leaves the delta decodable by stock xdelta3", (t) => {
  if (!tools(t)) return;
  const file = path.join(work, "with-read-set.delta");
  const out = path.join(work, "out.ext4");
  fs.writeFileSync(file, withReadSet);
  execFileSync("xdelta3", ["-d", "-f", "-s", pair.v1, file, out]);
  assert.equal(sha256File(out), pair.sum2);
});

test("whole checksum differs, the bytes the delta reads are intact: installs, verifies, activates", async (t) => {
  if (!tools(t)) return;
  const d = device();
  flip(d.partA, unreadByte);
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: withReadSet });
  assert.equal(dl.status, 0, dl.stderr);
  assert.match(dl.stderr, /is not the delta's source .*checking the bytes the delta reads \(its read set\) before anything is written/);
  assert.match(
    dl.stderr,
    new RegExp(
      `the active partition \\S+mmcblk0p2 differs from the delta's source in 1 of 4 1 MiB chunks \\(written since it was installed: a read-write root\\); ` +
        `the \\d+ ranges \\(\\d+ bytes\\) the delta reads are all intact: installing\\n`,
    ),
  );
  assert.match(dl.stderr, /new image verified/);
  assert.equal(sha256File(d.partB, pair.imageBytes), pair.sum2);
  assert.deepEqual(d.readEnv(), INITIAL_BOOT_ENV);
  const install = runModuleSync("ArtifactInstall", d.tree, d.env);
  assert.equal(install.status, 0, install.stderr);
  assert.equal(d.readEnv().mender_boot_part, "3");
});

test("a whole source that matches does not need the read set (and is not slowed by it)", async (t) => {
  if (!tools(t)) return;
  const d = device();
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: withReadSet });
  assert.equal(dl.status, 0, dl.stderr);
  assert.match(dl.stderr, /active partition matches the delta's source/);
  assert.doesNotMatch(dl.stderr, /read set|ranges/);
  assert.equal(sha256File(d.partB, pair.imageBytes), pair.sum2);
});

/** Download must fail with one error line, before a byte of B is written; nothing to activate. */
async function expectRefused(d: FileDevice, data: Uint8Array, message: RegExp): Promise<string> {
  const beforeA = sha256File(d.partA);
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data });
  assert.equal(dl.status, 1, dl.stderr);
  const errors = dl.stderr.trim().split("\n").filter((l) => /error/.test(l));
  assert.equal(errors.length, 1, dl.stderr);
  assert.match(errors[0]!, message);
  assert.doesNotMatch(dl.stderr, /applying \S+ failed/, "refused as a source problem, not as a broken delta");
  assert.ok(fs.readFileSync(d.partB).every((b) => b === 0), "inactive partition never written");
  assert.equal(sha256File(d.partA), beforeA, "active partition unchanged");
  assert.deepEqual(d.readEnv(), INITIAL_BOOT_ENV, "boot environment unchanged");
  assert.equal(fs.existsSync(path.join(d.tree, "tmp", "target.json")), false, "nothing recorded as verified");
  const install = runModuleSync("ArtifactInstall", d.tree, d.env);
  assert.equal(install.status, 1, "nothing verified, nothing to activate");
  assert.deepEqual(d.readEnv(), INITIAL_BOOT_ENV);
  return errors[0]!;
}

test("a byte the delta reads changed: refused before anything is written, naming the changed bytes", async (t) => {
  if (!tools(t)) return;
  const d = device();
  flip(d.partA, unreadByte);
  flip(d.partA, readByte);
  const chunk = Math.floor(readByte / 65536) * 65536;
  const line = await expectRefused(
    d,
    withReadSet,
    new RegExp(
      `^mender-binary-delta: error: 1 of \\d+ ranges the delta reads changed on the active partition \\S+mmcblk0p2 since its release was installed ` +
        `\\(in 1 64 KiB chunk\\): they belong to (filesystem metadata \\()?partition bytes \\d+-\\d+(, \\d+-\\d+)*( \\(and \\d+ more ranges\\))?\\)?; nothing was written\\. ` +
        `Install a full rootfs-image Artifact, or do not modify in place the files the next release keeps \\(see docs/read-write-root\\.md\\)$`,
    ),
  );
  // The first range named lies in the changed 64 KiB chunk.
  const [, first] = /partition bytes (\d+)-/.exec(line)!;
  assert.ok(Number(first) >= chunk && Number(first) < chunk + 65536, line);
});

test("the whole checksum differs and the delta carries no read set: today's refusal, pointing at read sets", async (t) => {
  if (!tools(t)) return;
  const d = device();
  flip(d.partA, unreadByte);
  await expectRefused(
    d,
    pair.delta,
    /error: the active partition \S+ is not the image this delta was made from: .*Install a full rootfs-image Artifact instead\. This delta carries no read set .*see docs\/read-write-root\.md$/,
  );
});

test("files/ fallback: the read set is checked in ArtifactInstall too", (t) => {
  if (!tools(t)) return;
  for (const changeRead of [false, true]) {
    const d = device();
    flip(d.partA, unreadByte);
    if (changeRead) flip(d.partA, readByte);
    assert.equal(runModuleSync("Download", d.tree, d.env).status, 0);
    fs.mkdirSync(path.join(d.tree, "files"));
    fs.writeFileSync(path.join(d.tree, "files", "v2.ext4.delta"), withReadSet);
    const install = runModuleSync("ArtifactInstall", d.tree, d.env);
    if (changeRead) {
      assert.equal(install.status, 1, install.stderr);
      assert.match(install.stderr, /error: 1 of \d+ ranges the delta reads changed/);
      assert.ok(fs.readFileSync(d.partB).every((b) => b === 0), "inactive partition never written");
      assert.deepEqual(d.readEnv(), INITIAL_BOOT_ENV);
    } else {
      assert.equal(install.status, 0, install.stderr);
      assert.match(install.stderr, /reads are all intact: installing/);
      assert.equal(sha256File(d.partB, pair.imageBytes), pair.sum2);
      assert.equal(d.readEnv().mender_boot_part, "3");
    }
  }
});

test("a damaged read set on a drifted source: refused before anything is written, not as a broken partition", async (t) => {
  if (!tools(t)) return;
  const d = device();
  flip(d.partA, unreadByte);
  const damaged = Buffer.from(withReadSet);
  const at = damaged.indexOf("mbd-readset1:") + "mbd-readset1:".length + 5;
  damaged[at] = "!".charCodeAt(0);
  const line = await expectRefused(d, damaged, /the delta's read set \(application header\) is damaged: byte \d+ is not base64url; fetch or generate the delta again; nothing was written$/);
  assert.doesNotMatch(line, /incomplete/);
});
