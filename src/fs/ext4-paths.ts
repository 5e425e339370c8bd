/**
 * Names for inode numbers: walks the directory tree from the root (inode 2), for every name or
 * until every wanted inode has one. Hash-tree directories are read linearly (their index blocks look
 * like empty directory blocks). A damaged directory block is skipped rather than fatal: the names
 * are for a message, and a mounted filesystem read from underneath may be caught mid-change.
 */
import { inlineDataParts } from "./ext4-inline-data";
import { readInode } from "./ext4-inode-table";
import { hasInlineData, inodeMode, S_IFDIR, S_IFMT, visitInodeBlocks } from "./ext4-inode";
import type { Ext4Layout } from "./ext4-layout";
import type { FsBlockReader } from "./fs-block-reader";

const ROOT_INODE = 2;
const FT_DIR = 2;
/** An inline directory's i_block starts with its parent's inode number; its entries follow. */
const INLINE_PARENT_BYTES = 4;

/** A path for each inode in `wanted` that has one (hard links: any one of them). */
export function pathsOf(reader: FsBlockReader, layout: Ext4Layout, wanted: ReadonlySet<number>): Map<number, string> {
  const names = new Map<number, string>();
  if (wanted.has(ROOT_INODE)) names.set(ROOT_INODE, "/");
  if (names.size === wanted.size) return names;
  walkDirectories(reader, layout, (ino, path) => {
    if (wanted.has(ino) && !names.has(ino)) names.set(ino, path);
    return names.size < wanted.size;
  });
  return names;
}

/**
 * Calls `onEntry(ino, path)` for every directory entry under the root ("/a/b"), each directory
 * once (a directory reached twice, as in a damaged filesystem, is not walked again), until
 * `onEntry` returns false. Every name of a hard-linked inode is reported.
 */
export function walkDirectories(reader: FsBlockReader, layout: Ext4Layout, onEntry: (ino: number, path: string) => boolean): void {
  const visited = new Set<number>([ROOT_INODE]);
  const stack: Array<[number, string]> = [[ROOT_INODE, ""]];
  const inode = new Uint8Array(layout.inodeSize);
  const block = new Uint8Array(layout.blockSize);
  let going = true;
  while (stack.length > 0 && going) {
    const [dir, dirPath] = stack.pop()!;
    const onDirEntry = (ino: number, name: string, isDir: boolean | undefined) => {
      if (!going) return;
      const path = `${dirPath}/${name}`;
      going = onEntry(ino, path);
      if (isDir === undefined) isDir = (inodeMode(readInode(reader, layout, ino, inode)) & S_IFMT) === S_IFDIR;
      if (isDir && !visited.has(ino)) {
        visited.add(ino);
        stack.push([ino, path]);
      }
    };
    const raw = readInode(reader, layout, dir, inode).slice();
    if ((inodeMode(raw) & S_IFMT) !== S_IFDIR) continue;
    if (hasInlineData(raw)) {
      inlineDataParts(raw, dir).forEach(([offset, length], i) => {
        parseEntries(raw.subarray(offset + (i === 0 ? INLINE_PARENT_BYTES : 0), offset + length), layout, onDirEntry);
      });
      continue;
    }
    visitInodeBlocks(reader, layout, dir, raw, {
      data(start, count) {
        for (let b = start; b < start + count && going; b++) parseEntries(reader.read(b, 1, block), layout, onDirEntry);
      },
      index() {},
      xattr() {},
    });
  }
}

/** Calls `onEntry` for each live entry but "." and ".."; `isDir` is undefined when the entry carries no type. */
function parseEntries(bytes: Uint8Array, layout: Ext4Layout, onEntry: (ino: number, name: string, isDir: boolean | undefined) => void): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  while (o + 8 <= bytes.length) {
    const ino = v.getUint32(o, true);
    let recLen = v.getUint16(o + 4, true);
    if (layout.blockSize >= 65536) recLen = recLen === 65535 || recLen === 0 ? layout.blockSize : (recLen & 65532) | ((recLen & 3) << 16);
    const nameLen = layout.fileType ? bytes[o + 6]! : v.getUint16(o + 6, true);
    if (recLen < 8 || o + recLen > bytes.length || 8 + nameLen > recLen) return; // damaged: skip the rest
    if (ino !== 0 && ino <= layout.inodesCount && nameLen > 0) {
      const name = Buffer.from(bytes.subarray(o + 8, o + 8 + nameLen)).toString("utf8");
      if (name !== "." && name !== ".." && !name.includes("/")) {
        const type = layout.fileType ? bytes[o + 7]! : 0;
        onEntry(ino, name, type === 0 ? undefined : type === FT_DIR);
      }
    }
    o += recLen;
  }
}
