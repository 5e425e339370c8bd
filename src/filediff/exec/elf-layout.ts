/**
 * The parts of a little-endian ELF64 file that executable-aware diffs need: its loadable segments
 * (file offset <-> virtual address), the file ranges of its code sections, RELA tables, dynamic
 * symbol tables and call frame information (.eh_frame).
 * A parse refuses (returns undefined) anything it cannot read with certainty: wrong class or byte
 * order, tables past the end of the file, addresses beyond 2^48. The device parses the old file
 * with it, so it must never throw on hostile bytes.
 */

import { EM_X86_64, isLittleEndianElf } from "../elf-filter";

export { EM_X86_64 };

const PT_LOAD = 1;
const SHT_RELA = 4;
const SHT_DYNSYM = 11;
const SHT_NOBITS = 8;
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
  /** SHT_RELA sections with 24-byte entries. */
  rela: FileRanges;
  /** SHT_DYNSYM sections with 24-byte entries. */
  symbols: FileRanges;
  /** Sections named .eh_frame (call frame information), clipped to nothing past the file. */
  ehFrame: FileRanges;
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
const u16 = (bytes: Uint8Array, at: number): number => bytes[at]! | (bytes[at + 1]! << 8);

/** A little-endian 64-bit field as a number, or NaN when it is at least 2^48 (never an address here). */
export function u64(bytes: Uint8Array, at: number): number {
  const hi = u32(bytes, at + 4);
  return hi >= MAX_ADDRESS / 2 ** 32 ? NaN : hi * 2 ** 32 + u32(bytes, at);
}

/** Whether `bytes` start with an ELF64 little-endian header. */
export function isElf64Le(bytes: Uint8Array): boolean {
  return bytes.length >= 64 && isLittleEndianElf(bytes) && bytes[4] === 2;
}

/** Whether the table of `count` entries of `size` bytes at `at` lies inside `length` bytes. */
function tableFits(at: number, count: number, size: number, length: number): boolean {
  return Number.isFinite(at) && at + count * size <= length;
}

/** The loadable segments of the program header table, or undefined when it is unreadable. */
export function readLoadSegments(bytes: Uint8Array): LoadSegments | undefined {
  if (!isElf64Le(bytes)) return undefined;
  const phoff = u64(bytes, 0x20);
  const phentsize = u16(bytes, 0x36);
  const phnum = u16(bytes, 0x38);
  if (phentsize < 56 || phnum > 4 * MAX_SEGMENTS || !tableFits(phoff, phnum, phentsize, bytes.length)) return undefined;
  const offset: number[] = [];
  const vaddr: number[] = [];
  const filesz: number[] = [];
  const memsz: number[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (u32(bytes, at) !== PT_LOAD) continue;
    const o = u64(bytes, at + 8);
    const v = u64(bytes, at + 16);
    const f = u64(bytes, at + 32);
    const m = u64(bytes, at + 40);
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

/** The ELF layout of `bytes`, or undefined when it is not a readable little-endian ELF64 file. */
export function readElfLayout(bytes: Uint8Array): ElfLayout | undefined {
  const segments = readLoadSegments(bytes);
  if (!segments) return undefined;
  const shoff = u64(bytes, 0x28);
  const shentsize = u16(bytes, 0x3a);
  const shnum = u16(bytes, 0x3c);
  if (shnum === 0 || shnum > MAX_SECTIONS || shentsize < 64 || !tableFits(shoff, shnum, shentsize, bytes.length)) return undefined;
  const code = { start: [] as number[], end: [] as number[] };
  const rela = { start: [] as number[], end: [] as number[] };
  const symbols = { start: [] as number[], end: [] as number[] };
  const ehFrame = { start: [] as number[], end: [] as number[] };
  // The section names' table (e_shstrndx), or NaN when there is none.
  const shstrndx = u16(bytes, 0x3e);
  const names = shstrndx < shnum ? u64(bytes, shoff + shstrndx * shentsize + 24) : NaN;
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    const type = u32(bytes, at + 4);
    const flags = u32(bytes, at + 8);
    const offset = u64(bytes, at + 24);
    const size = u64(bytes, at + 32);
    if (type === SHT_NOBITS || !Number.isFinite(offset + size) || size === 0) continue;
    const end = Math.min(offset + size, bytes.length);
    if (offset >= end) continue;
    if ((flags & SHF_EXECINSTR) !== 0) {
      code.start.push(offset);
      code.end.push(end);
    }
    const table = type === SHT_RELA ? rela : type === SHT_DYNSYM ? symbols : undefined;
    if (table && u64(bytes, at + 56) === 24) {
      table.start.push(offset);
      table.end.push(offset + Math.floor((end - offset) / 24) * 24);
    }
    if (nameIs(bytes, names + u32(bytes, at), EH_FRAME)) {
      ehFrame.start.push(offset);
      ehFrame.end.push(end);
    }
  }
  const ranges = (r: { start: number[]; end: number[] }): FileRanges => ({
    count: r.start.length, start: Float64Array.from(r.start), end: Float64Array.from(r.end),
  });
  return { machine: u16(bytes, 18), segments, code: ranges(code), rela: ranges(rela), symbols: ranges(symbols), ehFrame: ranges(ehFrame) };
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
