/**
 * e2fsprogs as the oracle for the ext4 reader: mke2fs makes real images from a directory,
 * dumpe2fs tells the group layout and free blocks, debugfs each inode's blocks and the names of
 * inodes. Block sets are bitmaps over the (small) test filesystems, independent of the reader.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const env = { ...process.env, DEBUGFS_PAGER: "__none__", PAGER: "cat" };

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** `n` deterministic pseudo-random bytes (xorshift32 from `seed`): file contents for the test trees. */
export function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Makes `image` (`sizeMiB` MiB) with mke2fs `options`, populated from `root`. */
export function mkfs(image: string, root: string, sizeMiB: number, options: string[]): void {
  run("mke2fs", ["-q", "-F", ...options, "-d", root, image, `${sizeMiB}M`]);
}

/** Rebuilds the image's directories with hash-tree indexes where they are large (mke2fs -d makes none). */
export function indexDirectories(image: string): void {
  const r = spawnSync("e2fsck", ["-fyD", image], { encoding: "utf8", env });
  if (r.status !== 0 && r.status !== 1) throw new Error(`e2fsck -fyD ${image}: exit ${r.status} ${r.stdout}`);
}

export interface DumpInfo {
  blockSize: number;
  blocksCount: number;
  inodesCount: number;
  groupCount: number;
  firstInode: number;
  /** Quota files and the orphan file. */
  specialInodes: number[];
  /** Superblocks, descriptors, reserved GDT blocks, bitmaps, inode tables: [start, end) runs. */
  metadata: Array<[number, number]>;
  free: Array<[number, number]>;
}

export function dumpe2fs(image: string): DumpInfo {
  const out = run("dumpe2fs", [image]);
  const header = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(out)?.[1]);
  const metadata: Array<[number, number]> = [];
  const free: Array<[number, number]> = [];
  const range = (a: string, b: string | undefined): [number, number] => [Number(a), Number(b ?? a) + 1];
  for (const line of out.split("\n")) {
    for (const m of line.matchAll(/(?:superblock|Group descriptors?|Reserved GDT blocks|Block bitmap|Inode bitmap|Inode table) at (\d+)(?:-(\d+))?/g)) {
      metadata.push(range(m[1]!, m[2]));
    }
    const f = /^\s+Free blocks: (.*)$/.exec(line);
    if (f?.[1]) for (const m of f[1].matchAll(/(\d+)(?:-(\d+))?/g)) free.push(range(m[1]!, m[2]));
  }
  return {
    blockSize: header("Block size"),
    blocksCount: header("Block count"),
    inodesCount: header("Inode count"),
    groupCount: (out.match(/^Group \d+:/gm) ?? []).length,
    firstInode: header("First inode"),
    specialInodes: [...out.matchAll(/^(?:\w+ quota inode|Orphan file inode):\s+(\d+)/gm)].map((m) => Number(m[1])),
    metadata,
    free,
  };
}

export interface InodeBlocks {
  type: string;
  /** The inode's size in bytes. */
  size: number;
  /** Data blocks. */
  data: number[];
  /** Extent tree blocks below the inode, indirect blocks. */
  index: number[];
  xattr: number[];
}

/** `debugfs stat` of each spec ("/path" or "<ino>"), in one debugfs run. */
export function debugfsStat(image: string, specs: string[], scratch: string): InodeBlocks[] {
  const cmds = path.join(scratch, "debugfs.cmds");
  fs.writeFileSync(cmds, specs.map((s) => `stat "${s}"\n`).join(""));
  const parts = run("debugfs", ["-f", cmds, image]).split(/^debugfs: /m).slice(1);
  if (parts.length !== specs.length) throw new Error(`debugfs answered ${parts.length} of ${specs.length} stats`);
  return parts.map((part, i) => {
    if (!/^Inode: /m.test(part)) throw new Error(`debugfs stat ${specs[i]}: ${part.trim()}`);
    const type = /Type: (\S+)/.exec(part)![1]!;
    const acl = Number(/File ACL: (\d+)/.exec(part)?.[1] ?? 0);
    const size = Number(/Size: (\d+)/.exec(part)?.[1] ?? 0);
    const blocks: InodeBlocks = { type, size, data: [], index: [], xattr: acl ? [acl] : [] };
    const list = /^(?:BLOCKS|EXTENTS):\n([\s\S]*?)(?:\nTOTAL|\n\n|$)/m.exec(part)?.[1] ?? "";
    for (const m of list.matchAll(/\(([^)]+)\):(\d+)(?:-(\d+))?/g)) {
      const label = m[1]!;
      const from = Number(m[2]);
      const to = Number(m[3] ?? m[2]);
      if (label.includes("[uninit]") || /^\d/.test(label)) {
        for (let b = from; b <= to; b++) blocks.data.push(b);
      } else {
        for (let b = from; b <= to; b++) blocks.index.push(b); // IND, DIND, TIND, ETBn
      }
    }
    return blocks;
  });
}

/** `debugfs icheck`: the inode owning each block (0 when none). */
export function icheck(image: string, blocks: number[]): Map<number, number> {
  const out = run("debugfs", ["-R", `icheck ${blocks.join(" ")}`, image]);
  const owners = new Map<number, number>();
  for (const m of out.matchAll(/^(\d+)\s+(\d+|<block not found>)$/gm)) owners.set(Number(m[1]), /^\d/.test(m[2]!) ? Number(m[2]) : 0);
  return owners;
}

/** `debugfs ncheck`: every path of each inode. */
export function ncheck(image: string, inodes: number[]): Map<number, string[]> {
  const out = run("debugfs", ["-R", `ncheck ${inodes.join(" ")}`, image]);
  const names = new Map<number, string[]>();
  for (const m of out.matchAll(/^(\d+)\s+(\/.*)$/gm)) {
    const ino = Number(m[1]);
    names.set(ino, [...(names.get(ino) ?? []), m[2]!.replace(/\/+/g, "/")]);
  }
  return names;
}

/** Every directory (as "/..." inside the image) and every other entry under `root`, plus lost+found. */
export function listTree(root: string): { dirs: string[]; others: string[] } {
  const dirs = ["/", "/lost+found"];
  const others: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        dirs.push(p);
        walk(path.join(dir, e.name), p);
      } else others.push(p);
    }
  };
  walk(root, "");
  return { dirs, others };
}

/** A set of blocks of a small filesystem. */
export class BlockSet {
  readonly bits: Uint8Array;
  constructor(readonly blocks: number) {
    this.bits = new Uint8Array(blocks);
  }
  add(start: number, end = start + 1): void {
    this.bits.fill(1, start, Math.min(end, this.blocks));
  }
  has(block: number): boolean {
    return this.bits[block] === 1;
  }
  /** The first blocks in one set and not in the other, for a readable failure. */
  difference(other: BlockSet, max = 20): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.blocks && out.length < max; b++) if (this.bits[b] && !other.bits[b]) out.push(b);
    return out;
  }
}
