/**
 * Seeds of the ext4 target: small file systems made by the real `mke2fs -d` from one fixed tree,
 * each of them 256 KiB (1 KiB blocks, no journal: the fuzzer's input limit). Between them they
 * hold what the generator's reader walks: extent trees and ext2's indirect blocks, inline data,
 * a hash-tree directory (`e2fsck -D`), fast and slow symlinks, a hard link, a sparse file and
 * nested directories. Fixed UUID, hash seed and times (mke2fs copies atime and ctime from the host's
 * files, which only a debugfs pass afterwards can pin): the same bytes every run.
 */
import { execFileSync } from "node:child_process";
import { lutimesSync, mkdirSync, readdirSync, readFileSync, symlinkSync, linkSync, writeFileSync, truncateSync } from "node:fs";
import path from "node:path";
import { HOLE, listExt4Files, readExt4Layout } from "../../src/fs/ext4";
import { MemorySource, Rng } from "../vcdiff/helpers";
import { inputRng, mutateAt, mutatedInput } from "./mutate";

const IMAGE_BYTES = 256 << 10;
const FIXED = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const EPOCH = 1767225600;

function tree(root: string): void {
  mkdirSync(path.join(root, "d", "e"), { recursive: true });
  // Long names: the root directory takes several blocks, which e2fsck -D indexes as a hash tree.
  for (let i = 1; i <= 40; i++) writeFileSync(path.join(root, `a-rather-long-file-name-number-${i}`), `file ${i}\n`);
  writeFileSync(path.join(root, "big"), new Rng(11).bytes(30_000));
  symlinkSync("a-rather-long-file-name-number-1", path.join(root, "fast"));
  symlinkSync("x".repeat(100), path.join(root, "slow"));
  linkSync(path.join(root, "a-rather-long-file-name-number-2"), path.join(root, "hard"));
  writeFileSync(path.join(root, "sparse"), "");
  truncateSync(path.join(root, "sparse"), 100_000);
  writeFileSync(path.join(root, "sparse"), "tail\n", { flag: "a" });
  writeFileSync(path.join(root, "d", "e", "f"), "deep\n");
}

/** Every path below `root` ("/d/e/f"), directories before what they hold, and "/" first. */
function paths(root: string, below = ""): string[] {
  const out = below === "" ? ["/"] : [];
  for (const e of readdirSync(path.join(root, below), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = `${below}/${e.name}`;
    out.push(p);
    if (e.isDirectory()) out.push(...paths(root, p));
  }
  return out;
}

/** The seed images (mke2fs and e2fsck run in `dir`). */
export function ext4Seeds(dir: string): Uint8Array[] {
  const root = path.join(dir, "tree");
  tree(root);
  const all = paths(root);
  for (const p of [...all].reverse()) lutimesSync(path.join(root, p), EPOCH, EPOCH);
  const pin = path.join(dir, "pin-times.debugfs");
  writeFileSync(pin, all.map((p) => `sif "${p}" atime @${EPOCH}\nsif "${p}" ctime @${EPOCH}\n`).join(""));
  const env = { ...process.env, E2FSPROGS_FAKE_TIME: String(EPOCH), E2FSCK_TIME: String(EPOCH) };
  const variants: string[][] = [
    ["-t", "ext4", "-b", "1024"],
    ["-t", "ext4", "-b", "1024", "-O", "inline_data"],
    ["-t", "ext2", "-b", "1024"],
  ];
  return variants.map((options, k) => {
    const file = path.join(dir, `seed-${k}.img`);
    writeFileSync(file, new Uint8Array(0));
    truncateSync(file, IMAGE_BYTES);
    execFileSync("mke2fs", ["-q", "-F", ...options, "-N", "64", "-U", FIXED, "-E", `hash_seed=${FIXED}`, "-d", root, file], { env, stdio: "ignore" });
    execFileSync("debugfs", ["-w", "-f", pin, file], { env, stdio: "ignore" });
    // -D: the directories re-indexed (hash trees); exit 1 means "fixed", which -D always reports.
    try {
      execFileSync("e2fsck", ["-fyD", file], { env, stdio: "ignore" });
    } catch (err) {
      if ((err as { status?: number }).status !== 1) throw err;
    }
    return new Uint8Array(readFileSync(file));
  });
}

/**
 * The byte ranges of `image`'s blocks that hold metadata (superblock, group descriptors, bitmaps,
 * inode tables, directories, extent and indirect blocks): every block that no file's data lies in
 * and that is not all zeros. Read with the reader under test, from a valid seed.
 */
function metadataRanges(image: Uint8Array): Array<[number, number]> {
  const src = new MemorySource(image);
  const layout = readExt4Layout(src);
  if (!layout) return [[0, image.length]];
  const bs = layout.blockSize;
  const data = new Uint8Array(Math.ceil(image.length / bs));
  const files = listExt4Files(src, layout);
  for (let p = 0; p < files.pieceStart[files.count]!; p++) {
    const at = files.pieces[3 * p + 1]!;
    if (at === HOLE) continue;
    for (let b = Math.floor(at / bs); b * bs < at + files.pieces[3 * p + 2]!; b++) data[b] = 1;
  }
  const ranges: Array<[number, number]> = [];
  for (let b = 0; b < data.length; b++) {
    const block = image.subarray(b * bs, (b + 1) * bs);
    if (!data[b] && block.some((x) => x !== 0)) ranges.push([b * bs, b * bs + block.length]);
  }
  return ranges;
}

const metadataOf = new WeakMap<Uint8Array, Array<[number, number]>>();

/**
 * Input `index` of an ext4 run: every other one the generic mutation (truncations and splices
 * too); the others a seed with one to four point mutations in its metadata blocks, the image's
 * length kept, since most generic mutations of a 256 KiB image land in file data or change its
 * length, which the superblock check refuses first.
 */
export function ext4Input(seeds: readonly Uint8Array[], seed: number, index: number, maxLength: number): Uint8Array {
  if (index % 2 === 0) return mutatedInput(seeds, seed, index, { maxLength });
  const rng = inputRng(seed, index);
  const base = seeds[rng.below(seeds.length)]!;
  let ranges = metadataOf.get(base);
  if (!ranges) metadataOf.set(base, (ranges = metadataRanges(base)));
  const data = Uint8Array.from(base);
  const count = 1 + (rng.below(4) === 0 ? rng.below(4) : 0);
  for (let k = 0; k < count; k++) {
    const [start, end] = ranges[rng.below(ranges.length)]!;
    mutateAt(data, start + rng.below(end - start), rng);
  }
  return data;
}
