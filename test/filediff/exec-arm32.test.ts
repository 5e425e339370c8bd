/**
 * Executable-aware diffs of 32-bit ARM files (src/filediff/exec/arm32-references.ts): each Thumb-2
 * branch form decoded and encoded as GNU as encodes it, out-of-range and misaligned fields left
 * unpredicted, the scanner's exact rules on hand-made ELF32 files, ELF32 layouts, hostile headers,
 * and a round trip on a real armhf library pair (zlib across a Debian security upgrade) where the
 * prediction must make the diff much smaller.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { approximateDiff, diffAlong } from "../../src/filediff/approximate-diff";
import { ABS32, arm32, findArm32References, PLT_HIGH, PLT_LOW, PREL31, SELF32, THUMB_B, THUMB_BCOND, THUMB_BL, THUMB_BLX, thumbBranchKind, thumbTarget } from "../../src/filediff/exec/arm32-references";
import { architectureOfMachine, architectureOfTransform } from "../../src/filediff/exec/architectures";
import { readElfLayout } from "../../src/filediff/exec/elf-layout";
import { execDiff, normalizedAlignment } from "../../src/filediff/exec/exec-diff";
import { findX86_64References } from "../../src/filediff/exec/x86-64-references";
import { xzSize } from "../../src/compress/xz-size";
import { Rng } from "../vcdiff/helpers";
import { BASE32, CODE32_AT, libzArmhfPair, thumb32, tinyElf32 } from "./arm32-helpers";
import { deviceApply, diffCost, socketPair, tinyElf } from "./exec-helpers";

/**
 * Thumb-2 branches as GNU as 2.40 (arm-linux-gnueabihf) assembled and objdump shows them, linked
 * at 0x10000: [address, hw1, hw2, kind, target].
 */
const ASSEMBLED: [number, number, number, number, number][] = [
  [0x10004, 0xf222, 0xfc92, THUMB_BL, 0x23292c],
  [0x1000a, 0xf222, 0xec8e, THUMB_BLX, 0x232928],
  [0x1000e, 0xf7ff, 0xbff9, THUMB_B, 0x10004],
  [0x10012, 0xf000, 0x825c, THUMB_BCOND, 0x104ce], // beq.w
  [0x10016, 0xf7ff, 0xfff5, THUMB_BL, 0x10004],
  [0x1001a, 0xf222, 0xec8a, THUMB_BLX, 0x232930],
  [0x10020, 0xf7ff, 0xefee, THUMB_BLX, 0x10000],
  [0x10024, 0xf47f, 0xafee, THUMB_BCOND, 0x10004], // bne.w
  [0x10028, 0xf33f, 0xaa52, THUMB_BCOND, 0x10f4d0], // bgt.w, near the +1 MiB limit
];

/** The offset bits of each form (ARM ARM): S and imm10 or imm6 in hw1; J1, J2 and imm11 (imm10L for BLX) in hw2. */
const OFFSET_BITS: Record<number, [number, number]> = {
  [THUMB_BL]: [0x07ff, 0x2fff],
  [THUMB_B]: [0x07ff, 0x2fff],
  [THUMB_BLX]: [0x07ff, 0x2ffe],
  [THUMB_BCOND]: [0x043f, 0x2fff],
};

function encode(kind: number, old: number[], address: number, target: number): number[] | undefined {
  const out = new Uint8Array(4);
  return arm32.encode(kind, Uint8Array.from(old), 0, address, target, out) ? Array.from(out) : undefined;
}

test("Thumb-2 BL, BLX, B.W and B<cond>.W decode to the assembler's targets, and encode back to its bytes from any offset bits", () => {
  for (const [address, hw1, hw2, kind, target] of ASSEMBLED) {
    const name = `${address.toString(16)}: ${hw1.toString(16)} ${hw2.toString(16)}`;
    assert.equal(thumbBranchKind(hw1, hw2), kind, name);
    assert.equal(thumbTarget(kind, address, hw1, hw2), target, name);
    // The old field with every offset bit flipped: encode keeps the opcode and condition, rewrites the rest.
    const [m1, m2] = OFFSET_BITS[kind]!;
    assert.deepEqual(encode(kind, thumb32(hw1 ^ m1, hw2 ^ m2), address, target), thumb32(hw1, hw2), name);
  }
  // Not branches: BLX with its H bit set, B<cond>.W with condition 14 or 15, other 32-bit instructions.
  assert.equal(thumbBranchKind(0xf222, 0xec8f), -1);
  assert.equal(thumbBranchKind(0xf380, 0x8000), -1);
  assert.equal(thumbBranchKind(0xf3c0, 0x8000), -1);
  assert.equal(thumbBranchKind(0xf85f, 0x3008), -1);
  assert.equal(thumbBranchKind(0xe92d, 0x4ff0), -1);
});

test("a Thumb-2 field out of range or misaligned is not predicted; absolute and self-relative words are", () => {
  const bl = thumb32(0xf000, 0xd000);
  const at = 0x100000;
  assert.ok(encode(THUMB_BL, bl, at, at + 4 + 2 ** 24 - 2), "BL's last forward offset");
  assert.equal(encode(THUMB_BL, bl, at, at + 4 + 2 ** 24), undefined, "BL past +16 MiB");
  assert.ok(encode(THUMB_BL, bl, at, at + 4 - 2 ** 24), "BL's last backward offset");
  assert.equal(encode(THUMB_BL, bl, at, at + 4 - 2 ** 24 - 2), undefined, "BL past -16 MiB");
  assert.equal(encode(THUMB_BL, bl, at, at + 101), undefined, "BL to an odd address");
  assert.equal(encode(THUMB_BL, bl, at + 1, at + 100), undefined, "BL at an odd address");
  assert.equal(encode(THUMB_B, thumb32(0xf000, 0x9000), at, at + 4 + 2 ** 24), undefined, "B.W past +16 MiB");
  const blx = thumb32(0xf000, 0xc000);
  assert.ok(encode(THUMB_BLX, blx, at + 2, at + 0x100), "BLX from a halfword to a word");
  assert.equal(encode(THUMB_BLX, blx, at, at + 0x102), undefined, "BLX to ARM code that is not word-aligned");
  const beq = thumb32(0xf000, 0x8000);
  assert.ok(encode(THUMB_BCOND, beq, at, at + 4 + 2 ** 20 - 2), "B<cond>.W's last forward offset");
  assert.equal(encode(THUMB_BCOND, beq, at, at + 4 + 2 ** 20), undefined, "B<cond>.W past +1 MiB");
  assert.ok(encode(THUMB_BCOND, beq, at, at + 4 - 2 ** 20), "B<cond>.W's last backward offset");
  assert.equal(encode(THUMB_BCOND, beq, at, at + 4 - 2 ** 20 - 2), undefined, "B<cond>.W past -1 MiB");
  assert.deepEqual(encode(ABS32, [0, 0, 0, 0], at, 0x12345678), [0x78, 0x56, 0x34, 0x12]);
  assert.equal(encode(ABS32, [0, 0, 0, 0], at, 2 ** 32), undefined, "an address past 32 bits");
  assert.deepEqual(encode(SELF32, [0, 0, 0, 0], 0x1000, 0xf00), [0x00, 0xff, 0xff, 0xff], "the target minus the word's own address");
});

test("an ARM PLT entry's two fields reach its GOT slot as objdump reads them; out of range or misaligned, not predicted", () => {
  // perl's duplocale@plt (armhf perl-base 5.36.0-7+deb12u3) at 0x25cdc: e28fc602 e28cca99 e5bcf328, slot 0x2bf00c.
  const entry = [0x02, 0xc6, 0x8f, 0xe2, 0x99, 0xca, 0x8c, 0xe2, 0x28, 0xf3, 0xbc, 0xe5];
  const at = 0x25cdc;
  const slot = at + 8 + 0x200000 + 0x99000 + 0x328;
  // From another entry's bits (all offset bits set), the same words come back.
  const other = [0xff, 0xc6, 0x8f, 0xe2, 0xff, 0xca, 0x8c, 0xe2, 0xff, 0xff, 0xbc, 0xe5];
  const high = new Uint8Array(8);
  assert.ok(arm32.encode(PLT_HIGH, Uint8Array.from(other), 0, at, slot, high));
  assert.deepEqual(Array.from(high), entry.slice(0, 8));
  assert.deepEqual(encode(PLT_LOW, other.slice(8), at + 8, slot), entry.slice(8));
  assert.equal(encode(PLT_LOW, other.slice(8), at + 8, at + 4), undefined, "a slot before the entry");
  assert.equal(arm32.encode(PLT_HIGH, Uint8Array.from(other), 0, at, at + 8 + 2 ** 28, high), false, "a slot 256 MiB on");
  assert.equal(arm32.encode(PLT_HIGH, Uint8Array.from(other), 0, at + 2, slot, high), false, "an entry not word-aligned");
});

test("scanner: a PLT entry at a word-aligned address is two references to its slot; elsewhere, or to no file byte, none", () => {
  const code = new Uint8Array(48);
  for (let i = 0; i < code.length; i += 2) code.set([0x00, 0xbf], i);
  const dataAt = CODE32_AT + code.length;
  const address = (offset: number): number => BASE32 + CODE32_AT + offset;
  /** A PLT entry at code offset `offset` reaching `slot`. */
  const plt = (offset: number, slot: number): void => {
    const d = slot - (address(offset) + 8);
    code.set([d >>> 20, 0xc6, 0x8f, 0xe2, (d >>> 12) & 0xff, 0xca, 0x8c, 0xe2, d & 0xff, 0xf0 | ((d >> 8) & 0xf), 0xbc, 0xe5], offset);
  };
  plt(0, BASE32 + dataAt + 4);
  plt(14, BASE32 + dataAt + 8); // address 2 past a word: not a PLT entry
  plt(28, BASE32 + 0x100000); // a slot past the file
  const bytes = tinyElf32({ code, data: 16 });
  assert.deepEqual(rows(bytes), [
    [CODE32_AT, PLT_HIGH, BASE32 + dataAt + 4],
    [CODE32_AT + 8, PLT_LOW, BASE32 + dataAt + 4],
  ]);
});

/** The references of `bytes` as [position, kind, target] rows. */
function rows(bytes: Uint8Array): [number, number, number][] {
  const refs = findArm32References(bytes, readElfLayout(bytes)!)!;
  return Array.from({ length: refs.count }, (_, i) => [refs.position[i]!, refs.kind[i]!, refs.target[i]!]);
}

test("scanner: Thumb-2 branches into code and PIC literal words, at their exact positions; what it leaves", () => {
  const CODE = 96;
  const DATA = 32;
  const fileLength = tinyElf32({ code: new Uint8Array(CODE), data: DATA }).length;
  const code = new Uint8Array(CODE);
  const v = new DataView(code.buffer);
  const address = (offset: number): number => BASE32 + CODE32_AT + offset;
  for (let i = 0; i < CODE; i += 2) v.setUint16(i, 0xbf00, true); // nop
  const branch = (offset: number, kind: number, template: number[], target: number): void => {
    code.set(encode(kind, template, address(offset), target)!, offset);
  };
  const dataAddress = address(CODE);
  branch(0, THUMB_BL, thumb32(0xf000, 0xd000), address(0));
  branch(6, THUMB_BLX, thumb32(0xf000, 0xc000), address(0x40));
  branch(10, THUMB_B, thumb32(0xf000, 0x9000), address(2));
  branch(14, THUMB_BCOND, thumb32(0xf000, 0x8000), address(0x20));
  branch(18, THUMB_BL, thumb32(0xf000, 0xd000), dataAddress); // into data: left
  code.set(thumb32(0xf000, 0xc001), 22); // BLX with H set: left
  code.set(thumb32(0xf380, 0x8000), 26); // B<cond>.W, condition 14: left
  v.setUint16(30, 0x4b00 | ((64 - 32) / 4), true); // ldr r3, [pc, #32] at 30: Align(30 + 4, 4) = 32, the word at 64
  v.setUint16(32, 0x4900 | ((68 - 36) / 4), true); // ldr r1, [pc, #32] at 32: the word at 68
  v.setUint16(72, 0xf85f, true); // ldr.w r2, [pc, #-16] at 72: Align(76) - 16 = the word at 60
  v.setUint16(74, 0x2000 | 16, true);
  const bssTarget = BASE32 + fileLength + 8;
  v.setInt32(60, bssTarget - address(60), true);
  v.setInt32(64, dataAddress + 4 - address(64), true);
  v.setInt32(68, 0x7fffff00, true); // its own address + it is no mapped address: left
  v.setUint16(94, 0xf7ff, true); // a BL's first halfword at the section's end (hw2 in the data below): left
  const bytes = tinyElf32({ code, data: DATA, bss: 64 });
  bytes.set([0xf0, 0xff], CODE32_AT + CODE); // hw2 of a BL 32 bytes back, into code
  assert.equal(bytes.length, fileLength);
  assert.deepEqual(rows(bytes), [
    [CODE32_AT + 0, THUMB_BL, address(0)],
    [CODE32_AT + 6, THUMB_BLX, address(0x40)],
    [CODE32_AT + 10, THUMB_B, address(2)],
    [CODE32_AT + 14, THUMB_BCOND, address(0x20)],
    [CODE32_AT + 60, SELF32, bssTarget],
    [CODE32_AT + 64, SELF32, dataAddress + 4],
  ]);
});

test("scanner: REL entries give r_offset, and the word at it for GLOB_DAT, JUMP_SLOT and RELATIVE when it is an address", () => {
  const code = new Uint8Array(16);
  for (let i = 0; i < code.length; i += 2) code.set([0x00, 0xbf], i);
  const dataAt = CODE32_AT + code.length;
  const relAt = dataAt + 32;
  const probe = tinyElf32({ code, data: 32, rel: Array.from({ length: 7 }, () => [0, 0] as [number, number]) });
  const bytes = tinyElf32({
    code, data: 32,
    rel: [
      [BASE32 + dataAt, 23], // R_ARM_RELATIVE
      [BASE32 + dataAt + 4, 22], // R_ARM_JUMP_SLOT
      [BASE32 + dataAt + 8, 21], // R_ARM_GLOB_DAT
      [BASE32 + dataAt + 12, (5 << 8) | 2], // R_ARM_ABS32: r_offset only
      [BASE32 + dataAt + 16, 0], // r_info 0: nothing
      [BASE32 + probe.length + 100, 23], // r_offset outside the file's bytes: nothing
      [BASE32 + dataAt + 20, 23], // a word that is no address: r_offset only
    ],
  });
  assert.equal(bytes.length, probe.length);
  const v = new DataView(bytes.buffer);
  v.setUint32(dataAt, BASE32 + CODE32_AT + 4, true);
  v.setUint32(dataAt + 4, BASE32 + CODE32_AT + 8, true);
  v.setUint32(dataAt + 8, BASE32 + dataAt + 16, true);
  v.setUint32(dataAt + 20, 0x12345678, true);
  assert.deepEqual(rows(bytes), [
    [dataAt, ABS32, BASE32 + CODE32_AT + 4],
    [dataAt + 4, ABS32, BASE32 + CODE32_AT + 8],
    [dataAt + 8, ABS32, BASE32 + dataAt + 16],
    [relAt, ABS32, BASE32 + dataAt],
    [relAt + 8, ABS32, BASE32 + dataAt + 4],
    [relAt + 16, ABS32, BASE32 + dataAt + 8],
    [relAt + 24, ABS32, BASE32 + dataAt + 12],
    [relAt + 48, ABS32, BASE32 + dataAt + 20],
  ]);
});

test("scanner: a dynamic symbol's st_value is a reference when it is an address with file bytes, not 0", () => {
  const code = new Uint8Array(32);
  for (let i = 0; i < code.length; i += 2) code.set([0x00, 0xbf], i);
  const bytes = tinyElf32({ code, data: 64 });
  // The data as a .dynsym of 4 entries, first named by section header 1 (.text turned into it).
  const dynsymAt = CODE32_AT + code.length;
  const v = new DataView(bytes.buffer);
  const shoff = v.getUint32(0x20, true);
  v.setUint32(shoff + 40 + 4, 11, true); // sh_type SHT_DYNSYM
  v.setUint32(shoff + 40 + 8, 2, true); // SHF_ALLOC: no code section left
  v.setUint32(shoff + 40 + 16, dynsymAt, true);
  v.setUint32(shoff + 40 + 20, 64, true);
  v.setUint32(shoff + 40 + 36, 16, true);
  v.setUint32(dynsymAt + 4, BASE32 + CODE32_AT + 5, true); // a Thumb function: its address | 1
  v.setUint32(dynsymAt + 16 + 4, 0, true); // undefined: 0
  v.setUint32(dynsymAt + 32 + 4, BASE32 + bytes.length + 8, true); // past the file bytes
  v.setUint32(dynsymAt + 48 + 4, BASE32 + dynsymAt, true);
  const layout = readElfLayout(bytes)!;
  assert.deepEqual([layout.dynsym.count, layout.dynsym.start[0], layout.dynsym.end[0]], [1, dynsymAt, dynsymAt + 64]);
  // No code section: the file has no references to offer.
  assert.equal(findArm32References(bytes, layout), undefined);
  const withCode = tinyElf32({ code, data: 64, rel: [[0, 0]] });
  const w = new DataView(withCode.buffer);
  const shoff2 = w.getUint32(0x20, true);
  // Section 2 (.rel.dyn) becomes the .dynsym over the data.
  w.setUint32(shoff2 + 80 + 4, 11, true);
  w.setUint32(shoff2 + 80 + 16, dynsymAt, true);
  w.setUint32(shoff2 + 80 + 20, 64, true);
  w.setUint32(shoff2 + 80 + 36, 16, true);
  withCode.set(bytes.subarray(dynsymAt, dynsymAt + 64), dynsymAt);
  w.setUint32(dynsymAt + 32 + 4, BASE32 + withCode.length + 8, true);
  assert.deepEqual(rows(withCode), [
    [dynsymAt + 4, ABS32, BASE32 + CODE32_AT + 5],
    [dynsymAt + 52, ABS32, BASE32 + dynsymAt],
  ]);
});

test("scanner: the exception index's prel31 words to functions, to .ARM.extab entries, and those entries' personality words", () => {
  const code = new Uint8Array(32);
  for (let i = 0; i < code.length; i += 2) code.set([0x00, 0xbf], i);
  const dataAt = CODE32_AT + code.length;
  const bytes = tinyElf32({ code, data: 32, rel: [[0, 0]] });
  const v = new DataView(bytes.buffer);
  // Section 2 (.rel.dyn) becomes a 24-byte .ARM.exidx over the data.
  const header = v.getUint32(0x20, true) + 80;
  v.setUint32(header + 4, 0x70000001, true);
  v.setUint32(header + 16, dataAt, true);
  v.setUint32(header + 20, 24, true);
  v.setUint32(header + 36, 0, true);
  const address = (offset: number): number => BASE32 + offset;
  const prel31 = (at: number, target: number): void => v.setUint32(at, (target - address(at)) & 0x7fffffff, true);
  prel31(dataAt, address(CODE32_AT)); // a function, backwards
  v.setUint32(dataAt + 4, 1, true); // EXIDX_CANTUNWIND
  prel31(dataAt + 8, address(CODE32_AT + 8));
  prel31(dataAt + 12, address(dataAt + 24)); // its .ARM.extab entry
  prel31(dataAt + 16, address(dataAt)); // no function: left
  v.setUint32(dataAt + 20, 0x80b0b0b0, true); // inline unwind codes: left
  prel31(dataAt + 24, address(CODE32_AT + 16)); // the entry's personality routine
  const layout = readElfLayout(bytes)!;
  assert.deepEqual([layout.exidx.count, layout.exidx.start[0], layout.exidx.end[0]], [1, dataAt, dataAt + 24]);
  assert.deepEqual(rows(bytes), [
    [dataAt, PREL31, address(CODE32_AT)],
    [dataAt + 8, PREL31, address(CODE32_AT + 8)],
    [dataAt + 12, PREL31, address(dataAt + 24)],
    [dataAt + 24, PREL31, address(CODE32_AT + 16)],
  ]);
  // Encoding keeps bit 31 and writes the 31-bit offset; past +-2^30 it cannot.
  assert.deepEqual(encode(PREL31, [0, 0, 0, 0], 0x2000, 0x1000), [0x00, 0xf0, 0xff, 0x7f]);
  assert.deepEqual(encode(PREL31, [0, 0, 0, 0x80], 0x1000, 0x2000), [0x00, 0x10, 0x00, 0x80]);
  assert.equal(encode(PREL31, [0, 0, 0, 0], 0, 2 ** 30), undefined);
});

test("ELF32 layout: segments, code sections and whole REL entries as the headers say; ELF64 layouts unchanged", () => {
  const code = new Uint8Array(16);
  const bytes = tinyElf32({ code, data: 8, bss: 100, rel: [[BASE32 + CODE32_AT, 23], [BASE32 + CODE32_AT + 4, 23]] });
  const relAt = CODE32_AT + 16 + 8;
  const layout = readElfLayout(bytes)!;
  assert.equal(layout.machine, 40);
  assert.equal(layout.addressSize, 4);
  assert.deepEqual([layout.segments.count, layout.segments.offset[0], layout.segments.vaddr[0], layout.segments.filesz[0], layout.segments.memsz[0]], [1, 0, BASE32, bytes.length, bytes.length + 100]);
  assert.deepEqual([layout.code.count, layout.code.start[0], layout.code.end[0]], [1, CODE32_AT, CODE32_AT + 16]);
  assert.deepEqual([layout.rel.count, layout.rel.start[0], layout.rel.end[0]], [1, relAt, relAt + 16]);
  assert.equal(layout.rela.count, 0);
  const shoff = new DataView(bytes.buffer).getUint32(0x20, true);
  const relHeader = shoff + 2 * 40;
  const cut = bytes.slice();
  new DataView(cut.buffer).setUint32(relHeader + 20, 13, true); // sh_size 13: one whole entry
  assert.deepEqual([readElfLayout(cut)!.rel.start[0], readElfLayout(cut)!.rel.end[0]], [relAt, relAt + 8]);
  const rela = bytes.slice();
  new DataView(rela.buffer).setUint32(relHeader + 36, 12, true); // entries of 12 bytes: not a REL table
  assert.equal(readElfLayout(rela)!.rel.count, 0);
  // A real armhf library, as readelf shows it: two PT_LOADs; .init, .plt, .text, .fini; .rel.dyn and .rel.plt.
  const libz = readElfLayout(libzArmhfPair().old)!;
  assert.deepEqual(Array.from(libz.segments.vaddr), [0, 0x2fe1c]);
  assert.deepEqual(Array.from(libz.segments.memsz), [0x10400, 0x2dc]);
  assert.deepEqual(Array.from(libz.code.start), [0x18cc, 0x18d8, 0x1b88, 0xcdb4]);
  assert.deepEqual(Array.from(libz.rel.start), [0x1624, 0x1734]);
  assert.deepEqual(Array.from(libz.rel.end), [0x1624 + 0x110, 0x1734 + 0x198]);
  // ELF64: no REL tables, 8-byte addresses.
  const x86 = readElfLayout(tinyElf({ code: Uint8Array.of(0xe8, 0, 0, 0, 0), rela: [[0x400000, 8, 0x400000]] }))!;
  assert.deepEqual([x86.addressSize, x86.rel.count, x86.rela.count, x86.code.count], [8, 0, 1, 1]);
});

test("each architecture takes only its own files: ARM32 no ELF64, x86-64 no ELF32; transform 3 names ARM32", () => {
  const arm = tinyElf32({ code: Uint8Array.from(thumb32(0xf7ff, 0xfffe)) });
  assert.equal(findArm32References(arm, readElfLayout(arm)!)!.count, 1);
  assert.equal(architectureOfTransform(3), arm32);
  assert.equal(architectureOfMachine(40), arm32);
  const x32 = arm.slice();
  x32[18] = 62; // an ELF32 file of machine x86-64 (the x32 ABI)
  assert.equal(findX86_64References(x32, readElfLayout(x32)!), undefined);
  const elf64 = tinyElf({ code: Uint8Array.from(thumb32(0xf7ff, 0xfffe)) });
  elf64[18] = 40;
  assert.equal(findArm32References(elf64, readElfLayout(elf64)!), undefined);
});

test("truncated or garbage ELF32 headers never throw, in the layout or the scan", () => {
  const { old } = libzArmhfPair();
  const tiny = tinyElf32({ code: Uint8Array.from(thumb32(0xf7ff, 0xfffe)), rel: [[BASE32, 23]] });
  const scan = (bytes: Uint8Array): void => {
    const layout = readElfLayout(bytes);
    if (layout) findArm32References(bytes, layout);
  };
  for (let n = 0; n < tiny.length; n += 3) assert.doesNotThrow(() => scan(tiny.subarray(0, n)));
  for (const n of [0, 52, 100, 0x1000, old.length - 1000, old.length - 1]) assert.doesNotThrow(() => scan(old.subarray(0, n)));
  const rng = new Rng(40);
  const shoff = new DataView(old.buffer, old.byteOffset).getUint32(0x20, true);
  for (let i = 0; i < 300; i++) {
    const bad = (i % 2 === 0 ? tiny : old).slice();
    for (let k = 0; k < 3; k++) {
      const where = rng.next() % 3;
      const at = where === 0 ? rng.next() % 52 : where === 1 ? 52 + (rng.next() % 256) : Math.min(bad.length - 1, (i % 2 === 0 ? bad.length - 120 : shoff) + (rng.next() % 1000));
      bad[at] = rng.next() & 0xff;
    }
    assert.doesNotThrow(() => scan(bad), `case ${i}`);
  }
});

test("round trip on armhf zlib across a security upgrade: byte for byte through the device's prediction, at most 0.7x the approximate diff", () => {
  const { old, neu } = libzArmhfPair();
  const refs = findArm32References(old, readElfLayout(old)!)!;
  assert.ok(refs.count > 1000, `${refs.count} references`);
  const again = findArm32References(old, readElfLayout(old)!)!;
  assert.ok(Buffer.from(again.position.buffer, 0, 4 * again.count).equals(Buffer.from(refs.position.buffer, 0, 4 * refs.count)), "the scan is deterministic");
  const approx = approximateDiff(old, neu);
  const exec = execDiff(old, neu, approx, diffCost);
  assert.ok(exec, "an executable-aware diff");
  assert.equal(exec.transform, 3);
  const made = deviceApply(old, exec, neu.length);
  assert.ok(Buffer.from(made).equals(Buffer.from(neu)), "the device's apply makes the new file");
  const approxBytes = xzSize([approx.control, approx.differences, approx.literals]);
  const execBytes = xzSize([exec.diff.control, exec.diff.differences, exec.diff.literals]);
  assert.ok(execBytes <= 0.7 * approxBytes, `exec ${execBytes} bytes, approx ${approxBytes}`);
});

test("the generator's execDiff never throws on damaged armhf files; an x86-64 old file with an armhf new one gives none", () => {
  const { old, neu } = libzArmhfPair();
  const rng = new Rng(41);
  let kept = 0;
  for (let i = 0; i < 24; i++) {
    const a = old.slice();
    const b = neu.slice();
    for (const bytes of [a, b]) {
      for (let k = 0; k < 2; k++) {
        const inHeaders = rng.next() % 2 === 0 ? rng.next() % 128 : bytes.length - 1 - (rng.next() % 1400);
        bytes[inHeaders] = rng.next() & 0xff;
      }
    }
    // The planner's one alignment (normalizedAlignment), as it uses it.
    const alignment = normalizedAlignment(a, b);
    if (alignment) {
      const one = execDiff(a, b, diffAlong(alignment.control, a, b), diffCost, undefined, alignment);
      if (one) assert.ok(Buffer.from(deviceApply(a, one, b.length)).equals(Buffer.from(b)), `case ${i}: EXEC along the one alignment`);
    }
    const exec = execDiff(a, b, approximateDiff(a, b), diffCost);
    if (!exec) continue;
    kept++;
    const made = deviceApply(a, exec, b.length);
    assert.ok(Buffer.from(made).equals(Buffer.from(b)), `case ${i}`);
  }
  assert.ok(kept > 0, "some damage leaves a usable file");
  const x86 = socketPair().old;
  assert.equal(execDiff(x86, neu, approximateDiff(x86, neu), diffCost), undefined);
  assert.equal(normalizedAlignment(x86, neu), undefined, "no alignment across machines");
});
