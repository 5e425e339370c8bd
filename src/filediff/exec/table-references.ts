/**
 * Pieces of a reference scan that do not depend on the instruction set: the references of ELF64
 * tables that every 64-bit architecture reads alike: RELA tables (24-byte entries: r_offset, r_info, r_addend; only the relocation numbers differ),
 * dynamic symbol tables (24-byte entries whose st_value is an exported function's or object's
 * address) and call frame information (.eh_frame: each function's FDE holds its address).
 */
import { type ElfLayout, i32, inCode, offsetToVa, u32, u64, vaToOffset } from "./elf-layout";
import type { ReferenceList } from "./references";

/** st_shndx values from here on are not sections (SHN_ABS, SHN_COMMON...): their st_value is no address here. */
const SHN_LORESERVE = 0xff00;

/** Which relocation types of a RELA table carry which references (besides r_offset). */
export interface RelaTypes {
  /** The type whose r_addend is an address (R_*_RELATIVE). */
  relative: number;
  /** The types whose 8-byte word at r_offset holds an address when the file is linked. */
  word: readonly number[];
}

/**
 * The references of the RELA entries in [start, end) (whole entries), as `kind` (an 8-byte
 * absolute field), per entry with a non-zero r_info: r_offset; for `types.relative`, r_addend;
 * for the types in `types.word`, the word at r_offset's file offset; each only when its value is
 * an address with file bytes.
 */
export function scanRela64(bytes: Uint8Array, layout: ElfLayout, start: number, end: number, list: ReferenceList, kind: number, types: RelaTypes): void {
  const { segments } = layout;
  const isAddress = (va: number): boolean => !Number.isNaN(vaToOffset(segments, va));
  for (let e = start; e + 24 <= end && !list.overflow; e += 24) {
    const type = u32(bytes, e + 8);
    if (type === 0 && u32(bytes, e + 12) === 0) continue;
    const where = u64(bytes, e);
    if (!isAddress(where)) continue;
    list.add(e, kind, where);
    if (type === types.relative) {
      const addend = u64(bytes, e + 16);
      if (isAddress(addend)) list.add(e + 16, kind, addend);
    }
    if (types.word.includes(type)) {
      const at = vaToOffset(segments, where);
      if (at + 8 <= bytes.length) {
        const word = u64(bytes, at);
        if (isAddress(word)) list.add(at, kind, word);
      }
    }
  }
}

/**
 * The references of the dynamic symbols in [start, end) (whole 24-byte entries), as `kind` (an
 * 8-byte absolute field): st_value of each symbol defined in a section (st_shndx neither 0 nor
 * SHN_LORESERVE or above) when it is an address with file bytes.
 */
export function scanSymbols64(bytes: Uint8Array, layout: ElfLayout, start: number, end: number, list: ReferenceList, kind: number): void {
  const { segments } = layout;
  for (let e = start; e + 24 <= end && !list.overflow; e += 24) {
    const section = bytes[e + 6]! | (bytes[e + 7]! << 8);
    if (section === 0 || section >= SHN_LORESERVE) continue;
    const value = u64(bytes, e + 8);
    if (!Number.isNaN(vaToOffset(segments, value))) list.add(e + 8, kind, value);
  }
}

/** DW_EH_PE_pcrel | DW_EH_PE_sdata4: the FDE address encoding GCC and Clang emit for PIC code. */
const PCREL_SDATA4 = 0x1b;
/** Longest augmentation string read: real ones ("zR", "zPLR") are a few characters. */
const MAX_AUGMENTATION = 8;
/** By the low 4 bits of a DW_EH_PE encoding, the size of a fixed-size value (0: not one). */
const ENCODED_SIZE = Uint8Array.of(8, 0, 2, 4, 8, 0, 0, 0, 0, 0, 2, 4, 8, 0, 0, 0);

/** The position after the LEB128 number at `at` (at most 10 bytes, before `end`), or -1. */
function skipLeb128(bytes: Uint8Array, at: number, end: number): number {
  for (let p = at; p >= 0 && p < end && p < at + 10; p++) if ((bytes[p]! & 0x80) === 0) return p + 1;
  return -1;
}

/**
 * The encoding of FDE addresses that the CIE at `cie` (its record ending by `end`) declares by the
 * 'R' of its "z" augmentation, or -1: not a CIE of version 1 or 3, no "z" augmentation, or one
 * this reader does not step over ('z' then 'L', 'P' with a fixed-size pointer, 'R' only).
 */
function fdeEncoding(bytes: Uint8Array, cie: number, end: number): number {
  if (cie + 9 > end || u32(bytes, cie + 4) !== 0) return -1;
  const version = bytes[cie + 8]!;
  if (version !== 1 && version !== 3) return -1;
  const augmentation = cie + 9;
  let p = augmentation;
  while (p < end && p - augmentation < MAX_AUGMENTATION && bytes[p] !== 0) p++;
  if (p >= end || bytes[p] !== 0 || bytes[augmentation] !== 0x7a) return -1;
  const augmentationEnd = p;
  p = skipLeb128(bytes, p + 1, end); // code alignment factor
  p = skipLeb128(bytes, p, end); // data alignment factor
  p = version === 1 ? (p < 0 ? -1 : p + 1) : skipLeb128(bytes, p, end); // return address register
  p = skipLeb128(bytes, p, end); // augmentation data length
  for (let c = augmentation + 1; c < augmentationEnd && p >= 0 && p < end; c++) {
    const letter = bytes[c];
    if (letter === 0x52) return bytes[p]!; // 'R': the FDE address encoding
    if (letter === 0x4c) p++; // 'L': the LSDA encoding
    else if (letter === 0x50 && (bytes[p]! & 0x70) !== 0x50 && ENCODED_SIZE[bytes[p]! & 0x0f]! > 0) p += 1 + ENCODED_SIZE[bytes[p]! & 0x0f]!; // 'P': encoding, personality
    else return -1;
  }
  return -1;
}

/**
 * The references of the .eh_frame records in [start, end), as `kind` (a 4-byte field holding the
 * target minus the field's own address): from `start`, record after record (a 32-bit length, then
 * as many bytes; the scan ends at a length of 0 or 0xFFFFFFFF or one past `end`), per FDE (its
 * second word, the CIE pointer, not 0) of at least 12 bytes whose CIE (the CIE pointer's own
 * position minus its value, a record before the FDE) declares PCREL_SDATA4 addresses: its initial
 * location (the word after the CIE pointer) when its target is a byte of a code section.
 */
export function scanEhFrame(bytes: Uint8Array, layout: ElfLayout, start: number, end: number, list: ReferenceList, kind: number): void {
  const { segments } = layout;
  const base = offsetToVa(segments, start);
  if (Number.isNaN(base)) return;
  // FDEs follow their CIE: its encoding is read again only when the CIE changes.
  let cie = -1;
  let encoding = -1;
  for (let record = start; record + 8 <= end && !list.overflow; ) {
    const length = u32(bytes, record);
    if (length === 0 || length === 0xffffffff || length > end - record - 4) return;
    const next = record + 4 + length;
    const pointer = u32(bytes, record + 4);
    if (pointer !== 0 && record + 12 <= next) {
      const at = record + 4 - pointer;
      if (at !== cie) {
        cie = at;
        encoding = at >= start && at < record ? fdeEncoding(bytes, at, Math.min(at + 4 + u32(bytes, at), end)) : -1;
      }
      if (encoding === PCREL_SDATA4) {
        const target = base + (record + 8 - start) + i32(bytes, record + 8);
        if (inCode(layout, vaToOffset(segments, target))) list.add(record + 8, kind, target);
      }
    }
    record = next;
  }
}
