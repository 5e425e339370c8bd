/**
 * The ext4 reader against e2fsprogs on real images made by mke2fs -d (no root needed): the layout,
 * the volatile ranges (exactly the metadata, journal, free space, directories and mapping blocks
 * dumpe2fs and debugfs report, and no file data), the owners of chosen blocks (icheck/ncheck),
 * and one-line errors on images it cannot read.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { MenderDeltaError } from "../../src/errors";
import { type ByteRange, filesOwning, readExt4Layout, volatileRanges } from "../../src/fs/ext4";
import { FileBlockSource } from "../../src/io/file-source";
import { needTools } from "../helpers/peers";
import { BlockSet, bytes, debugfsStat, dumpe2fs, icheck, indexDirectories, type InodeBlocks, listTree, mkfs, ncheck } from "./ext4-oracle";

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ext4-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The tree every image holds; `bigMiB` sizes a file that needs double-indirect blocks on ext2/3. */
function makeTree(root: string, bigMiB: number, manyFiles: number): void {
  const put = (rel: string, data: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  };
  put("etc/bar", "bar\n");
  put("etc/hostname", "device\n");
  put("usr/bin/foo", bytes(300_000, 1));
  put("usr/lib/big", bytes(bigMiB * 1024 * 1024, 2));
  put("a/b/c/d/e/f/deep.txt", bytes(20_000, 3));
  put("home/user/notes", bytes(9000, 4));
  fs.linkSync(path.join(root, "home/user/notes"), path.join(root, "etc/notes-link"));
  put("var/log/syslog", "boot\n".repeat(1000));
  // Chunks with holes: many extents (an extent tree block) or holes in block maps; the last chunk
  // at 80 MiB needs triple-indirect blocks with 1 KiB blocks.
  const sparse = fs.openSync(path.join(root, "sparse"), "w");
  for (let i = 0; i < 10; i++) fs.writeSync(sparse, bytes(4096, 10 + i), 0, 4096, i * 65536);
  fs.writeSync(sparse, bytes(1024, 30), 0, 1024, 80 * 1024 * 1024);
  fs.closeSync(sparse);
  fs.symlinkSync("x".repeat(80), path.join(root, "slow-link"));
  fs.symlinkSync("etc/bar", path.join(root, "fast-link"));
  fs.mkdirSync(path.join(root, "var/run"), { recursive: true });
  spawnFifo(path.join(root, "var/run/fifo"));
  for (let i = 0; i < manyFiles; i++) put(`many/file-with-a-longish-name-${i}`, `${i}\n`);
}

function spawnFifo(file: string): void {
  const r = spawnSync("mkfifo", [file]);
  if (r.status !== 0) throw new Error(`mkfifo ${file} failed`);
}

interface Image {
  file: string;
  dump: ReturnType<typeof dumpe2fs>;
  stats: Map<string, InodeBlocks>;
  tree: ReturnType<typeof listTree>;
}

const images = new Map<string, Image>();

/** Makes (once) the image `name` and asks the oracle about it. */
function image(name: string, sizeMiB: number, options: string[], bigMiB = 2, manyFiles = 30): Image {
  let img = images.get(name);
  if (img) return img;
  const root = path.join(dir, `${name}.root`);
  makeTree(root, bigMiB, manyFiles);
  const file = path.join(dir, `${name}.img`);
  mkfs(file, root, sizeMiB, options);
  if (manyFiles > 1000) indexDirectories(file);
  const dump = dumpe2fs(file);
  const tree = listTree(root);
  const reserved = Array.from({ length: dump.firstInode - 1 }, (_, i) => i + 1);
  const specials = [...new Set([...reserved, ...dump.specialInodes])].map((ino) => `<${ino}>`);
  const specs = [...specials, ...tree.dirs, ...tree.others];
  const answers = debugfsStat(file, specs, dir);
  const stats = new Map(specs.map((s, i) => [s, answers[i]!]));
  img = { file, dump, stats, tree };
  images.set(name, img);
  return img;
}

/** The volatile set the oracle predicts. */
function expectedVolatile(img: Image): BlockSet {
  const set = new BlockSet(img.dump.blocksCount);
  for (const [s, e] of [...img.dump.metadata, ...img.dump.free]) set.add(s, e);
  const all = (b: InodeBlocks) => [...b.data, ...b.index, ...b.xattr].forEach((x) => set.add(x));
  for (const [spec, b] of img.stats) {
    if (spec.startsWith("<") || img.tree.dirs.includes(spec)) all(b);
    else [...b.index, ...b.xattr].forEach((x) => set.add(x));
  }
  return set;
}

/** The slack after the end of each regular file in its last block (as "start-end" strings). */
function expectedTails(img: Image, blockSize: number): string[] {
  const out: string[] = [];
  for (const [spec, b] of img.stats) {
    if (spec.startsWith("<") || img.tree.dirs.includes(spec) || b.type !== "regular") continue;
    if (b.size % blockSize === 0 || b.data.length !== Math.ceil(b.size / blockSize)) continue;
    const last = b.data[b.data.length - 1]!;
    out.push(`${last * blockSize + (b.size % blockSize)}-${(last + 1) * blockSize}`);
  }
  return [...new Set(out)].sort(); // hard links: one inode, several names
}

/** Whole blocks of `ranges` as a set; the ranges that end or start inside a block as "start-end" strings. */
function toBlockSet(ranges: ByteRange[], blockSize: number, blocks: number): { set: BlockSet; partial: string[] } {
  const set = new BlockSet(blocks);
  const partial: string[] = [];
  let last = -1;
  for (const [s, e] of ranges) {
    assert.ok(s > last && e > s, `ranges sorted, merged, not empty: ${s}..${e} after ${last}`);
    assert.ok(e <= blocks * blockSize);
    const first = Math.ceil(s / blockSize);
    const end = Math.floor(e / blockSize);
    if (end > first) set.add(first, end);
    // A tail merged with the whole blocks after it: only its partial block is reported.
    if (s % blockSize !== 0) partial.push(`${s}-${Math.min(e, first * blockSize)}`);
    assert.equal(e % blockSize, 0, "ranges end at block boundaries");
    last = e;
  }
  return { set, partial: partial.sort() };
}

const block = (img: Image, spec: string, i = 0): number => {
  const b = img.stats.get(spec)?.data[i];
  assert.ok(b !== undefined, `${spec} has a data block ${i}`);
  return b;
};

const VARIANTS: Array<{ name: string; size: number; options: string[]; bigMiB?: number; many?: number }> = [
  { name: "ext4-4k", size: 256, options: ["-t", "ext4", "-b", "4096"] },
  { name: "ext4-1k", size: 32, options: ["-t", "ext4", "-b", "1024"] },
  { name: "ext2-1k", size: 32, options: ["-t", "ext2", "-b", "1024"] },
  { name: "ext3-4k", size: 64, options: ["-t", "ext3", "-b", "4096"], bigMiB: 5 },
  { name: "sparse_super2", size: 64, options: ["-t", "ext4", "-b", "1024", "-O", "sparse_super2"] },
  { name: "meta_bg-32bit", size: 64, options: ["-t", "ext4", "-b", "1024", "-g", "1024", "-O", "^resize_inode,meta_bg,^64bit"] },
  { name: "htree", size: 64, options: ["-t", "ext4"], many: 2000 },
  { name: "orphan_file+quota", size: 64, options: ["-t", "ext4", "-O", "orphan_file,quota"] },
];

for (const v of VARIANTS) {
  describe(`ext4 reader on ${v.name} (mke2fs ${v.options.join(" ")})`, () => {
    const open = (t: import("node:test").TestContext) => {
      if (!needTools(t, "mke2fs", "dumpe2fs", "debugfs", "e2fsck")) return undefined;
      const img = image(v.name, v.size, v.options, v.bigMiB, v.many);
      const src = new FileBlockSource(img.file);
      t.after(() => src.close());
      const layout = readExt4Layout(src);
      assert.ok(layout, "an ext4 layout");
      return { img, src, layout };
    };

    test("layout matches dumpe2fs", (t) => {
      const o = open(t);
      if (!o) return;
      const { img, layout } = o;
      assert.equal(layout.blockSize, img.dump.blockSize);
      assert.equal(layout.blocksCount, img.dump.blocksCount);
      assert.equal(layout.inodesCount, img.dump.inodesCount);
      assert.equal(layout.groupCount, img.dump.groupCount);
      assert.equal(layout.firstInode, img.dump.firstInode);
      // The variant really has what it is there for.
      const index = (p: string) => img.stats.get(p)!.index.length;
      if (layout.extents) assert.ok(index("/sparse") > 0, "/sparse has an extent tree block");
      else assert.ok(index("/usr/lib/big") >= 3 && index("/sparse") >= 3, "double and triple indirect blocks");
      if (v.name === "sparse_super2") assert.ok(layout.sparseSuper2 && layout.backupGroups[1] > 0);
      if (v.name.startsWith("meta_bg")) assert.ok(layout.metaBg && !layout.is64bit && layout.groupCount > layout.blockSize / layout.descSize);
      if (v.name === "orphan_file+quota") assert.deepEqual(layout.specialInodes, img.dump.specialInodes);
      if (v.name === "ext4-4k") assert.ok(layout.is64bit && layout.flexBg && layout.groupDescCsum && layout.groupCount > 1);
      if (v.many) assert.ok(img.stats.get("/many")!.data.length > 10 && /Flags: 0x\w*1\w{3}\b/.test(spawnSync("debugfs", ["-R", "stat /many", img.file], { encoding: "utf8" }).stdout), "/many is a hash-tree directory");
    });

    test("volatile ranges are exactly metadata + journal + free + directories + mapping blocks + file slack, and no file data", (t) => {
      const o = open(t);
      if (!o) return;
      const { img, src, layout } = o;
      const { set: actual, partial } = toBlockSet(volatileRanges(src, layout), layout.blockSize, layout.blocksCount);
      assert.deepEqual(partial, expectedTails(img, layout.blockSize), "the slack after each file's end");
      assert.ok(partial.length > 3, "files with slack");
      const expected = expectedVolatile(img);
      assert.deepEqual(expected.difference(actual), [], "blocks the oracle calls volatile and the reader does not");
      assert.deepEqual(actual.difference(expected), [], "blocks the reader calls volatile and the oracle does not");
      for (const spec of img.tree.others) {
        const data = img.stats.get(spec)!.data;
        const hit = data.filter((b) => actual.has(b));
        assert.deepEqual(hit, [], `data blocks of ${spec} are not volatile`);
      }
      assert.ok(img.stats.get("/usr/lib/big")!.data.length > 0);
    });

    test("filesOwning names the files of data blocks, and metadata and free space", (t) => {
      const o = open(t);
      if (!o) return;
      const { img, src, layout } = o;
      const bs = layout.blockSize;
      const at = (b: number): ByteRange => [b * bs, (b + 1) * bs];
      const picks = ["/usr/bin/foo", "/a/b/c/d/e/f/deep.txt", "/home/user/notes", "/usr/lib/big", "/sparse", "/slow-link"];
      if (v.many) picks.push("/many/file-with-a-longish-name-1234");
      const blocks = picks.map((p) => block(img, p, img.stats.get(p)!.data.length - 1));
      const owners = icheck(img.file, blocks);
      const names = ncheck(img.file, [...new Set(owners.values())]);
      picks.forEach((p, i) => {
        const r = filesOwning(src, layout, [at(blocks[i]!)], 10);
        assert.equal(r.paths.length, 1, `${p}: ${JSON.stringify(r)}`);
        assert.ok(names.get(owners.get(blocks[i]!)!)!.includes(r.paths[0]!), `${p}: ${r.paths[0]} is one of the oracle's names`);
        assert.equal(r.metadata, false);
        assert.equal(r.unowned, false);
        assert.equal(r.more, 0);
      });
      // The hard link: either name.
      const notes = filesOwning(src, layout, [[blocks[2]! * bs + 100, blocks[2]! * bs + 101]], 10);
      assert.ok(["/home/user/notes", "/etc/notes-link"].includes(notes.paths[0]!), notes.paths[0]);

      const free = img.dump.free[img.dump.free.length - 1]!;
      const r = filesOwning(src, layout, [at(free[0]), at(blocks[0]!), at(blocks[1]!)], 10);
      assert.deepEqual(r, { paths: ["/a/b/c/d/e/f/deep.txt", "/usr/bin/foo"], more: 0, metadata: false, unowned: true });
      const limited = filesOwning(src, layout, [at(blocks[0]!), at(blocks[1]!)], 1);
      assert.equal(limited.paths.length, 1);
      assert.equal(limited.more, 1);

      const table = img.dump.metadata[img.dump.metadata.length - 1]!;
      assert.deepEqual(filesOwning(src, layout, [at(table[0])], 10), { paths: [], more: 0, metadata: true, unowned: false });
      const journal = img.stats.get("<8>")!.data;
      if (journal.length > 0) {
        assert.deepEqual(filesOwning(src, layout, [at(journal[journal.length - 1]!)], 10), { paths: [], more: 0, metadata: true, unowned: false });
      }
      // A directory's block names the directory; bytes past the filesystem belong to nobody.
      const dirBlock = block(img, "/a/b/c");
      assert.deepEqual(filesOwning(src, layout, [at(dirBlock)], 10).paths, ["/a/b/c"]);
      assert.equal(filesOwning(src, layout, [[layout.blocksCount * bs, layout.blocksCount * bs + 10]], 10).unowned, true);
      assert.deepEqual(filesOwning(src, layout, [], 10), { paths: [], more: 0, metadata: false, unowned: false });
    });
  });
}

describe("images the reader cannot or must not read", () => {
  const write = (name: string, data: Uint8Array) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, data);
    return file;
  };
  const layoutOf = (file: string) => {
    const src = new FileBlockSource(file);
    try {
      return readExt4Layout(src);
    } finally {
      src.close();
    }
  };
  const oneLineError = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (err: unknown) => err instanceof MenderDeltaError && !err.message.includes("\n") && re.test(err.message));

  /** A small ext4 image to damage, fresh each time. */
  const base = (t: import("node:test").TestContext): Buffer | undefined => {
    if (!needTools(t, "mke2fs", "debugfs")) return undefined;
    const root = path.join(dir, "small.root");
    if (!fs.existsSync(root)) {
      fs.mkdirSync(root);
      fs.writeFileSync(path.join(root, "file"), bytes(50_000, 9));
      mkfs(path.join(dir, "small.img"), root, 8, ["-t", "ext4", "-b", "4096"]);
    }
    return fs.readFileSync(path.join(dir, "small.img"));
  };

  test("zeros, random bytes and tiny files are not ext4", () => {
    assert.equal(layoutOf(write("zeros.img", new Uint8Array(1 << 20))), undefined);
    const random = bytes(1 << 20, 7);
    random[1080] = 0;
    assert.equal(layoutOf(write("random.img", random)), undefined);
    assert.equal(layoutOf(write("tiny.img", new Uint8Array(100))), undefined);
  });

  test("a truncated image is a one-line error", (t) => {
    const img = base(t);
    if (!img) return;
    oneLineError(() => layoutOf(write("truncated.img", img.subarray(0, img.length / 2))), /truncated/);
    oneLineError(() => layoutOf(write("truncated-sb.img", img.subarray(0, 1100 + 1024))), /truncated/);
  });

  test("a corrupt superblock or group descriptor is a one-line error, without a huge allocation", (t) => {
    const img = base(t);
    if (!img) return;
    const damaged = (name: string, offset: number, value: number, width = 4) => {
      const copy = Buffer.from(img);
      if (width === 4) copy.writeUInt32LE(value, offset);
      else copy.writeUInt16LE(value, offset);
      return write(name, copy);
    };
    oneLineError(() => layoutOf(damaged("logbs.img", 1024 + 0x18, 30)), /block size/);
    oneLineError(() => layoutOf(damaged("ipg.img", 1024 + 0x28, 0)), /inodes per group/);
    oneLineError(() => layoutOf(damaged("bpg.img", 1024 + 0x20, 0x7fffffff)), /blocks per group/);
    oneLineError(() => layoutOf(damaged("inodesize.img", 1024 + 0x58, 100, 2)), /inode size/);
    oneLineError(() => layoutOf(damaged("blocks-hi.img", 1024 + 0x150, 0xffff)), /truncated/);
    oneLineError(() => layoutOf(damaged("inodes.img", 1024 + 0x0, 12345)), /does not add up/);
    oneLineError(() => layoutOf(damaged("bigalloc.img", 1024 + 0x64, 0x200 | img.readUInt32LE(1024 + 0x64))), /bigalloc/);
    oneLineError(() => layoutOf(damaged("incompat.img", 1024 + 0x60, (0x80000000 | img.readUInt32LE(1024 + 0x60)) >>> 0)), /unknown incompatible/);
    // Group 0's descriptor (block 1 of a 4 KiB filesystem): its inode table past the end.
    oneLineError(() => layoutOf(damaged("gd.img", 4096 + 0x8, 0xfffffff0)), /group descriptor 0 is corrupt/);
  });

  test("a corrupt extent tree is a one-line error when walking inodes", (t) => {
    const img = base(t);
    if (!img) return;
    const file = write("extent.img", img);
    const src = new FileBlockSource(file);
    const layout = readExt4Layout(src)!;
    // Inode 12 ("/file"): damage its extent header's magic in the first inode table.
    const offset = layout.groups.inodeTable[0]! * layout.blockSize + 11 * layout.inodeSize + 0x28;
    src.close();
    const copy = Buffer.from(img);
    copy.writeUInt16LE(0x1234, offset);
    const bad = new FileBlockSource(write("extent.img", copy));
    t.after(() => bad.close());
    oneLineError(() => volatileRanges(bad, layout), /inode 12 has a corrupt extent tree/);
    copy.writeUInt16LE(0xf30a, offset);
    copy.writeUInt32LE(0xfffffff, offset + 12 + 8); // the first extent's start
    const bad2 = new FileBlockSource(write("extent2.img", copy));
    t.after(() => bad2.close());
    oneLineError(() => filesOwning(bad2, layout, [[0, 4096]], 10), /inode 12 is corrupt: it points to block/);
  });
});
