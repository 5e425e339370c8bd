/**
 * The file list of ext4 images made by mke2fs -d (and changed with debugfs -w where mke2fs does not
 * make the case: unwritten extents, inline data past i_block, a fragmented file): every regular file
 * is listed once with all its names, and its pieces rebuild exactly what `debugfs rdump` extracts.
 * Then the pairing of two images: same path, renamed (same content), version bumped, new.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import {
  type Ext4FileList,
  Ext4FileReader,
  FILE_INLINE,
  HOLE,
  listExt4Files,
  PAIR_CONTENT,
  PAIR_NONE,
  PAIR_PATH,
  PAIR_VERSION,
  pairFiles,
  readExt4Layout,
  versionlessPath,
} from "../../src/fs/ext4";
import { inodeByteOffset } from "../../src/fs/ext4-inode-table";
import type { Ext4Layout } from "../../src/fs/ext4-layout";
import { FileBlockSource } from "../../src/io/file-source";
import { needTools } from "../helpers/peers";
import { bytes, indexDirectories, mkfs } from "./ext4-oracle";

const env = { ...process.env, DEBUGFS_PAGER: "__none__", PAGER: "cat" };
let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ext4-files-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function put(root: string, rel: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), data);
}

/** A file of `size` bytes with `data` written at each of `at` (the rest: holes). */
function putSparse(root: string, rel: string, size: number, at: Array<[number, Buffer]>): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, "w");
  fs.ftruncateSync(fd, size);
  for (const [offset, data] of at) fs.writeSync(fd, data, 0, data.length, offset);
  fs.closeSync(fd);
}

/** Runs debugfs -w with `commands` (one a line) on `image`; `cwd` is where host files are named from. */
function debugfsWrite(image: string, commands: string[], cwd: string): void {
  const cmds = path.join(dir, `${path.basename(image)}.cmds`);
  fs.writeFileSync(cmds, commands.join("\n") + "\n");
  const r = spawnSync("debugfs", ["-w", "-f", cmds, image], { encoding: "utf8", env, cwd });
  if (r.status !== 0 || /error|Insufficient|not found/i.test(r.stderr)) throw new Error(`debugfs -w ${image}: ${r.stderr}`);
}

/** Every regular file under `root`: path ("/a/b") -> content. */
function regularFiles(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full, `${rel}/${e.name}`);
      else if (e.isFile()) files.set(`${rel}/${e.name}`, fs.readFileSync(full));
    }
  };
  walk(root, "");
  return files;
}

/** Every regular file of the image as debugfs extracts it: path inside the image -> content. */
function rdump(image: string): Map<string, Buffer> {
  const out = fs.mkdtempSync(path.join(dir, "rdump-"));
  const r = spawnSync("debugfs", ["-R", `rdump / ${out}`, image], { encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`debugfs rdump ${image}: ${r.stderr}`);
  const files = regularFiles(out);
  fs.rmSync(out, { recursive: true, force: true });
  return files;
}

interface Listed {
  file: string;
  layout: Ext4Layout;
  files: Ext4FileList;
  content: Ext4FileReader;
  src: FileBlockSource;
  /** Index of the file with this path. */
  byPath: Map<string, number>;
}

const opened: FileBlockSource[] = [];
after(() => opened.forEach((s) => s.close()));

function list(file: string): Listed {
  const src = new FileBlockSource(file);
  opened.push(src);
  const layout = readExt4Layout(src)!;
  const files = listExt4Files(src, layout);
  const byPath = new Map<string, number>();
  for (let i = 0; i < files.count; i++) for (const p of files.paths[i]!) byPath.set(p, i);
  return { file, layout, files, content: new Ext4FileReader(src, files), src, byPath };
}

/** File i rebuilt from its pieces with plain reads of the image (independent of Ext4FileReader). */
function rebuild(img: Listed, i: number): Buffer {
  const { pieces, pieceStart, size } = img.files;
  const out = Buffer.alloc(size[i]!);
  const fd = fs.openSync(img.file, "r");
  try {
    let expectOffset = 0;
    for (let p = pieceStart[i]!; p < pieceStart[i + 1]!; p++) {
      const [fileOffset, at, length] = [pieces[3 * p]!, pieces[3 * p + 1]!, pieces[3 * p + 2]!];
      assert.equal(fileOffset, expectOffset, `file ${img.files.paths[i]}: pieces in order, without gaps`);
      assert.ok(length > 0, "no empty piece");
      if (at !== HOLE) {
        assert.ok(at >= 0 && at + length <= img.layout.blocksCount * img.layout.blockSize, "a piece lies inside the filesystem");
        assert.equal(fs.readSync(fd, out, fileOffset, length, at), length);
      }
      expectOffset += length;
    }
    assert.equal(expectOffset, size[i], `file ${img.files.paths[i]}: pieces cover the whole file`);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * The list against `expected` (debugfs rdump by default): the same regular files (one entry per
 * inode, all its names) and the same content, rebuilt from the pieces and streamed by
 * Ext4FileReader.
 */
function checkContents(img: Listed, expected = rdump(img.file)): void {
  const listedPaths = [...img.byPath.keys()].sort();
  assert.deepEqual(listedPaths, [...expected.keys()].sort(), "the regular files debugfs extracts, by path");
  assert.equal(new Set(img.files.inode).size, img.files.count, "one entry per inode");
  for (let i = 0; i < img.files.count; i++) {
    const want = expected.get(img.files.paths[i]![0]!)!;
    assert.equal(img.files.size[i], want.length, `size of ${img.files.paths[i]}`);
    assert.ok(rebuild(img, i).equals(want), `content of ${img.files.paths[i]} rebuilt from its pieces`);
    assert.equal(img.content.sha256(i), sha256(want), `content of ${img.files.paths[i]} streamed`);
  }
}

/** File `rel`'s pieces as [fileOffset, "hole" | "data", length]. */
function shape(img: Listed, rel: string): Array<[number, string, number]> {
  const i = img.byPath.get(rel);
  assert.ok(i !== undefined, `${rel} is listed`);
  const out: Array<[number, string, number]> = [];
  const { pieces, pieceStart } = img.files;
  for (let p = pieceStart[i]!; p < pieceStart[i + 1]!; p++) out.push([pieces[3 * p]!, pieces[3 * p + 1] === HOLE ? "hole" : "data", pieces[3 * p + 2]!]);
  return out;
}

const KIB = 1024;
const MIB = 1024 * 1024;

describe("listExt4Files", () => {
  test("extents, 4 KiB blocks: hard links, sparse files, unwritten extents, empty files; symlinks and fifos are not files", (t: TestContext) => {
    if (!needTools(t, "mke2fs", "debugfs")) return;
    const root = path.join(dir, "extents4k.root");
    put(root, "etc/hostname", "device\n");
    put(root, "usr/bin/tool", bytes(300_000, 1));
    put(root, "a/b/c/deep.txt", bytes(20_000, 2));
    put(root, "home/user/notes", bytes(9000, 3));
    fs.linkSync(path.join(root, "home/user/notes"), path.join(root, "etc/notes-link"));
    put(root, "empty", "");
    putSparse(root, "var/sparse", 3 * MIB, [
      [8192, bytes(5000, 4)],
      [MIB, bytes(4096, 5)],
    ]);
    fs.symlinkSync("x".repeat(200), path.join(root, "slow-link"));
    fs.symlinkSync("etc/hostname", path.join(root, "fast-link"));
    spawnSync("mkfifo", [path.join(root, "fifo")]);
    for (let i = 0; i < 400; i++) put(root, `many/file-with-a-longish-name-${i}`, `${i}\n`);
    const image = path.join(dir, "extents4k.img");
    mkfs(image, root, 32, ["-t", "ext4", "-b", "4096"]);
    indexDirectories(image); // /many becomes a hash-tree directory
    // Two written blocks, two preallocated ones right after them on disk, then a hole to the end.
    fs.writeFileSync(path.join(dir, "eight"), bytes(8192, 6));
    debugfsWrite(image, ["write eight /prealloc", "fallocate /prealloc 2 3", "sif /prealloc size 24576"], dir);

    const img = list(image);
    const manyStat = spawnSync("debugfs", ["-R", "stat /many", image], { encoding: "utf8", env }).stdout;
    assert.match(manyStat, /Flags: 0x\w*1\w{3}\b/, "/many has a hash-tree index (EXT4_INDEX_FL)");
    checkContents(img);
    const notes = img.byPath.get("/home/user/notes")!;
    assert.deepEqual(img.files.paths[notes], ["/etc/notes-link", "/home/user/notes"]);
    assert.ok(!img.byPath.has("/slow-link") && !img.byPath.has("/fast-link") && !img.byPath.has("/fifo"));
    assert.deepEqual(shape(img, "/empty"), []);
    assert.deepEqual(shape(img, "/var/sparse"), [
      [0, "hole", 8192],
      [8192, "data", 5000 + 3192], // whole blocks: the written bytes and the zeros after them in their block
      [16384, "hole", MIB - 16384],
      [MIB, "data", 4096],
      [MIB + 4096, "hole", 2 * MIB - 4096],
    ]);
    // The unwritten blocks follow the written ones on disk, yet read as zeros: a hole.
    assert.deepEqual(shape(img, "/prealloc"), [
      [0, "data", 8192],
      [8192, "hole", 16384],
    ]);
    assert.equal(img.files.flags[notes], 0);
  });

  test("block maps (ext3), 1 KiB blocks: direct, indirect, double and triple indirect blocks, holes in the maps", (t: TestContext) => {
    if (!needTools(t, "mke2fs", "debugfs")) return;
    const root = path.join(dir, "blockmap1k.root");
    put(root, "usr/lib/double", bytes(400 * KIB + 123, 7)); // past 12 + 256 blocks: double indirect
    put(root, "bin/small", bytes(5000, 8));
    fs.linkSync(path.join(root, "bin/small"), path.join(root, "bin/small-too"));
    // Triple indirect blocks start past 12 + 256 + 65536 blocks (about 64.3 MiB).
    putSparse(root, "sparse", 80 * MIB + 1000, [
      [0, bytes(1000, 9)],
      [300 * KIB, bytes(2048, 10)],
      [80 * MIB, bytes(1000, 11)],
    ]);
    const image = path.join(dir, "blockmap1k.img");
    mkfs(image, root, 16, ["-t", "ext3", "-b", "1024"]);
    const img = list(image);
    assert.equal(img.layout.extents, false);
    checkContents(img);
    assert.deepEqual(
      shape(img, "/sparse").map(([o, kind]) => [o, kind]),
      [
        [0, "data"],
        [1024, "hole"],
        [300 * KIB, "data"],
        [302 * KIB, "hole"],
        [80 * MIB, "data"],
      ],
    );
    assert.equal(img.files.paths[img.byPath.get("/bin/small")!]!.length, 2);
  });

  test("a fragmented file (extent tree below the inode), 1 KiB blocks", (t: TestContext) => {
    if (!needTools(t, "mke2fs", "debugfs")) return;
    const root = path.join(dir, "fragmented.root");
    for (let i = 0; i < 40; i++) put(root, `fill/f${i}`, bytes(8192, 100 + i));
    const image = path.join(dir, "fragmented.img");
    mkfs(image, root, 8, ["-t", "ext4", "-b", "1024"]);
    // Every other filler freed: the next file written fills the gaps, one extent per gap.
    fs.writeFileSync(path.join(dir, "big400"), bytes(400_000, 12));
    const rm = Array.from({ length: 20 }, (_, i) => `rm /fill/f${2 * i}`);
    debugfsWrite(image, [...rm, "write big400 /frag"], dir);
    const img = list(image);
    checkContents(img);
    const pieces = shape(img, "/frag");
    assert.ok(pieces.length > 4, `more extents than the inode holds (${pieces.length} pieces)`);
    assert.ok(pieces.every(([, kind]) => kind === "data"));
  });

  test("inline data: in i_block, and past it in the system.data attribute; inline directories", (t: TestContext) => {
    if (!needTools(t, "mke2fs", "debugfs")) return;
    const root = path.join(dir, "inline.root");
    put(root, "etc/tiny", "tiny\n");
    put(root, "etc/sixty", bytes(60, 13));
    put(root, "etc/big", bytes(5000, 14));
    put(root, "d/x", "x\n"); // /d is small enough to be an inline directory
    const image = path.join(dir, "inline.img");
    mkfs(image, root, 8, ["-t", "ext4", "-O", "inline_data", "-I", "512"]);
    // mke2fs -d inlines files of up to 60 bytes; one of 150 bytes needs the attribute too.
    fs.writeFileSync(path.join(dir, "head60"), bytes(60, 15));
    fs.writeFileSync(path.join(dir, "tail90"), bytes(90, 16));
    debugfsWrite(image, ["write head60 /grown", "ea_set -f tail90 /grown system.data", "sif /grown size 150"], dir);
    const img = list(image);
    assert.ok(img.layout.inlineData);
    const dirStat = spawnSync("debugfs", ["-R", "stat /d", image], { encoding: "utf8", env }).stdout;
    assert.match(dirStat, /Type: directory.*Flags: 0x10000000/, "/d is an inline directory");
    // debugfs (1.47) extracts an inline file with all 60 bytes of i_block whatever its size: the
    // tree the image was made from is the oracle here.
    const expected = regularFiles(root);
    expected.set("/grown", Buffer.concat([bytes(60, 15), bytes(90, 16)]));
    checkContents(img, expected);
    for (const rel of ["/etc/tiny", "/etc/sixty", "/grown", "/d/x"]) {
      const i = img.byPath.get(rel)!;
      assert.equal(img.files.flags[i], FILE_INLINE, `${rel} is inline`);
      const inode = inodeByteOffset(img.layout, img.files.inode[i]!);
      for (let p = img.files.pieceStart[i]!; p < img.files.pieceStart[i + 1]!; p++) {
        const at = img.files.pieces[3 * p + 1]!;
        assert.ok(at >= inode && at + img.files.pieces[3 * p + 2]! <= inode + img.layout.inodeSize, `${rel}: its pieces are in its inode`);
      }
    }
    assert.equal(shape(img, "/grown").length, 2, "i_block and the attribute value");
    assert.equal(img.files.flags[img.byPath.get("/etc/big")!], 0);
  });
});

describe("pairFiles", () => {
  /** The images of `oldRoot` and `newRoot` (as `name`-old.img, `name`-new.img), listed. */
  const imagesOf = (name: string, oldRoot: string, newRoot: string): [Listed, Listed] => {
    const file = (side: string): string => path.join(dir, `${name}-${side}.img`);
    mkfs(file("old"), oldRoot, 8, ["-t", "ext4"]);
    mkfs(file("new"), newRoot, 8, ["-t", "ext4"]);
    return [list(file("old")), list(file("new"))];
  };
  /** For a path of the new image: its pairing rule, its old file's first name and whether it is unchanged. */
  const pairingOf = (a: Listed, b: Listed, pairs: ReturnType<typeof pairFiles>) => (rel: string) => {
    const n = b.byPath.get(rel)!;
    const o = pairs.old[n]!;
    return { rule: pairs.rule[n], old: o < 0 ? undefined : a.files.paths[o]![0], unchanged: pairs.unchanged[n] === 1 };
  };

  test("same path, renamed (same content), version bumped, new; unchanged pairs are known", (t: TestContext) => {
    if (!needTools(t, "mke2fs", "debugfs")) return;
    const oldRoot = path.join(dir, "pair-old.root");
    const newRoot = path.join(dir, "pair-new.root");
    const lib = bytes(200_000, 20);
    const libNew = Buffer.from(lib);
    libNew.write("patched", 1000);
    put(oldRoot, "etc/same", bytes(3000, 21));
    put(newRoot, "etc/same", bytes(3000, 21));
    put(oldRoot, "etc/changed", bytes(3000, 22));
    put(newRoot, "etc/changed", bytes(3100, 23));
    put(oldRoot, "usr/bin/tool", bytes(50_000, 24));
    put(newRoot, "usr/local/bin/tool-renamed", bytes(50_000, 24));
    put(oldRoot, "usr/lib/libfoo.so.1.2.3", lib);
    put(newRoot, "usr/lib/libfoo.so.1.2.4", libNew);
    put(oldRoot, "lib/modules/6.1.0-17-amd64/kernel/fs/ext4.ko", bytes(70_000, 25));
    put(newRoot, "lib/modules/6.1.0-18-amd64/kernel/fs/ext4.ko", bytes(70_500, 26));
    put(newRoot, "new-file", bytes(4000, 27));
    put(oldRoot, "old-empty", "");
    put(newRoot, "new-empty", "");
    const [a, b] = imagesOf("pair", oldRoot, newRoot);
    const got = pairingOf(a, b, pairFiles(a.files, b.files, (side, i) => (side === "old" ? a : b).content.contentDigest(i)));
    assert.deepEqual(got("/etc/same"), { rule: PAIR_PATH, old: "/etc/same", unchanged: true });
    assert.deepEqual(got("/etc/changed"), { rule: PAIR_PATH, old: "/etc/changed", unchanged: false });
    assert.deepEqual(got("/usr/local/bin/tool-renamed"), { rule: PAIR_CONTENT, old: "/usr/bin/tool", unchanged: true });
    assert.deepEqual(got("/usr/lib/libfoo.so.1.2.4"), { rule: PAIR_VERSION, old: "/usr/lib/libfoo.so.1.2.3", unchanged: false });
    assert.deepEqual(got("/lib/modules/6.1.0-18-amd64/kernel/fs/ext4.ko"), {
      rule: PAIR_VERSION,
      old: "/lib/modules/6.1.0-17-amd64/kernel/fs/ext4.ko",
      unchanged: false,
    });
    assert.deepEqual(got("/new-file"), { rule: PAIR_NONE, old: undefined, unchanged: false });
    assert.deepEqual(got("/new-empty"), { rule: PAIR_NONE, old: undefined, unchanged: false }, "an empty file pairs by content with nothing");
  });

  test("sparse files pair by content with only their data hashed; the digest tells content apart", (t) => {
    if (!needTools(t, "mke2fs")) return;
    const GIB = 2 ** 30;
    const oldRoot = path.join(dir, "sparse-old.root");
    const newRoot = path.join(dir, "sparse-new.root");
    const tail = (text: string): Array<[number, Buffer]> => [[0, Buffer.from("head")], [GIB - 4096, Buffer.from(text)]];
    putSparse(oldRoot, "var/same.img", GIB, tail("same"));
    putSparse(newRoot, "var/same.img", GIB, tail("same"));
    putSparse(oldRoot, "var/moved.img", GIB, tail("moved"));
    putSparse(newRoot, "srv/renamed.img", GIB, tail("moved"));
    putSparse(oldRoot, "var/changed.img", GIB, tail("old"));
    putSparse(newRoot, "var/changed.img", GIB, tail("new"));
    const [a, b] = imagesOf("sparse", oldRoot, newRoot);
    // Bytes the digests hash: the data blocks, not the holes' zeros (which made a sparse file of
    // a TiB cost 12 minutes a side).
    const hashProto = Object.getPrototypeOf(createHash("sha256")) as { update(data: Uint8Array): unknown };
    const update = hashProto.update;
    let hashed = 0;
    hashProto.update = function (this: unknown, data: Uint8Array) {
      hashed += data.length;
      return update.call(this, data);
    };
    let pairs: ReturnType<typeof pairFiles>;
    try {
      pairs = pairFiles(a.files, b.files, (side, i) => (side === "old" ? a : b).content.contentDigest(i));
    } finally {
      hashProto.update = update;
    }
    const got = pairingOf(a, b, pairs);
    assert.equal(b.files.size[b.byPath.get("/var/same.img")!], GIB);
    assert.deepEqual(got("/var/same.img"), { rule: PAIR_PATH, old: "/var/same.img", unchanged: true });
    assert.deepEqual(got("/srv/renamed.img"), { rule: PAIR_CONTENT, old: "/var/moved.img", unchanged: true });
    assert.deepEqual(got("/var/changed.img"), { rule: PAIR_PATH, old: "/var/changed.img", unchanged: false });
    assert.ok(hashed < 1 << 20, `the digests hashed ${hashed} bytes`);
  });

  test("without a content hash: paths and versions only, nothing known unchanged", () => {
    const oldFiles = { count: 3, size: [10, 20, 30], paths: [["/a"], ["/lib/libx.so.1"], ["/moved"]] };
    const newFiles = { count: 4, size: [10, 21, 30, 5], paths: [["/a"], ["/lib/libx.so.2"], ["/elsewhere"], ["/b", "/a-link"]] };
    const pairs = pairFiles(oldFiles, newFiles);
    assert.deepEqual([...pairs.old], [0, 1, -1, -1]);
    assert.deepEqual([...pairs.rule], [PAIR_PATH, PAIR_VERSION, PAIR_NONE, PAIR_NONE]);
    assert.deepEqual([...pairs.unchanged], [0, 0, 0, 0]);
  });

  test("a hard-linked new file pairs through any of its names; among version candidates, the closest size", () => {
    const oldFiles = { count: 3, size: [100, 1000, 5000], paths: [["/x"], ["/lib/libz.so.1.2.11"], ["/lib/libz.so.1.2.12"]] };
    const newFiles = { count: 2, size: [100, 4900], paths: [["/other", "/x"], ["/lib/libz.so.1.2.13"]] };
    const pairs = pairFiles(oldFiles, newFiles);
    assert.deepEqual([...pairs.old], [0, 2]);
    assert.deepEqual([...pairs.rule], [PAIR_PATH, PAIR_VERSION]);
  });

  test("version-less paths", () => {
    assert.equal(versionlessPath("/usr/lib/libfoo.so.1.2.3"), versionlessPath("/usr/lib/libfoo.so.1.3"));
    assert.equal(versionlessPath("/lib/modules/6.1.0-17-amd64/x.ko"), versionlessPath("/lib/modules/6.1.0-18-amd64/x.ko"));
    assert.notEqual(versionlessPath("/usr/lib/libfoo.so.1"), versionlessPath("/usr/lib/libbar.so.1"));
    assert.equal(versionlessPath("/etc/hostname"), undefined);
  });
});
