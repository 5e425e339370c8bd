/**
 * The references of an x86-64 ELF file: the places whose bytes hold an address, found by a
 * deterministic scan of the file alone (the device scans the old file exactly as the generator did;
 * docs/file-delta-format.md, "EXEC", spells the rules for a second implementation).
 *
 * - rel32: in each code section (SHF_EXECINSTR), from its first byte, the first pattern that
 *   matches at a position is taken and the scan goes on after its instruction; otherwise one byte
 *   on: `E8`/`E9` rel32 (call, jmp), `0F 80..8F` rel32 (jcc), and, after an optional 66/F2/F3
 *   prefix and an optional REX prefix (40..4F), an opcode of the tables below (one byte, or 0F and
 *   one) with ModRM mod=00 rm=101, disp32 following, then the form's immediate. The instruction
 *   must end inside the section, and its target (address of the instruction's end + the signed
 *   field) must be a byte of the file inside a code section for `E8`/`E9`/`0F 8x`, or lie in a
 *   loadable segment's memory (file bytes or .bss) for RIP-relative operands. Like Zucchini's
 *   Rel32Finder, a false match skips the bytes it covers.
 * - abs64: in each SHT_RELA section (24-byte entries, whole entries only), per entry with a
 *   non-zero r_info: r_offset (a virtual address); for R_X86_64_RELATIVE, r_addend; for
 *   R_X86_64_RELATIVE and R_X86_64_JUMP_SLOT, the 8-byte word at r_offset when r_offset has file
 *   bytes. Each is a reference when its value is an address with file bytes.
 * References are sorted by position; one that overlaps the one before it is dropped.
 */
import { type Architecture, writeI32, writeU64 } from "./architecture";
import { EM_X86_64, type ElfLayout, i32, inCode, isMapped, offsetToVa, vaToOffset } from "./elf-layout";
import { scanRela64 } from "./table-references";
import { ReferenceList, ReferenceScratch, type References } from "./references";

/** A 4-byte field relative to the end of its instruction, which is the field's end. */
export const REL32 = 0;
/** An 8-byte absolute address. */
export const ABS64 = 1;
/** A 4-byte RIP-relative field followed by a 1-, 4- or 2-byte immediate (the instruction ends after it). */
export const REL32_IMM8 = 2;
export const REL32_IMM32 = 3;
export const REL32_IMM16 = 4;
/** A reference's field size by kind. */
export const FIELD_SIZE = Uint8Array.of(4, 8, 4, 4, 4);
/** By kind, how far after the field's start its value is counted from (rel32: the instruction's end). */
export const RELATIVE_TO = Uint8Array.of(4, 0, 5, 8, 6);


/**
 * The RIP-relative operand forms, per opcode byte after the 0F escape or without it: the kind of
 * reference their disp32 makes (REL32: nothing follows it; REL32_IMM8 / REL32_IMM32: an immediate
 * does, 16 bits instead of 32 after a 66 prefix) and the ModRM reg values allowed (a bit each).
 */
const NONE = 0xff;
const ONE_BYTE_KIND = new Uint8Array(256).fill(NONE);
const TWO_BYTE_KIND = new Uint8Array(256).fill(NONE);
const ONE_BYTE_REGS = new Uint8Array(256).fill(0xff);
function forms(table: Uint8Array, kind: number, ops: readonly (number | [number, number])[]): void {
  for (const op of ops) {
    const [from, to] = typeof op === "number" ? [op, op] : op;
    for (let o = from; o <= to; o++) table[o] = kind;
  }
}
// Word-sized ALU forms (add, or, and, sub, xor; cmp of both sizes), movsxd, test, xchg, mov, lea,
// group 5. Not `00 05`/`00 25`...: zero bytes before a 05 or 25 would be taken for add [rip], r8.
forms(ONE_BYTE_KIND, REL32, [0x01, 0x03, 0x09, 0x0b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, [0x38, 0x3b], 0x63, [0x84, 0x8b], 0x8d, 0xff]);
forms(ONE_BYTE_KIND, REL32_IMM8, [0x6b, 0x80, 0x83, 0xc0, 0xc1, 0xc6, 0xf6]);
forms(ONE_BYTE_KIND, REL32_IMM32, [0x69, 0x81, 0xc7, 0xf7]);
// Group 5 with a memory operand: inc, dec, call, jmp, push; mov and test immediates: /0 only.
ONE_BYTE_REGS[0xff] = 0b01010111;
for (const op of [0xc6, 0xc7, 0xf6, 0xf7]) ONE_BYTE_REGS[op] = 0b00000001;
// SSE moves and arithmetic, cmovcc, imul, movzx/movsx: 0F xx ModRM, no immediate; pshufd, cmpps, shufps: imm8.
forms(TWO_BYTE_KIND, REL32, [[0x10, 0x17], [0x28, 0x2f], [0x40, 0x4f], [0x51, 0x6f], [0x74, 0x76], [0x7e, 0x7f], 0xaf, 0xb6, 0xb7, 0xbe, 0xbf, [0xd1, 0xfe]]);
forms(TWO_BYTE_KIND, REL32_IMM8, [0x70, 0xc2, 0xc6]);

const R_X86_64_JUMP_SLOT = 7;
const R_X86_64_RELATIVE = 8;
const RELA_TYPES = { relative: R_X86_64_RELATIVE, word: [R_X86_64_RELATIVE, R_X86_64_JUMP_SLOT] };

function scanCode(bytes: Uint8Array, layout: ElfLayout, start: number, end: number, list: ReferenceList): void {
  const { segments } = layout;
  // The address of `start`; the code section lies in one segment, so addresses follow offsets.
  const base = offsetToVa(segments, start);
  if (Number.isNaN(base)) return;
  let p = start;
  while (p < end && !list.overflow) {
    const b = bytes[p]!;
    let field = -1;
    let kind = REL32;
    let branch = false;
    if (b === 0xe8 || b === 0xe9) {
      field = p + 1;
      branch = true;
    } else if (b === 0x0f && (bytes[p + 1]! & 0xf0) === 0x80) {
      field = p + 2;
      branch = true;
    } else if ((bytes[p + 1]! & 0xc7) !== 0x05 && (bytes[p + 2]! & 0xc7) !== 0x05 && (bytes[p + 3]! & 0xc7) !== 0x05 && (bytes[p + 4]! & 0xc7) !== 0x05) {
      // No ModRM of a RIP-relative operand where one could be (at most 4 bytes on): the common case.
    } else {
      // [66|F2|F3] [REX] opcode | 0F opcode, then ModRM with mod=00 rm=101: disp32 from RIP.
      const operandSize16 = b === 0x66;
      let q = operandSize16 || b === 0xf2 || b === 0xf3 ? p + 1 : p;
      if ((bytes[q]! & 0xf0) === 0x40) q++;
      const twoByte = bytes[q] === 0x0f;
      const op = bytes[twoByte ? q + 1 : q]!;
      const modrm = bytes[twoByte ? q + 2 : q + 1]!;
      const form = twoByte ? TWO_BYTE_KIND[op]! : ONE_BYTE_KIND[op]!;
      if (form !== NONE && (modrm & 0xc7) === 0x05 && (twoByte || (ONE_BYTE_REGS[op]! >> ((modrm >> 3) & 7)) & 1)) {
        field = twoByte ? q + 3 : q + 2;
        kind = form === REL32_IMM32 && operandSize16 ? REL32_IMM16 : form;
      }
    }
    const instructionEnd = field + RELATIVE_TO[kind]!;
    if (field >= 0 && instructionEnd <= end) {
      const target = base + (instructionEnd - start) + i32(bytes, field);
      if (branch ? inCode(layout, vaToOffset(segments, target)) : isMapped(segments, target)) {
        list.add(field, kind, target);
        p = instructionEnd;
        continue;
      }
    }
    p++;
  }
}

/**
 * The references of an x86-64 ELF file laid out as `layout` says, or undefined when it is not
 * x86-64 ELF64, has no code section or has more than MAX_REFERENCES references.
 */
export function findX86_64References(bytes: Uint8Array, layout: ElfLayout, scratch = new ReferenceScratch()): References | undefined {
  // ELF32 files of machine 62 (the x32 ABI) hold 4-byte addresses: not the abs64 fields this scan knows.
  if (layout.machine !== EM_X86_64 || layout.addressSize !== 8 || layout.code.count === 0 || bytes.length >= 2 ** 31) return undefined;
  const list = new ReferenceList(scratch, FIELD_SIZE, layout.segments);
  for (let s = 0; s < layout.code.count; s++) scanCode(bytes, layout, layout.code.start[s]!, layout.code.end[s]!, list);
  for (let s = 0; s < layout.rela.count; s++) scanRela64(bytes, layout, layout.rela.start[s]!, layout.rela.end[s]!, list, ABS64, RELA_TYPES);
  if (list.overflow) return undefined;
  return list.sorted();
}

/** EXEC transform 1: x86-64 ELF files. */
export const x86_64: Architecture = {
  name: "x86-64",
  transform: 1,
  machine: EM_X86_64,
  fieldSize: FIELD_SIZE,
  findReferences: findX86_64References,
  encode(kind, _old, _at, newAddress, newTarget, out) {
    if (kind === ABS64) {
      writeU64(newTarget, out);
      return true;
    }
    // rel32: relative to the instruction's end (the field's, or its immediate's).
    return writeI32(newTarget - (newAddress + RELATIVE_TO[kind]!), out);
  },
};
