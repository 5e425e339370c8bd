/**
 * The parts of a little-endian ELF file (ELF64, or ELF32 as 32-bit ARM uses) that executable-aware
 * diffs need: its loadable segments (file offset <-> virtual address), the file ranges of its code
 * sections, of its RELA and REL tables, dynamic symbol tables and call frame information
 * (.eh_frame). The two classes differ only in where the header's and
 * the tables' fields sit and how wide they are (ElfClass below). A parse refuses (returns
 * undefined) anything it cannot read with certainty: wrong class or byte order, tables past the
 * end of the file, addresses beyond 2^48. The device parses the old file with it, so it must never
 * throw on hostile bytes.
 */

import { EM_X86_64, isLittleEndianElf } from "../elf-filter";

export { EM_X86_64 };

const PT_LOAD = 1;
const SHT_RELA = 4;
const SHT_NOBITS = 8;
const SHT_REL = 9;
const SHT_DYNSYM = 11;
const SHT_ARM_EXIDX = 0x70000001;
const SHF_EXECINSTR = 0x4;
/** Addresses and sizes above this are refused: they would not be exact as numbers after arithmetic. */
export const MAX_ADDRESS = 2 ** 48;
/** Segment and section counts above these are refused (real files have a dozen and a few dozen). */
export const MAX_SEGMENTS = 64;
const MAX_SECTIONS = 4096;

/** Loadable segments as parallel arrays, in program header order. */
export interface LoadSegments {
  count: number;
  offset: Float64Array;
  vaddr: Float64Array;
  filesz: Float64Array;
  /** At least filesz: the rest is zero-filled memory (.bss) without file bytes. */
  memsz: Float64Array;
}

/** File ranges [start, end) in section header order. */
export interface FileRanges {
  count: number;
  start: Float64Array;
  end: Float64Array;
}

export interface ElfLayout {
  machine: number;
  segments: LoadSegments;
  /** SHF_EXECINSTR sections with file bytes, clipped to nothing past the file. */
  code: FileRanges;
  /** SHT_RELA sections with 24-byte entries (ELF64). */
  rela: FileRanges;
  /** SHT_REL sections with 8-byte entries (ELF32). */
  rel: FileRanges;
  /** SHT_DYNSYM sections with entries of the class's size (16 bytes in ELF32, 24 in ELF64), whole entries. */
  dynsym: FileRanges;
  /** SHT_ARM_EXIDX sections (ELF32): the ARM exception index, whole 8-byte entries. */
  exidx: FileRanges;
  /** Sections named .eh_frame (call frame information), clipped to nothing past the file. */
  ehFrame: FileRanges;
  /** 8 for ELF64, 4 for ELF32: the size of an address in the file's tables. */
  addressSize: 4 | 8;
}

const EH_FRAME = Uint8Array.of(0x2e, 0x65, 0x68, 0x5f, 0x66, 0x72, 0x61, 0x6d, 0x65, 0); // ".eh_frame\0"

/** Whether the section name at file offset `at` is `name` (its bytes, the terminating zero included). */
function nameIs(bytes: Uint8Array, at: number, name: Uint8Array): boolean {
  if (!Number.isFinite(at) || at < 0 || at + name.length > bytes.length) return false;
  for (let i = 0; i < name.length; i++) if (bytes[at + i] !== name[i]) return false;
  return true;
}

/** A little-endian 32-bit field, signed. */
export const i32 = (bytes: Uint8Array, at: number): number =>
  bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
/** A little-endian 32-bit field, unsigned. */
export const u32 = (bytes: Uint8Array, at: number): number => i32(bytes, at) >>> 0;
/** A little-endian 16-bit field. */
export const u16 = (bytes: Uint8Array, at: number): number => bytes[at]! | (bytes[at + 1]! << 8);

/** A little-endian 64-bit field as a number, or NaN when it is at least 2^48 (never an address here). */
export function u64(bytes: Uint8Array, at: number): number {
  const hi = u32(bytes, at + 4);
  return hi >= MAX_ADDRESS / 2 ** 32 ? NaN : hi * 2 ** 32 + u32(bytes, at);
}

/** Whether `bytes` start with an ELF64 little-endian header. */
export function isElf64Le(bytes: Uint8Array): boolean {
  return bytes.length >= 64 && isLittleEndianElf(bytes) && bytes[4] === 2;
}

/** Whether `bytes` start with an ELF32 little-endian header. */
export function isElf32Le(bytes: Uint8Array): boolean {
  return bytes.length >= 52 && isLittleEndianElf(bytes) && bytes[4] === 1;
}

/** Where one ELF class keeps the fields the layout reads, and how it reads an address-sized one. */
interface ElfClass {
  addressSize: 4 | 8;
  /** An address or offset field: u64 (NaN from 2^48) or u32. */
  word: (bytes: Uint8Array, at: number) => number;
  phoff: number;
  shoff: number;
  phentsize: number;
  /** Smallest program and section header entries of the class. */
  minPhent: number;
  minShent: number;
  /** Offsets of p_offset, p_vaddr, p_filesz, p_memsz in a program header. */
  pOffset: number;
  pVaddr: number;
  pFilesz: number;
  pMemsz: number;
  /** Offsets of sh_flags, sh_offset, sh_size, sh_entsize in a section header. */
  shFlags: number;
  shOffset: number;
  shSize: number;
  shEntsize: number;
}

const ELF64: ElfClass = {
  addressSize: 8, word: u64, phoff: 0x20, shoff: 0x28, phentsize: 0x36, minPhent: 56, minShent: 64,
  pOffset: 8, pVaddr: 16, pFilesz: 32, pMemsz: 40, shFlags: 8, shOffset: 24, shSize: 32, shEntsize: 56,
};
const ELF32: ElfClass = {
  addressSize: 4, word: u32, phoff: 0x1c, shoff: 0x20, phentsize: 0x2a, minPhent: 32, minShent: 40,
  pOffset: 4, pVaddr: 8, pFilesz: 16, pMemsz: 20, shFlags: 8, shOffset: 16, shSize: 20, shEntsize: 36,
};

/** The class of `bytes`' header, or undefined when it is not a little-endian ELF64 or ELF32 file. */
function elfClass(bytes: Uint8Array): ElfClass | undefined {
  return isElf64Le(bytes) ? ELF64 : isElf32Le(bytes) ? ELF32 : undefined;
}

/** Whether the table of `count` entries of `size` bytes at `at` lies inside `length` bytes. */
function tableFits(at: number, count: number, size: number, length: number): boolean {
  return Number.isFinite(at) && at + count * size <= length;
}

/** The loadable segments of the program header table, or undefined when it is unreadable. */
export function readLoadSegments(bytes: Uint8Array): LoadSegments | undefined {
  const c = elfClass(bytes);
  return c && loadSegments(bytes, c);
}

function loadSegments(bytes: Uint8Array, c: ElfClass): LoadSegments | undefined {
  const phoff = c.word(bytes, c.phoff);
  const phentsize = u16(bytes, c.phentsize);
  const phnum = u16(bytes, c.phentsize + 2);
  if (phentsize < c.minPhent || phnum > 4 * MAX_SEGMENTS || !tableFits(phoff, phnum, phentsize, bytes.length)) return undefined;
  const offset: number[] = [];
  const vaddr: number[] = [];
  const filesz: number[] = [];
  const memsz: number[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (u32(bytes, at) !== PT_LOAD) continue;
    const o = c.word(bytes, at + c.pOffset);
    const v = c.word(bytes, at + c.pVaddr);
    const f = c.word(bytes, at + c.pFilesz);
    const m = c.word(bytes, at + c.pMemsz);
    if (!Number.isFinite(o + v + f + m) || m < f || v + m > MAX_ADDRESS) return undefined;
    offset.push(o);
    vaddr.push(v);
    filesz.push(f);
    memsz.push(m);
  }
  if (offset.length === 0 || offset.length > MAX_SEGMENTS) return undefined;
  return {
    count: offset.length, offset: Float64Array.from(offset), vaddr: Float64Array.from(vaddr), filesz: Float64Array.from(filesz), memsz: Float64Array.from(memsz),
  };
}

/** The ELF layout of `bytes`, or undefined when it is not a readable little-endian ELF64 or ELF32 file. */
export function readElfLayout(bytes: Uint8Array): ElfLayout | undefined {
  const c = elfClass(bytes);
  const segments = c && loadSegments(bytes, c);
  if (!c || !segments) return undefined;
  // e_shentsize and e_shnum follow e_phentsize and e_phnum in both classes.
  const shoff = c.word(bytes, c.shoff);
  const shentsize = u16(bytes, c.phentsize + 4);
  const shnum = u16(bytes, c.phentsize + 6);
  if (shnum === 0 || shnum > MAX_SECTIONS || shentsize < c.minShent || !tableFits(shoff, shnum, shentsize, bytes.length)) return undefined;
  const code = { start: [] as number[], end: [] as number[] };
  const rela = { start: [] as number[], end: [] as number[] };
  const rel = { start: [] as number[], end: [] as number[] };
  const dynsym = { start: [] as number[], end: [] as number[] };
  const symbolSize = c === ELF64 ? 24 : 16;
  const exidx = { start: [] as number[], end: [] as number[] };
  const ehFrame = { start: [] as number[], end: [] as number[] };
  // The section names' table (e_shstrndx, after e_shnum in both classes), or NaN when there is none.
  const shstrndx = u16(bytes, c.phentsize + 8);
  const names = shstrndx < shnum ? c.word(bytes, shoff + shstrndx * shentsize + c.shOffset) : NaN;
  // Relocation tables of the file's class: RELA with 24-byte entries (ELF64), REL with 8-byte ones (ELF32).
  const [relocType, relocSize, relocs] = c === ELF64 ? [SHT_RELA, 24, rela] : [SHT_REL, 8, rel];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    const type = u32(bytes, at + 4);
    const flags = u32(bytes, at + c.shFlags);
    const offset = c.word(bytes, at + c.shOffset);
    const size = c.word(bytes, at + c.shSize);
    if (type === SHT_NOBITS || !Number.isFinite(offset + size) || size === 0) continue;
    const end = Math.min(offset + size, bytes.length);
    if (offset >= end) continue;
    if ((flags & SHF_EXECINSTR) !== 0) {
      code.start.push(offset);
      code.end.push(end);
    }
    if (type === relocType && c.word(bytes, at + c.shEntsize) === relocSize) {
      relocs.start.push(offset);
      relocs.end.push(offset + Math.floor((end - offset) / relocSize) * relocSize);
    }
    if (type === SHT_ARM_EXIDX && c === ELF32) {
      exidx.start.push(offset);
      exidx.end.push(offset + Math.floor((end - offset) / 8) * 8);
    }
    if (type === SHT_DYNSYM && c.word(bytes, at + c.shEntsize) === symbolSize) {
      dynsym.start.push(offset);
      dynsym.end.push(offset + Math.floor((end - offset) / symbolSize) * symbolSize);
    }
    if (nameIs(bytes, names + u32(bytes, at), EH_FRAME)) {
      ehFrame.start.push(offset);
      ehFrame.end.push(end);
    }
  }
  const ranges = (r: { start: number[]; end: number[] }): FileRanges => ({
    count: r.start.length, start: Float64Array.from(r.start), end: Float64Array.from(r.end),
  });
  return {
    machine: u16(bytes, 18), segments, code: ranges(code), rela: ranges(rela), rel: ranges(rel), dynsym: ranges(dynsym), exidx: ranges(exidx),
    ehFrame: ranges(ehFrame), addressSize: c.addressSize,
  };
}

/** Whether file offset `offset` lies in one of the layout's code sections. */
export function inCode(layout: ElfLayout, offset: number): boolean {
  const { code } = layout;
  for (let s = 0; s < code.count; s++) if (offset >= code.start[s]! && offset < code.end[s]!) return true;
  return false;
}

/** The virtual address of file offset `offset` (the first segment holding it), or NaN. */
export function offsetToVa(segments: LoadSegments, offset: number): number {
  for (let i = 0; i < segments.count; i++) {
    const d = offset - segments.offset[i]!;
    if (d >= 0 && d < segments.filesz[i]!) return segments.vaddr[i]! + d;
  }
  return NaN;
}

/** The file offset of virtual address `va` (the first segment whose file bytes hold it), or NaN. */
export function vaToOffset(segments: LoadSegments, va: number): number {
  for (let i = 0; i < segments.count; i++) {
    const d = va - segments.vaddr[i]!;
    if (d >= 0 && d < segments.filesz[i]!) return segments.offset[i]! + d;
  }
  return NaN;
}

/** The index of the first segment whose zero-filled memory (past its file bytes) holds `va`, or -1. */
export function zeroFillSegment(segments: LoadSegments, va: number): number {
  for (let i = 0; i < segments.count; i++) {
    const d = va - segments.vaddr[i]!;
    if (d >= segments.filesz[i]! && d < segments.memsz[i]!) return i;
  }
  return -1;
}

/** Whether `va` lies in a loadable segment's memory image (file bytes or zero-filled). */
export function isMapped(segments: LoadSegments, va: number): boolean {
  for (let i = 0; i < segments.count; i++) {
    const d = va - segments.vaddr[i]!;
    if (d >= 0 && d < segments.memsz[i]!) return true;
  }
  return false;
}
