/**
 * Inline data (the inline_data feature): a small file's or directory's bytes kept in the inode
 * itself, first in i_block (60 bytes), the rest in the value of the in-inode extended attribute
 * "system.data". Both parts are returned as places inside the raw inode, so that a caller can
 * name them as bytes of the image (the inode table) or read them from the inode it holds.
 */
import { MenderDeltaError } from "../errors";

const I_BLOCK = 0x28;
const I_BLOCK_BYTES = 60;
const GOOD_OLD_INODE_SIZE = 128;
const XATTR_MAGIC = 0xea020000;
const XATTR_INDEX_SYSTEM = 7;
const ENTRY_HEADER = 16;

/** A part of the inline data: `length` bytes at `offset` in the raw inode. */
export type InlinePart = [offset: number, length: number];

/**
 * The parts of inode `ino`'s inline data, in order: i_block, then the system.data value when the
 * inode has one. i_block is returned whole (60 bytes): a file's size says how much of it counts.
 */
export function inlineDataParts(raw: Uint8Array, ino: number): InlinePart[] {
  const parts: InlinePart[] = [[I_BLOCK, I_BLOCK_BYTES]];
  const value = systemDataValue(raw, ino);
  if (value && value[1] > 0) parts.push(value);
  return parts;
}

/** Where the value of the in-inode attribute "system.data" is, or undefined when there is none. */
function systemDataValue(raw: Uint8Array, ino: number): InlinePart | undefined {
  if (raw.length <= GOOD_OLD_INODE_SIZE) return undefined;
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const extra = v.getUint16(0x80, true);
  const header = GOOD_OLD_INODE_SIZE + extra;
  if (extra % 4 !== 0 || header + 4 > raw.length || v.getUint32(header, true) !== XATTR_MAGIC) return undefined;
  const first = header + 4;
  const corrupt = () => new MenderDeltaError(`ext4: inode ${ino} has corrupt in-inode extended attributes`);
  for (let o = first; o + 4 <= raw.length && v.getUint32(o, true) !== 0; ) {
    if (o + ENTRY_HEADER > raw.length) throw corrupt();
    const nameLength = raw[o]!;
    const nameIndex = raw[o + 1]!;
    const valueOffset = v.getUint16(o + 2, true);
    const valueInode = v.getUint32(o + 4, true);
    const valueSize = v.getUint32(o + 8, true);
    if (o + ENTRY_HEADER + nameLength > raw.length) throw corrupt();
    const name = String.fromCharCode(...raw.subarray(o + ENTRY_HEADER, o + ENTRY_HEADER + nameLength));
    if (nameIndex === XATTR_INDEX_SYSTEM && name === "data") {
      // The kernel never stores inline data in a separate value inode.
      if (valueInode !== 0 || first + valueOffset + valueSize > raw.length) throw corrupt();
      return [first + valueOffset, valueSize];
    }
    o += (ENTRY_HEADER + nameLength + 3) & ~3;
  }
  return undefined;
}
