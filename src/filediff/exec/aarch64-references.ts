/**
 * The references of an AArch64 ELF file: the instruction fields and words whose bits hold an
 * address, found by a deterministic scan of the file alone (the device scans the old file exactly
 * as the generator did; docs/file-delta-format.md, "EXEC", spells the rules for a second
 * implementation).
 *
 * - Instructions: in each code section (SHF_EXECINSTR), every 4-byte word at an address that is a
 *   multiple of 4 (A64 instructions are aligned): B/BL (imm26), B.cond, CBZ/CBNZ (imm19) and
 *   TBZ/TBNZ (imm14) whose target is a byte of a code section; LDR/LDRSW/PRFM literal (imm19), ADR
 *   (imm21) and ADRP (imm21, pages) whose target lies in a loadable segment's memory.
 * - An ADRP gives only an address's 4 KiB page; the instruction after it that adds the low 12 bits
 *   (ADD immediate or a load/store with an unsigned offset, based on the ADRP's register, at most
 *   PAIR_WINDOW instructions on and before another ADRP of that register) is a reference too, to
 *   the full address, and the ADRP's target is that address: both fields then move with their
 *   object, not with the page's first byte.
 * - RELA tables: r_offset; r_addend of R_AARCH64_RELATIVE; the word at r_offset of
 *   R_AARCH64_RELATIVE, R_AARCH64_GLOB_DAT and R_AARCH64_JUMP_SLOT (an address when the linker
 *   filled it in), each when it is an address with file bytes.
 * - Dynamic symbol tables: st_value of the symbols defined in a section (an exported function's
 *   or object's address), when it is an address with file bytes. (x86-64's scan does not read
 *   them: it is part of the format already, and deltas made by earlier generators must apply.)
 * - Call frame information (.eh_frame): each FDE's function address, when its CIE declares them
 *   pc-relative 32-bit (as GCC and Clang do); x86-64's scan does not read it either.
 * References are sorted by position; one that overlaps the one before it is dropped.
 */
import { type Architecture, writeI32, writeU32, writeU64 } from "./architecture";
import { EM_AARCH64 } from "../elf-filter";
import { type ElfLayout, inCode, isMapped, offsetToVa, u32, vaToOffset } from "./elf-layout";
import { scanEhFrame, scanRela64, scanSymbols64 } from "./table-references";
import { ReferenceList, ReferenceScratch, type References } from "./references";

/** B, BL: a signed 26-bit word offset in bits 0..25. */
export const BRANCH26 = 0;
/** B.cond, CBZ/CBNZ, LDR/LDRSW/PRFM literal: a signed 19-bit word offset in bits 5..23. */
export const IMM19 = 1;
/** TBZ/TBNZ: a signed 14-bit word offset in bits 5..18. */
export const IMM14 = 2;
/** ADR: a signed 21-bit byte offset, its low 2 bits in bits 29..30, the rest in bits 5..23. */
export const ADR = 3;
/** ADRP: ADR's field counting 4 KiB pages from the instruction's page. */
export const ADRP = 4;
/** ADD (immediate, 64-bit, unshifted) completing an ADRP: the target's low 12 bits in bits 10..21. */
export const ADD_LO12 = 5;
/** A load/store (unsigned offset) completing an ADRP: the low 12 bits, divided by the access size, in bits 10..21. */
export const LDST_LO12 = 6;
/** An 8-byte absolute address. */
export const ABS64 = 7;
/** A 4-byte signed target minus the field's own address (.eh_frame's function addresses). */
export const PCREL32 = 8;
/** A reference's field size by kind. */
export const FIELD_SIZE = Uint8Array.of(4, 4, 4, 4, 4, 4, 4, 8, 4);

/**
 * How many instructions after an ADRP the one adding its low 12 bits may be. Measured on the
 * arm64 pair's largest changed files (fast-xz of the three streams, 411,252 B as APPROX): no
 * pairing 302,868; 1: 296,456; 2: 281,988; 4: 278,876; 8: 280,664.
 */
export const PAIR_WINDOW = 4;

const R_AARCH64_GLOB_DAT = 1025;
const R_AARCH64_JUMP_SLOT = 1026;
const R_AARCH64_RELATIVE = 1027;
const RELA_TYPES = { relative: R_AARCH64_RELATIVE, word: [R_AARCH64_RELATIVE, R_AARCH64_GLOB_DAT, R_AARCH64_JUMP_SLOT] };

const PAGE = 4096;
/** No ADRP seen for a register (in this section). */
const NO_ADRP = -1;

/** log2 of the access size of a load/store (unsigned offset): its imm12 counts units of it. */
export function accessSizeLog2(insn: number): number {
  const size = insn >>> 30;
  // SIMD&FP (V=1) with opc<1> set and size 0 is the 128-bit form.
  return (insn & 0x04000000) !== 0 && (insn & 0x00800000) !== 0 && size === 0 ? 4 : size;
}

/** ADR/ADRP's signed 21-bit immediate. */
const adrImmediate = (insn: number): number => (((insn << 8) >> 13) << 2) | ((insn >>> 29) & 3);

/**
 * The low 12 bits an ADD (immediate) or load/store (unsigned offset) adds to its base register,
 * or -1 when it is neither, or its offset reaches past the page (not the low bits of an address).
 */
function lowBits(insn: number): number {
  if ((insn & 0xffc00000) === (0x91000000 | 0)) return (insn >>> 10) & 0xfff;
  if ((insn & 0x3b000000) === 0x39000000) {
    const offset = ((insn >>> 10) & 0xfff) << accessSizeLog2(insn);
    return offset < PAGE ? offset : -1;
  }
  return -1;
}

/** The base register of an instruction lowBits accepts. */
const baseRegister = (insn: number): number => (insn >>> 5) & 31;

// Instructions are read as signed 32-bit values (bit operations give those): an opcode compared
// with one whose bit 31 is set is written `(0x9...... | 0)`.

function scanCode(bytes: Uint8Array, layout: ElfLayout, start: number, end: number, list: ReferenceList, adrpAt: Float64Array, adrpPage: Float64Array): void {
  const { segments } = layout;
  // The address of `start`; the code section lies in one segment, so addresses follow offsets.
  const base = offsetToVa(segments, start);
  if (Number.isNaN(base)) return;
  adrpAt.fill(NO_ADRP);
  const window = 4 * PAIR_WINDOW;
  for (let p = start + ((4 - (base % 4)) % 4); p + 4 <= end && !list.overflow; p += 4) {
    const insn = u32(bytes, p);
    const pc = base + (p - start);
    let kind = -1;
    let target = 0;
    let branch = false;
    if ((insn & 0x7c000000) === 0x14000000) {
      kind = BRANCH26;
      target = pc + ((insn << 6) >> 4);
      branch = true;
    } else if ((insn & 0xff000010) === 0x54000000 || (insn & 0x7e000000) === 0x34000000) {
      kind = IMM19;
      target = pc + (((insn << 8) >> 13) << 2);
      branch = true;
    } else if ((insn & 0x7e000000) === 0x36000000) {
      kind = IMM14;
      target = pc + (((insn << 13) >> 18) << 2);
      branch = true;
    } else if ((insn & 0x3b000000) === 0x18000000) {
      kind = IMM19;
      target = pc + (((insn << 8) >> 13) << 2);
    } else if ((insn & 0x9f000000) === 0x10000000) {
      kind = ADR;
      target = pc + adrImmediate(insn);
    } else if ((insn & 0x9f000000) === (0x90000000 | 0)) {
      kind = ADRP;
      const page = pc - (pc % PAGE) + adrImmediate(insn) * PAGE;
      target = page;
      const d = insn & 31;
      if (d !== 31) {
        adrpAt[d] = p;
        adrpPage[d] = page;
        // The target is the full address when an instruction within the window completes it.
        for (let q = p + 4; q <= p + window && q + 4 <= end; q += 4) {
          const next = u32(bytes, q);
          if ((next & 0x9f00001f) === (0x90000000 | d)) break;
          const low = lowBits(next);
          if (low >= 0 && baseRegister(next) === d) {
            target = page + low;
            break;
          }
        }
      }
    } else {
      const low = lowBits(insn);
      const n = baseRegister(insn);
      if (low >= 0 && n !== 31 && adrpAt[n] !== NO_ADRP && p - adrpAt[n]! <= window) {
        kind = (insn & 0xffc00000) === (0x91000000 | 0) ? ADD_LO12 : LDST_LO12;
        target = adrpPage[n]! + low;
      }
    }
    if (kind >= 0 && (branch ? inCode(layout, vaToOffset(segments, target)) : isMapped(segments, target))) list.add(p, kind, target);
  }
}

/**
 * The references of an AArch64 ELF file laid out as `layout` says, or undefined when it is not
 * AArch64, has no code section or has more than MAX_REFERENCES references.
 */
export function findAarch64References(bytes: Uint8Array, layout: ElfLayout, scratch = new ReferenceScratch()): References | undefined {
  if (layout.machine !== EM_AARCH64 || layout.code.count === 0 || bytes.length >= 2 ** 31) return undefined;
  const list = new ReferenceList(scratch, FIELD_SIZE, layout.segments);
  // Per register, the last ADRP's file offset and page, for the instructions that complete it.
  const adrpAt = new Float64Array(31);
  const adrpPage = new Float64Array(31);
  for (let s = 0; s < layout.code.count; s++) scanCode(bytes, layout, layout.code.start[s]!, layout.code.end[s]!, list, adrpAt, adrpPage);
  for (let s = 0; s < layout.rela.count; s++) scanRela64(bytes, layout, layout.rela.start[s]!, layout.rela.end[s]!, list, ABS64, RELA_TYPES);
  for (let s = 0; s < layout.dynsym.count; s++) scanSymbols64(bytes, layout, layout.dynsym.start[s]!, layout.dynsym.end[s]!, list, ABS64);
  for (let s = 0; s < layout.ehFrame.count; s++) scanEhFrame(bytes, layout, layout.ehFrame.start[s]!, layout.ehFrame.end[s]!, list, PCREL32);
  if (list.overflow) return undefined;
  return list.sorted();
}

/** Sets `insn`'s bits under `mask` to `value` (already shifted into place) and writes it little-endian. */
function writeInstruction(insn: number, mask: number, value: number, out: Uint8Array): true {
  writeU32((insn & ~mask) | (value & mask), out);
  return true;
}

/** A signed offset field of `bits` bits can hold `value`. */
const fits = (value: number, bits: number): boolean => value >= -(2 ** (bits - 1)) && value < 2 ** (bits - 1);

/** ADR/ADRP's immediate `imm` (fitting 21 bits) in place: low 2 bits at 29, the rest at 5. */
const adrField = (imm: number): number => ((imm & 3) << 29) | (((imm >> 2) & 0x7ffff) << 5);
const ADR_MASK = 0x60ffffe0;

/** EXEC transform 2: AArch64 ELF files. */
export const aarch64: Architecture = {
  name: "AArch64",
  transform: 2,
  machine: EM_AARCH64,
  fieldSize: FIELD_SIZE,
  findReferences: findAarch64References,
  encode(kind, old, at, newAddress, newTarget, out) {
    if (kind === ABS64) {
      writeU64(newTarget, out);
      return true;
    }
    if (kind === PCREL32) return writeI32(newTarget - newAddress, out);
    // An instruction's field: only at an instruction's place; addresses are below 2^48, so the
    // differences are exact and the bit operations below see values of at most 26 bits.
    if (newAddress % 4 !== 0) return false;
    const insn = u32(old, at);
    const offset = newTarget - newAddress;
    switch (kind) {
      case BRANCH26:
        return offset % 4 === 0 && fits(offset / 4, 26) && writeInstruction(insn, 0x03ffffff, offset / 4, out);
      case IMM19:
        return offset % 4 === 0 && fits(offset / 4, 19) && writeInstruction(insn, 0x00ffffe0, (offset / 4) << 5, out);
      case IMM14:
        return offset % 4 === 0 && fits(offset / 4, 14) && writeInstruction(insn, 0x0007ffe0, (offset / 4) << 5, out);
      case ADR:
        return fits(offset, 21) && writeInstruction(insn, ADR_MASK, adrField(offset), out);
      case ADRP: {
        const pages = Math.floor(newTarget / PAGE) - Math.floor(newAddress / PAGE);
        return fits(pages, 21) && writeInstruction(insn, ADR_MASK, adrField(pages), out);
      }
      case ADD_LO12:
        return writeInstruction(insn, 0x003ffc00, (newTarget % PAGE) << 10, out);
      case LDST_LO12: {
        const scale = accessSizeLog2(insn);
        const low = newTarget % PAGE;
        return low % (1 << scale) === 0 && writeInstruction(insn, 0x003ffc00, (low >> scale) << 10, out);
      }
      default:
        return false;
    }
  },
};
