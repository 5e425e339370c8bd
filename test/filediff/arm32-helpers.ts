/**
 * Small 32-bit ARM ELF files for the ARM32 executable-aware diff tests: one loadable segment
 * mapping the whole file at BASE32 (plus `bss` zero-filled bytes), a code section and optionally
 * a REL section. Real binaries: the armhf libz pair in fixtures/ (zlib1g 1:1.2.13.dfsg-1 and
 * +deb12u1, the armhf corpus pair's security upgrade).
 */
import fs from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";

export const BASE32 = 0x10000;
/** Where the code section starts in the file (4-byte aligned, as its address). */
export const CODE32_AT = 0x80;

export interface TinyElf32 {
  code: Uint8Array;
  /** REL entries: [r_offset, r_info]. */
  rel?: [number, number][];
  /** Zero-filled memory after the file bytes. */
  bss?: number;
  /** Bytes after the code (data the references may point at). */
  data?: number;
}

/** The file: header, one PT_LOAD, code at CODE32_AT, data, REL, section headers (null, .text, .rel.dyn). */
export function tinyElf32(spec: TinyElf32): Uint8Array {
  const relAt = CODE32_AT + spec.code.length + (spec.data ?? 0);
  const rel = spec.rel ?? [];
  const shoff = relAt + 8 * rel.length;
  const sections = rel.length > 0 ? 3 : 2;
  const bytes = new Uint8Array(shoff + 40 * sections);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  v.setUint16(16, 3, true); // ET_DYN
  v.setUint16(18, 40, true); // EM_ARM
  v.setUint32(0x1c, 52, true); // e_phoff
  v.setUint32(0x20, shoff, true);
  v.setUint16(0x2a, 32, true);
  v.setUint16(0x2c, 1, true);
  v.setUint16(0x2e, 40, true);
  v.setUint16(0x30, sections, true);
  // PT_LOAD: the whole file at BASE32.
  v.setUint32(52, 1, true);
  v.setUint32(52 + 8, BASE32, true);
  v.setUint32(52 + 16, bytes.length, true);
  v.setUint32(52 + 20, bytes.length + (spec.bss ?? 0), true);
  v.setUint32(52 + 24, 5, true);
  bytes.set(spec.code, CODE32_AT);
  rel.forEach(([where, info], i) => {
    v.setUint32(relAt + 8 * i, where, true);
    v.setUint32(relAt + 8 * i + 4, info, true);
  });
  const section = (i: number, type: number, flags: number, offset: number, size: number, entsize: number): void => {
    const at = shoff + 40 * i;
    v.setUint32(at + 4, type, true);
    v.setUint32(at + 8, flags, true);
    v.setUint32(at + 12, BASE32 + offset, true);
    v.setUint32(at + 16, offset, true);
    v.setUint32(at + 20, size, true);
    v.setUint32(at + 36, entsize, true);
  };
  section(1, 1, 6, CODE32_AT, spec.code.length, 0);
  if (rel.length > 0) section(2, 9, 2, relAt, 8 * rel.length, 8);
  return bytes;
}

/** A Thumb-2 32-bit instruction's halfwords as they lie in the file. */
export const thumb32 = (hw1: number, hw2: number): number[] => [hw1 & 0xff, hw1 >> 8, hw2 & 0xff, hw2 >> 8];

const FIXTURES = path.join(__dirname, "fixtures");

/** zlib's armhf libz.so before and after the armhf corpus pair's security upgrade. */
export function libzArmhfPair(): { old: Uint8Array; neu: Uint8Array } {
  const read = (name: string): Uint8Array => new Uint8Array(gunzipSync(fs.readFileSync(path.join(FIXTURES, name))));
  return { old: read("libz.so.armhf.old.gz"), neu: read("libz.so.armhf.new.gz") };
}
