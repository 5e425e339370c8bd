/**
 * Pieces of a reference scan that do not depend on the instruction set: whether an address lands
 * in code, and the references of ELF64 tables that every 64-bit architecture reads alike: RELA
 * tables (24-byte entries: r_offset, r_info, r_addend; only the relocation numbers differ) and
 * dynamic symbol tables (24-byte entries whose st_value is an exported function's or object's
 * address).
 */
import { type ElfLayout, u32, u64, vaToOffset } from "./elf-layout";

/** st_shndx values from here on are not sections (SHN_ABS, SHN_COMMON...): their st_value is no address here. */
const SHN_LORESERVE = 0xff00;
import type { ReferenceList } from "./references";

/** Whether file offset `offset` lies in one of the code sections. */
export function inCode(layout: ElfLayout, offset: number): boolean {
  const { code } = layout;
  for (let s = 0; s < code.count; s++) if (offset >= code.start[s]! && offset < code.end[s]!) return true;
  return false;
}

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
