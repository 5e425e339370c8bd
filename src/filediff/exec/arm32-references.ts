/**
 * The references of a 32-bit ARM ELF file (armhf: Thumb-2 code, an ARM-mode PLT), found by a
 * deterministic scan of the file alone (the device scans the old file exactly as the generator did;
 * docs/file-delta-format.md, "EXEC", ARM32, spells the rules for a second implementation). Found in
 * this order:
 *
 * 1. In each code section (SHF_EXECINSTR), positions p from its first byte in steps of 2 (while
 *    p + 4 is inside the section), the first that matches:
 *    - at a word-aligned address, an ARM-mode PLT entry (`E28FC6xx E28CCAxx E5BCFxxx` inside the
 *      section) whose GOT slot has file bytes: two references (PLT_HIGH, PLT_LOW), then p + 12.
 *      The PLT moves with the code, the GOT with the data, so every entry changes when they part;
 *    - a Thumb-2 BL (T1), BLX (T2), B.W (T4) or B<cond>.W (T3, cond below 14) whose target is a
 *      byte of a code section: one reference, the whole instruction, then p + 4;
 *    - a pc-relative load (LDR literal T1 `01001 Rt imm8`, or T2 `F85F`/`F8DF` Rt imm12) naming a
 *      word-aligned word wholly inside the section whose own address plus its signed value lies in
 *      a loadable segment's memory: that word is a reference (SELF32), and the scan goes on at p + 2,
 *      as after no match. Position-independent code keeps `target - pc` in such words (the pc of an
 *      `add Rt, pc` a few instructions on): counted from the word instead, the target is off by the
 *      short distance from the word to that add, which moves with it, so the prediction holds.
 *    A false match skips the halfwords it covers, as on x86-64.
 * 2. In each SHT_REL section (whole 8-byte entries), per entry with a non-zero r_info: r_offset;
 *    for R_ARM_GLOB_DAT, R_ARM_JUMP_SLOT and R_ARM_RELATIVE, the 4-byte word at r_offset when
 *    r_offset has 4 file bytes. Each is a reference (ABS32) when its value is an address with file
 *    bytes.
 * 3. In each SHT_DYNSYM section (whole 16-byte entries): st_value, when it is not 0 and is an
 *    address with file bytes (ABS32): exported symbols move with their code.
 * 4. In each SHT_ARM_EXIDX section (whole 8-byte entries): the first word, when bit 31 is clear and
 *    its prel31 target is a byte of a code section (the function); the second word, when it is not
 *    1 (EXIDX_CANTUNWIND), bit 31 is clear and its prel31 target has file bytes (the .ARM.extab
 *    entry); then that entry's first word, when its 4 bytes are in the file, bit 31 is clear and
 *    its prel31 target is a byte of a code section (the personality routine). C++ code has an
 *    entry per function, each shifted by a change before it.
 * References are sorted by position; one that overlaps the one before it is dropped.
 *
 * A Thumb branch's field is its whole 4-byte instruction: the offset's bits are spread over both
 * halfwords, and encode() rewrites only them, keeping the opcode and condition bits.
 *
 * Left out, as measured on the armhf security-update pair (fast-xz bytes of the changed ELF files):
 * ARM-mode B/BL at word-aligned addresses (Debian's armhf code has few; their false matches in
 * Thumb code cost 7 % more), 16-bit B and B<cond> (0.6 % less for half as many references again),
 * and stepping over whole 32-bit instructions instead of halfwords (0.1 %).
 */
import { type Architecture, writeI32, writeU32 } from "./architecture";
import { type ElfLayout, i32, inCode, isMapped, offsetToVa, u16, u32, vaToOffset } from "./elf-layout";
import { ReferenceList, ReferenceScratch, type References } from "./references";

export const EM_ARM = 40;

/** Thumb BL (T1): 11110 S imm10 | 11 J1 1 J2 imm11, target = address + 4 + offset (25 bits signed). */
export const THUMB_BL = 0;
/** Thumb BLX (T2) to ARM code: 11110 S imm10H | 11 J1 0 J2 imm10L 0, target = align4(address + 4) + offset. */
export const THUMB_BLX = 1;
/** Thumb B.W (T4): 11110 S imm10 | 10 J1 1 J2 imm11, as BL. */
export const THUMB_B = 2;
/** Thumb B<cond>.W (T3): 11110 S cond imm6 | 10 J1 0 J2 imm11, target = address + 4 + offset (21 bits signed). */
export const THUMB_BCOND = 3;
/** A 4-byte absolute address. */
export const ABS32 = 4;
/** A 4-byte literal word relative to its own address (a PIC literal: target - pc, added to pc later). */
export const SELF32 = 5;
/**
 * An ARM-mode PLT entry, `add ip, pc, #hi8 ror 12; add ip, ip, #mid8 ror 20; ldr pc, [ip, #lo12]!`,
 * reaching its GOT slot at address + 8 + (hi8 << 20) + (mid8 << 12) + lo12, as two fields: its first
 * two instructions (the offset's bits 12..27) and its third (bits 0..11), each re-encoded from its own
 * place (the third sits 8 bytes on, where the pc the offset counts from also is).
 */
export const PLT_HIGH = 6;
export const PLT_LOW = 7;
/** An ARM EHABI prel31 word: bit 31 kept, bits 0..30 the signed offset of the target from the word. */
export const PREL31 = 8;
/** A reference's field size by kind. */
export const FIELD_SIZE = Uint8Array.of(4, 4, 4, 4, 4, 4, 8, 4, 4);

const R_ARM_GLOB_DAT = 21;
const R_ARM_JUMP_SLOT = 22;
const R_ARM_RELATIVE = 23;

/**
 * The kind of the Thumb-2 branch whose halfwords are hw1, hw2, or -1. BLX needs hw2's bit 0 clear
 * (set, the encoding is undefined); B<cond> needs a condition below 14 (14 and 15 are other
 * instructions).
 */
export function thumbBranchKind(hw1: number, hw2: number): number {
  if ((hw1 & 0xf800) !== 0xf000) return -1;
  switch (hw2 & 0xd000) {
    case 0xd000:
      return THUMB_BL;
    case 0xc000:
      return (hw2 & 1) === 0 ? THUMB_BLX : -1;
    case 0x9000:
      return THUMB_B;
    case 0x8000:
      return ((hw1 >> 6) & 0xf) < 14 ? THUMB_BCOND : -1;
    default:
      return -1;
  }
}

/** The signed offset of a Thumb branch of kind `kind` (T1, T2, T4: 25 bits; T3: 21 bits). */
function thumbOffset(kind: number, hw1: number, hw2: number): number {
  const s = (hw1 >> 10) & 1;
  const j1 = (hw2 >> 13) & 1;
  const j2 = (hw2 >> 11) & 1;
  if (kind === THUMB_BCOND) {
    const v = (s << 20) | (j2 << 19) | (j1 << 18) | ((hw1 & 0x3f) << 12) | ((hw2 & 0x7ff) << 1);
    return (v << 11) >> 11;
  }
  // I1 = NOT(J1 XOR S), I2 = NOT(J2 XOR S).
  const i1 = (j1 ^ s) ^ 1;
  const i2 = (j2 ^ s) ^ 1;
  const low = kind === THUMB_BLX ? (hw2 & 0x7fe) << 1 : (hw2 & 0x7ff) << 1;
  const v = (s << 24) | (i1 << 23) | (i2 << 22) | ((hw1 & 0x3ff) << 12) | low;
  return (v << 7) >> 7;
}

/** The address a Thumb branch at `address` counts its offset from: the PC, word-aligned for BLX. */
const thumbBase = (kind: number, address: number): number => (kind === THUMB_BLX ? address + 4 - ((address + 4) % 4) : address + 4);

/** The target of the Thumb branch of kind `kind` at `address` whose halfwords are hw1, hw2. */
export const thumbTarget = (kind: number, address: number, hw1: number, hw2: number): number => thumbBase(kind, address) + thumbOffset(kind, hw1, hw2);

/** The Thumb branch of kind `kind` at `address` reaching `target` with `old`'s opcode bits, into `out`; false when it cannot. */
function encodeThumb(kind: number, old: Uint8Array, at: number, address: number, target: number, out: Uint8Array): boolean {
  if (address % 2 !== 0) return false;
  const offset = target - thumbBase(kind, address);
  const bits = kind === THUMB_BCOND ? 21 : 25;
  if (offset < -(2 ** (bits - 1)) || offset >= 2 ** (bits - 1) || offset % (kind === THUMB_BLX ? 4 : 2) !== 0) return false;
  const s = offset < 0 ? 1 : 0;
  let hw1: number;
  let hw2: number;
  if (kind === THUMB_BCOND) {
    hw1 = (u16(old, at) & 0xfbc0) | (s << 10) | ((offset >> 12) & 0x3f);
    hw2 = (u16(old, at + 2) & 0xd000) | (((offset >> 18) & 1) << 13) | (((offset >> 19) & 1) << 11) | ((offset >> 1) & 0x7ff);
  } else {
    const j1 = ((offset >> 23) & 1) ^ 1 ^ s;
    const j2 = ((offset >> 22) & 1) ^ 1 ^ s;
    const low = kind === THUMB_BLX ? (offset >> 1) & 0x7fe : (offset >> 1) & 0x7ff;
    hw1 = (u16(old, at) & 0xf800) | (s << 10) | ((offset >> 12) & 0x3ff);
    hw2 = (u16(old, at + 2) & 0xd000) | (j1 << 13) | (j2 << 11) | low;
  }
  out[0] = hw1 & 0xff;
  out[1] = hw1 >> 8;
  out[2] = hw2 & 0xff;
  out[3] = hw2 >> 8;
  return true;
}

/** The PLT entry's field of kind `kind` at `address` reaching `target`, into `out`; false when it cannot. */
function encodePlt(kind: number, old: Uint8Array, at: number, address: number, target: number, out: Uint8Array): boolean {
  // Both fields count from the entry's address + 8: the high one's own address + 8, the low one's own address.
  const offset = target - (kind === PLT_HIGH ? address + 8 : address);
  if (address % 4 !== 0 || offset < 0 || offset >= 2 ** 28) return false;
  if (kind === PLT_HIGH) {
    writeU32((u32(old, at) & 0xffffff00) | (offset >>> 20), out);
    writeU32((u32(old, at + 4) & 0xffffff00) | ((offset >>> 12) & 0xff), out, 4);
  } else {
    writeU32((u32(old, at) & 0xfffff000) | (offset & 0xfff), out);
  }
  return true;
}

function scanThumb(bytes: Uint8Array, layout: ElfLayout, start: number, end: number, list: ReferenceList): void {
  // The address of `start`; the code section lies in one segment, so addresses follow offsets.
  const base = offsetToVa(layout.segments, start);
  if (Number.isNaN(base)) return;
  let p = start;
  while (p + 4 <= end && !list.overflow) {
    // Bytes 1..3 of each instruction (little-endian) are its fixed part: the opcode and registers.
    if (p + 12 <= end && (base + (p - start)) % 4 === 0 && u32(bytes, p) >>> 8 === 0xe28fc6
      && u32(bytes, p + 4) >>> 8 === 0xe28cca && u32(bytes, p + 8) >>> 12 === 0xe5bcf) {
      const target = base + (p - start) + 8 + (bytes[p]! << 20) + (bytes[p + 4]! << 12) + (u32(bytes, p + 8) & 0xfff);
      if (!Number.isNaN(vaToOffset(layout.segments, target))) {
        list.add(p, PLT_HIGH, target);
        list.add(p + 8, PLT_LOW, target);
        p += 12;
        continue;
      }
    }
    const hw1 = u16(bytes, p);
    if ((hw1 & 0xf800) === 0xf000) {
      const hw2 = u16(bytes, p + 2);
      const kind = thumbBranchKind(hw1, hw2);
      if (kind >= 0) {
        const target = thumbTarget(kind, base + (p - start), hw1, hw2);
        if (inCode(layout, vaToOffset(layout.segments, target))) {
          list.add(p, kind, target);
          p += 4;
          continue;
        }
      }
    }
    // A literal load (pc-relative LDR, 16-bit T1 or 32-bit T2): its word, when inside the section.
    let literal = -1;
    if ((hw1 & 0xf800) === 0x4800) {
      literal = pcAligned(p, base - start) + (hw1 & 0xff) * 4;
    } else if ((hw1 & 0xff7f) === 0xf85f) {
      const imm12 = u16(bytes, p + 2) & 0xfff;
      literal = pcAligned(p, base - start) + ((hw1 & 0x80) !== 0 ? imm12 : -imm12);
    }
    if (literal >= start && literal + 4 <= end && (base + (literal - start)) % 4 === 0) {
      const target = base + (literal - start) + i32(bytes, literal);
      if (isMapped(layout.segments, target)) list.add(literal, SELF32, target);
    }
    p += 2;
  }
}

/** The file offset of Align(PC, 4) for a Thumb instruction at file offset `p` (address p + `delta`). */
const pcAligned = (p: number, delta: number): number => p + 4 - ((p + delta + 4) % 4);

function scanRel(bytes: Uint8Array, layout: ElfLayout, start: number, end: number, list: ReferenceList): void {
  const { segments } = layout;
  const isAddress = (va: number): boolean => !Number.isNaN(vaToOffset(segments, va));
  for (let e = start; e + 8 <= end && !list.overflow; e += 8) {
    const info = u32(bytes, e + 4);
    if (info === 0) continue;
    const where = u32(bytes, e);
    if (!isAddress(where)) continue;
    list.add(e, ABS32, where);
    const type = info & 0xff;
    if (type === R_ARM_RELATIVE || type === R_ARM_JUMP_SLOT || type === R_ARM_GLOB_DAT) {
      const at = vaToOffset(segments, where);
      if (at + 4 <= bytes.length) {
        const word = u32(bytes, at);
        if (isAddress(word)) list.add(at, ABS32, word);
      }
    }
  }
}

function scanDynsym(bytes: Uint8Array, layout: ElfLayout, start: number, end: number, list: ReferenceList): void {
  for (let e = start; e + 16 <= end && !list.overflow; e += 16) {
    const value = u32(bytes, e + 4);
    if (value !== 0 && !Number.isNaN(vaToOffset(layout.segments, value))) list.add(e + 4, ABS32, value);
  }
}

/** The target of the prel31 word at file offset `at` (address `address`). */
const prel31 = (bytes: Uint8Array, at: number, address: number): number => address + ((i32(bytes, at) << 1) >> 1);

function scanExidx(bytes: Uint8Array, layout: ElfLayout, start: number, end: number, list: ReferenceList): void {
  const { segments } = layout;
  const base = offsetToVa(segments, start);
  if (Number.isNaN(base)) return;
  for (let e = start; e + 8 <= end && !list.overflow; e += 8) {
    const address = base + (e - start);
    if ((bytes[e + 3]! & 0x80) === 0) {
      const fn = prel31(bytes, e, address);
      if (inCode(layout, vaToOffset(segments, fn))) list.add(e, PREL31, fn);
    }
    // The second word: EXIDX_CANTUNWIND (1), inline unwind codes (bit 31 set), or a prel31 to the .ARM.extab entry,
    // whose first word, when bit 31 is clear, is a prel31 to the personality routine.
    if ((bytes[e + 7]! & 0x80) !== 0 || u32(bytes, e + 4) === 1) continue;
    const entry = prel31(bytes, e + 4, address + 4);
    const at = vaToOffset(segments, entry);
    if (Number.isNaN(at)) continue;
    list.add(e + 4, PREL31, entry);
    if (at + 4 <= bytes.length && (bytes[at + 3]! & 0x80) === 0) {
      const personality = prel31(bytes, at, entry);
      if (inCode(layout, vaToOffset(segments, personality))) list.add(at, PREL31, personality);
    }
  }
}

/**
 * The references of a 32-bit ARM ELF file laid out as `layout` says, or undefined when it is not
 * ELF32 ARM, has no code section or has more than MAX_REFERENCES references.
 */
export function findArm32References(bytes: Uint8Array, layout: ElfLayout, scratch = new ReferenceScratch()): References | undefined {
  if (layout.machine !== EM_ARM || layout.addressSize !== 4 || layout.code.count === 0 || bytes.length >= 2 ** 31) return undefined;
  const list = new ReferenceList(scratch, FIELD_SIZE, layout.segments);
  for (let s = 0; s < layout.code.count; s++) scanThumb(bytes, layout, layout.code.start[s]!, layout.code.end[s]!, list);
  for (let s = 0; s < layout.rel.count; s++) scanRel(bytes, layout, layout.rel.start[s]!, layout.rel.end[s]!, list);
  for (let s = 0; s < layout.dynsym.count; s++) scanDynsym(bytes, layout, layout.dynsym.start[s]!, layout.dynsym.end[s]!, list);
  for (let s = 0; s < layout.exidx.count; s++) scanExidx(bytes, layout, layout.exidx.start[s]!, layout.exidx.end[s]!, list);
  if (list.overflow) return undefined;
  return list.sorted();
}

/** EXEC transform 3: 32-bit ARM ELF files (armhf). */
export const arm32: Architecture = {
  name: "ARM32",
  transform: 3,
  machine: EM_ARM,
  fieldSize: FIELD_SIZE,
  findReferences: findArm32References,
  encode(kind, old, at, newAddress, newTarget, out) {
    if (kind === ABS32) {
      if (newTarget >= 2 ** 32) return false;
      writeU32(newTarget, out);
      return true;
    }
    if (kind === SELF32) return writeI32(newTarget - newAddress, out);
    if (kind === PREL31) {
      const offset = newTarget - newAddress;
      if (offset < -(2 ** 30) || offset >= 2 ** 30) return false;
      writeU32((old[at + 3]! & 0x80) << 24 | (offset & 0x7fffffff), out);
      return true;
    }
    if (kind === PLT_HIGH || kind === PLT_LOW) return encodePlt(kind, old, at, newAddress, newTarget, out);
    return encodeThumb(kind, old, at, newAddress, newTarget, out);
  },
};
