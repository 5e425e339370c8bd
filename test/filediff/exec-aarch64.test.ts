/**
 * AArch64 for executable-aware diffs (src/filediff/exec/aarch64-references.ts): the scanner's
 * exact rules on hand-assembled A64 code (each instruction form, the ADRP pairing, what it leaves),
 * each form's field encoding with its range and alignment limits, hostile files, and round trips
 * on perl's Socket.so as Debian's arm64 security upgrade rebuilt it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import {
  aarch64, ABS64, ADD_LO12, ADR, ADRP, BRANCH26, findAarch64References, IMM14, IMM19, LDST_LO12, PCREL32,
} from "../../src/filediff/exec/aarch64-references";
import { readElfLayout } from "../../src/filediff/exec/elf-layout";
import { execDiff, ExecDiffError } from "../../src/filediff/exec/exec-diff";
import { findX86_64References } from "../../src/filediff/exec/x86-64-references";
import { Rng } from "../vcdiff/helpers";
import { BASE, CODE_AT, deviceApply, devicePrediction, diffCost, ehFrameAt, le32, socketPair, tinyElf } from "./exec-helpers";

const EM_AARCH64 = 183;
const NOP = 0xd503201f;

/** The references of `bytes` as [position, kind, target] rows. */
function rows(bytes: Uint8Array): [number, number, number][] {
  const refs = findAarch64References(bytes, readElfLayout(bytes)!)!;
  return Array.from({ length: refs.count }, (_, i) => [refs.position[i]!, refs.kind[i]!, refs.target[i]!]);
}

/** A64 words as little-endian bytes. */
const code = (words: number[]): Uint8Array => {
  const out = new Uint8Array(4 * words.length);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(4 * i, w >>> 0, true));
  return out;
};
/** ADR/ADRP's 21-bit immediate in place. */
const adrImm = (imm: number): number => ((imm & 3) << 29) | (((imm >> 2) & 0x7ffff) << 5);

test("scanner: every instruction form at its exact place; ADRP paired with the instruction that adds its low 12 bits", () => {
  const words: number[] = new Array(32).fill(NOP);
  const n = words.length;
  const pos = (i: number): number => CODE_AT + 4 * i;
  const pc = (i: number): number => BASE + pos(i);
  const dataAt = CODE_AT + 4 * n;
  const data = BASE + dataAt;
  /** Word offset from instruction i to address `to`. */
  const w = (i: number, to: number): number => (to - pc(i)) / 4;
  const page1 = BASE + 0x1000; // in .bss: the file is smaller than a page
  const page2 = BASE + 0x2000;
  const expected: [number, number, number][] = [];
  const put = (i: number, word: number, kind?: number, target?: number): void => {
    words[i] = word;
    if (kind !== undefined) expected.push([pos(i), kind, target!]);
  };
  put(0, 0x14000000 | (w(0, pc(5)) & 0x3ffffff), BRANCH26, pc(5)); // b
  put(1, 0x94000000 | (w(1, pc(0)) & 0x3ffffff), BRANCH26, pc(0)); // bl, backwards
  put(2, 0x54000001 | ((w(2, pc(9)) & 0x7ffff) << 5), IMM19, pc(9)); // b.ne
  put(3, 0xb4000003 | ((w(3, pc(2)) & 0x7ffff) << 5), IMM19, pc(2)); // cbz x3
  put(4, 0xb6080005 | ((w(4, pc(0)) & 0x3fff) << 5), IMM14, pc(0)); // tbz x5, #33
  put(5, 0x58000001 | (w(5, data) << 5), IMM19, data); // ldr x1, literal
  put(6, 0x98000001 | (w(6, data + 8) << 5), IMM19, data + 8); // ldrsw x1, literal
  put(7, 0xd8000000 | (w(7, data + 16) << 5), IMM19, data + 16); // prfm, literal
  put(8, 0x9c000000 | (w(8, data + 16) << 5), IMM19, data + 16); // ldr q0, literal
  put(9, 0x10000002 | adrImm(data + 3 - pc(9)), ADR, data + 3); // adr x2 (any byte)
  // adrp x1 completed by add, ldr and str based on x1 up to 4 instructions on (not the ldr q0 at 5).
  put(10, 0x90000001 | adrImm(1), ADRP, page1 + 0x10);
  put(12, 0x91000000 | (0x10 << 10) | (1 << 5) | 2, ADD_LO12, page1 + 0x10); // add x2, x1, #0x10
  put(13, 0xf9400000 | (1 << 10) | (1 << 5) | 3, LDST_LO12, page1 + 8); // ldr x3, [x1, #8]
  put(14, 0xb9000000 | (2 << 10) | (1 << 5) | 4, LDST_LO12, page1 + 8); // str w4, [x1, #8]
  put(15, 0x3dc00000 | (1 << 10) | (1 << 5) | 0); // ldr q0, [x1, #16]: 5 instructions on
  put(16, 0x90000006 | adrImm(1), ADRP, page1); // adrp x6 alone: its page
  // adrp x7 twice: the add completes the nearest one; the first stops at the second.
  put(17, 0x90000007 | adrImm(1), ADRP, page1);
  put(18, 0x90000007 | adrImm(2), ADRP, page2 + 0x20);
  put(19, 0x91000000 | (0x20 << 10) | (7 << 5) | 8, ADD_LO12, page2 + 0x20); // add x8, x7, #0x20
  // Left: a branch into data, a literal past the segment's memory, an add with no adrp of its
  // base, an offset that reaches past the page, a 32-bit add.
  put(20, 0x14000000 | w(20, data));
  put(21, 0x58000001 | (0x10000 << 5));
  put(22, 0x91000000 | (4 << 10) | (9 << 5) | 2);
  put(24, 0x9000000a | adrImm(1), ADRP, page1);
  put(25, 0xf9400000 | (512 << 10) | (10 << 5) | 3); // ldr x3, [x10, #4096]
  put(26, 0x11000000 | (4 << 10) | (10 << 5) | 2); // add w2, w10, #4
  const bytes = tinyElf({ code: code(words), data: 32, bss: 0x2000, machine: EM_AARCH64 });
  assert.ok(bytes.length < 0x1000);
  assert.deepEqual(rows(bytes), expected);
  assert.equal(findX86_64References(bytes, readElfLayout(bytes)!), undefined, "an AArch64 file is no x86-64 one");
});

test("scanner: instructions are the words at addresses that are multiples of 4, wherever the section starts in the file", () => {
  // b .+8 at code bytes 2 and 10: instructions only when the section's address is 2 mod 4.
  const text = new Uint8Array(24);
  text.set(code([0x14000002]), 2);
  text.set(code([0x14000002]), 10);
  const bytes = tinyElf({ code: text, machine: EM_AARCH64 });
  // At BASE the words at code bytes 0, 4, 8, 12 are read: the b at byte 10 straddles two.
  assert.deepEqual(rows(bytes), []);
  new DataView(bytes.buffer).setUint32(64 + 16, BASE + 2, true); // p_vaddr: every address 2 more
  assert.deepEqual(rows(bytes), [
    [CODE_AT + 2, BRANCH26, BASE + 2 + CODE_AT + 2 + 8],
    [CODE_AT + 10, BRANCH26, BASE + 2 + CODE_AT + 10 + 8],
  ]);
});

test("scanner: R_AARCH64_RELATIVE gives r_offset, r_addend and the word; GLOB_DAT and JUMP_SLOT r_offset and the word; other types r_offset", () => {
  const text = code([NOP, NOP, NOP, NOP]);
  const dataAt = CODE_AT + text.length;
  const relaAt = dataAt + 32;
  const bytes = tinyElf({
    code: text, data: 32, machine: EM_AARCH64,
    rela: [
      [BASE + dataAt, 1027, BASE + CODE_AT + 4],
      [BASE + dataAt + 8, 1026, 0],
      [BASE + dataAt + 16, 1025, 0],
      [BASE + dataAt + 24, 257, 0], // R_AARCH64_ABS64: r_offset only
    ],
  });
  const v = new DataView(bytes.buffer);
  v.setUint32(dataAt, BASE + CODE_AT + 4, true); // the RELATIVE word holds its addend
  v.setUint32(dataAt + 8, BASE + CODE_AT + 8, true); // the lazy PLT address
  v.setUint32(dataAt + 16, BASE + CODE_AT + 12, true); // a GLOB_DAT word, as a linker could leave it
  v.setUint32(dataAt + 24, BASE + CODE_AT, true); // not read: ABS64 words are symbol values
  assert.deepEqual(rows(bytes), [
    [dataAt, ABS64, BASE + CODE_AT + 4],
    [dataAt + 8, ABS64, BASE + CODE_AT + 8],
    [dataAt + 16, ABS64, BASE + CODE_AT + 12],
    [relaAt, ABS64, BASE + dataAt],
    [relaAt + 16, ABS64, BASE + CODE_AT + 4],
    [relaAt + 24, ABS64, BASE + dataAt + 8],
    [relaAt + 48, ABS64, BASE + dataAt + 16],
    [relaAt + 72, ABS64, BASE + dataAt + 24],
  ]);
});

test("scanner: a dynamic symbol's st_value is a reference when the symbol is defined in a section and its value has file bytes", () => {
  const text = code([NOP, NOP, NOP, NOP]);
  const dataAt = CODE_AT + text.length;
  // tinyElf's RELA section, turned into SHT_DYNSYM: [r_offset, r_info, r_addend] are
  // [st_name | st_info | st_other | st_shndx << 48, st_value, st_size].
  const sym = (section: number, value: number): [number, number, number] => [section * 2 ** 48, value, 8];
  const spec = { code: text, data: 32, machine: EM_AARCH64 };
  const probe = tinyElf({ ...spec, rela: [sym(0, 0)] });
  const bytes = tinyElf({
    ...spec,
    rela: [
      sym(1, BASE + CODE_AT + 4), // a function
      sym(0, BASE + CODE_AT), // undefined: st_value is no address of this file
      sym(0xfff1, BASE + CODE_AT), // SHN_ABS
      sym(1, BASE + probe.length + 4096), // past the file bytes
      sym(3, BASE + dataAt + 8), // an object
    ],
  });
  const symbolsAt = dataAt + 32;
  const shoff = symbolsAt + 5 * 24;
  new DataView(bytes.buffer).setUint32(shoff + 2 * 64 + 4, 11, true);
  assert.deepEqual(rows(bytes), [
    [symbolsAt + 8, ABS64, BASE + CODE_AT + 4],
    [symbolsAt + 4 * 24 + 8, ABS64, BASE + dataAt + 8],
  ]);
});

test("scanner: .eh_frame gives each FDE's function address when its CIE declares pc-relative 32-bit addresses", () => {
  const spec = { code: code(new Array(8).fill(NOP)), data: 16, machine: EM_AARCH64 };
  const ehAt = ehFrameAt(spec);
  const fn = (i: number): number => BASE + CODE_AT + 4 * i;
  const eh: number[] = [];
  /** Appends a record (its length, then `body` padded to a multiple of 4); returns its offset. */
  const record = (body: number[]): number => {
    const at = eh.length;
    const padded = [...body];
    while (padded.length % 4 !== 0) padded.push(0);
    eh.push(...le32(padded.length), ...padded);
    return at;
  };
  const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));
  // Version 1, augmentation, code alignment 4, data alignment -8, return address x30, augmentation data.
  const cie = (augmentation: string, data: number[]): number => record([0, 0, 0, 0, 1, ...ascii(augmentation), 0, 4, 0x78, 30, data.length, ...data]);
  const fde = (cieAt: number, target: number): number => {
    const at = eh.length;
    record([...le32(at + 4 - cieAt), ...le32(target - (BASE + ehAt + at + 8)), ...le32(4), 0]);
    return at;
  };
  const zR = cie("zR", [0x1b]);
  const first = fde(zR, fn(2));
  fde(zR, BASE + CODE_AT + 32 + 4); // a function address in data: not code
  const zPLR = cie("zPLR", [0x9b, 0, 0, 0, 0, 0x1b, 0x1b]); // personality (indirect pcrel sdata4), LSDA, FDE encodings
  const third = fde(zPLR, fn(5));
  const absolute = cie("zR", [0x03]); // udata4 addresses: not read
  fde(absolute, fn(1));
  const fifth = fde(zR, fn(7)); // back to the first CIE
  eh.push(0, 0, 0, 0); // terminator
  fde(zR, fn(3)); // past the terminator: not read
  const bytes = tinyElf({ ...spec, ehFrame: Uint8Array.from(eh) });
  assert.deepEqual(rows(bytes), [
    [ehAt + first + 8, PCREL32, fn(2)],
    [ehAt + third + 8, PCREL32, fn(5)],
    [ehAt + fifth + 8, PCREL32, fn(7)],
  ]);
  // A pc-relative field holds the target minus its own address, in 32 signed bits.
  const out = new Uint8Array(4);
  assert.ok(aarch64.encode(PCREL32, bytes, 0, 0x10000, 0x10000 - 8, out));
  assert.deepEqual(Array.from(out), [0xf8, 0xff, 0xff, 0xff]);
  assert.equal(aarch64.encode(PCREL32, bytes, 0, 0x10000, 0x10000 + 2 ** 31, out), false);
});

/** The word `encode` makes for a field of `kind` whose old instruction is `insn`, or undefined when it refuses. */
function encoded(kind: number, insn: number, newAddress: number, newTarget: number): number | undefined {
  const old = code([NOP, insn]);
  const out = new Uint8Array(8).fill(0xee);
  if (!aarch64.encode(kind, old, 4, newAddress, newTarget, out)) return undefined;
  assert.deepEqual(Array.from(out.subarray(4)), [0xee, 0xee, 0xee, 0xee], "an instruction field is 4 bytes");
  return new DataView(out.buffer).getUint32(0, true);
}

/** encoded()'s word against an expected one written with bit operations (signed when bit 31 is set). */
const same = (actual: number | undefined, expected: number | undefined, message?: string): void =>
  assert.equal(actual, expected === undefined ? undefined : expected >>> 0, message);

test("encode: each form's immediate reaches the new target, opcode and registers kept; out of range or misaligned -> not predicted", () => {
  const at = 0x10000;
  // b / bl: signed 26-bit words.
  same(encoded(BRANCH26, 0x94000000, at, at + 4 * 1000), 0x94000000 + 1000);
  same(encoded(BRANCH26, 0x14000000, at, at - 8), 0x17fffffe);
  same(encoded(BRANCH26, 0x14000000, at, at + 2 ** 27 - 4), 0x15ffffff);
  same(encoded(BRANCH26, 0x14000000, at, at - 2 ** 27), 0x16000000);
  same(encoded(BRANCH26, 0x14000000, at, at + 2 ** 27), undefined, "past +128 MiB");
  same(encoded(BRANCH26, 0x14000000, at, at - 2 ** 27 - 4), undefined, "past -128 MiB");
  same(encoded(BRANCH26, 0x14000000, at, at + 6), undefined, "a target between instructions");
  same(encoded(BRANCH26, 0x14000000, at + 2, at + 2 + 8), undefined, "an instruction between words");
  // Addresses above 2^32 (up to 2^48): exact arithmetic.
  same(encoded(BRANCH26, 0x94000000, 2 ** 47 + 4, 2 ** 47 + 4 + 40), 0x9400000a);
  // b.ne, cbz, ldr literal: signed 19-bit words in bits 5..23; condition and register kept.
  same(encoded(IMM19, 0x54000001, at, at + 2 ** 20 - 4), 0x54000001 | (0x3ffff << 5));
  same(encoded(IMM19, 0xb4000003, at, at - 2 ** 20), 0xb4000003 | (0x40000 << 5));
  same(encoded(IMM19, 0x58000001 | (0x7ffff << 5), at, at + 8), 0x58000001 | (2 << 5), "old immediate bits cleared");
  same(encoded(IMM19, 0x54000001, at, at + 2 ** 20), undefined, "past +1 MiB");
  same(encoded(IMM19, 0x58000001, at, at + 2), undefined, "a literal between words");
  // tbz x5, #33: signed 14-bit words in bits 5..18; bit number kept.
  same(encoded(IMM14, 0xb6080005, at, at + 2 ** 15 - 4), 0xb6080005 | (0x1fff << 5));
  same(encoded(IMM14, 0xb6080005, at, at - 12), 0xb6080005 | (0x3ffd << 5));
  same(encoded(IMM14, 0xb6080005, at, at + 2 ** 15), undefined, "past +32 KiB");
  // adr x2: signed 21-bit bytes (low 2 bits in 29..30).
  same(encoded(ADR, 0x10000002, at, at + 0x31), 0x10000002 | (1 << 29) | (12 << 5));
  same(encoded(ADR, 0x10000002, at, at - 1), (0x10000002 | (3 << 29) | (0x7ffff << 5)) >>> 0);
  same(encoded(ADR, 0x10000002, at, at + 2 ** 20), undefined, "past +1 MiB");
  // adrp x1: pages from the instruction's page; the low 12 bits of either do not count.
  same(encoded(ADRP, 0x90000001, 0x1ffc, 0x5123), 0x90000001 | (1 << 5));
  same(encoded(ADRP, 0x90000001, 0x2000, 0x1fff), (0x90000001 | (3 << 29) | (0x7ffff << 5)) >>> 0);
  same(encoded(ADRP, 0x90000001, 2 ** 40, 2 ** 40 + 2 ** 32 - 1), (0x90000001 | (3 << 29) | (0x3ffff << 5)) >>> 0);
  same(encoded(ADRP, 0x90000001, 2 ** 40, 2 ** 40 + 2 ** 32), undefined, "past +4 GiB");
  same(encoded(ADRP, 0x90000001, 0x2002, 0x5000), undefined, "an instruction between words");
  // add x2, x1, #lo12 and loads/stores: the target's low 12 bits (in access-size units).
  same(encoded(ADD_LO12, 0x91004022, at, 0x12345678), 0x91000022 | (0x678 << 10));
  same(encoded(LDST_LO12, 0xf9400423, at, 0x12345678), 0xf9400023 | ((0x678 / 8) << 10), "ldr x3");
  same(encoded(LDST_LO12, 0xf9400423, at, 0x1234567c), undefined, "ldr x3 of a 4-aligned address");
  same(encoded(LDST_LO12, 0xb9000824, at, 0x1234567c), 0xb9000024 | ((0x67c / 4) << 10), "str w4");
  same(encoded(LDST_LO12, 0x3dc00420, at, 0x12345670), 0x3dc00020 | ((0x670 / 16) << 10), "ldr q0");
  same(encoded(LDST_LO12, 0x3dc00420, at, 0x12345678), undefined, "ldr q0 of an 8-aligned address");
  same(encoded(LDST_LO12, 0x39400020, at, 0x12345fff), 0x39400020 | (0xfff << 10), "ldrb");
  same(encoded(LDST_LO12, 0xf9400423, at + 1, 0x12345678), undefined, "an instruction between words");
  // An absolute address: 8 bytes.
  const out = new Uint8Array(8);
  assert.ok(aarch64.encode(ABS64, new Uint8Array(8), 0, 3, 2 ** 47 + 0x1234, out));
  assert.deepEqual(Array.from(out), [0x34, 0x12, 0, 0, 0, 0x80, 0, 0]);
});

test("encode then scan: a rewritten instruction is found again with the new target", () => {
  const words = [0x94000000, 0x54000001, 0xb6080005, 0x58000001, 0x10000002, 0x90000001, 0x91000022, NOP];
  const pos = (i: number): number => CODE_AT + 4 * i;
  const pc = (i: number): number => BASE + pos(i);
  const targets = [pc(7), pc(0), pc(6), BASE + 8, BASE + 0x33, BASE + 0x1238, BASE + 0x1238];
  const kinds = [BRANCH26, IMM19, IMM14, IMM19, ADR, ADRP, ADD_LO12];
  const text = code(words);
  kinds.forEach((kind, i) => {
    const out = new Uint8Array(4);
    assert.ok(aarch64.encode(kind, text, 4 * i, pc(i), targets[i]!, out), `form ${i}`);
    text.set(out, 4 * i);
  });
  const bytes = tinyElf({ code: text, bss: 0x2000, machine: EM_AARCH64 });
  assert.deepEqual(rows(bytes), kinds.map((kind, i) => [pos(i), kind, targets[i]!]));
});

test("hostile AArch64 files: cut, damaged or random bytes never make the scan throw, and it is deterministic", () => {
  const { old } = socketPair("arm64");
  const layout = readElfLayout(old)!;
  const refs = findAarch64References(old, layout)!;
  assert.ok(refs.count > 1000, `${refs.count} references`);
  const again = findAarch64References(old, readElfLayout(old)!)!;
  assert.equal(again.count, refs.count);
  assert.deepEqual(Array.from(again.target.subarray(0, again.count)), Array.from(refs.target.subarray(0, refs.count)), "the same targets");
  const scan = (bytes: Uint8Array): void => {
    const l = readElfLayout(bytes);
    if (l) findAarch64References(bytes, l);
  };
  for (let n = 0; n < old.length; n += 997) assert.doesNotThrow(() => scan(old.subarray(0, n)), `cut at ${n}`);
  const rng = new Rng(64);
  for (let i = 0; i < 200; i++) {
    const bad = old.slice();
    for (let k = 0; k < 8; k++) {
      // The headers, the section table at the end, or anywhere.
      const at = [rng.next() % 128, bad.length - 1 - (rng.next() % 2048), rng.next() % bad.length][rng.next() % 3]!;
      bad[at] = rng.next() & 0xff;
    }
    assert.doesNotThrow(() => scan(bad), `mutation ${i}`);
  }
  // Damaged call frame information: lengths, CIE pointers, augmentations.
  const eh = layout.ehFrame;
  assert.equal(eh.count, 1);
  for (let i = 0; i < 300; i++) {
    const bad = old.slice();
    for (let k = 0; k < 4; k++) bad[eh.start[0]! + (rng.next() % (eh.end[0]! - eh.start[0]!))] = rng.next() & 0xff;
    const l = readElfLayout(bad)!;
    const r = findAarch64References(bad, l)!;
    for (let j = 1; j < r.count; j++) assert.ok(r.position[j]! >= r.position[j - 1]! + aarch64.fieldSize[r.kind[j - 1]!]!, `eh_frame mutation ${i}`);
  }
  // Code of random words: whatever they decode to, references stay inside the file and sorted.
  const random = new Uint8Array(4096);
  for (let i = 0; i < random.length; i++) random[i] = rng.next() & 0xff;
  const bytes = tinyElf({ code: random, bss: 1 << 20, machine: EM_AARCH64 });
  const r = findAarch64References(bytes, readElfLayout(bytes)!)!;
  for (let i = 0; i < r.count; i++) {
    assert.ok(r.position[i]! + aarch64.fieldSize[r.kind[i]!]! <= bytes.length);
    if (i > 0) assert.ok(r.position[i]! >= r.position[i - 1]! + aarch64.fieldSize[r.kind[i - 1]!]!);
  }
});

test("round trip on perl's arm64 Socket.so across a security upgrade: byte for byte, at most 0.6x the approximate diff", () => {
  const { old, neu } = socketPair("arm64");
  const approx = approximateDiff(old, neu);
  const exec = execDiff(old, neu, approx, diffCost);
  assert.ok(exec, "an executable-aware diff");
  assert.equal(exec.transform, 2);
  const made = deviceApply(old, exec, neu.length);
  assert.ok(Buffer.from(made).equals(Buffer.from(neu)), "the device's apply makes the new file");
  assert.ok(diffCost(exec.diff) <= 0.6 * diffCost(approx), `exec ${diffCost(exec.diff)} bytes, approx ${diffCost(approx)}`);
  // Every kind of reference the compiler emits here is found (ADR and TBZ are not in this file).
  const refs = findAarch64References(old, readElfLayout(old)!)!;
  const kinds = new Set(refs.kind);
  for (const kind of [BRANCH26, IMM19, ADRP, ADD_LO12, LDST_LO12, ABS64, PCREL32]) assert.ok(kinds.has(kind), `kind ${kind}`);
});

test("the device refuses an old file that is not the one scanned: a source mismatch", () => {
  const { old, neu } = socketPair("arm64");
  const exec = execDiff(old, neu, approximateDiff(old, neu), diffCost)!;
  const predict = (bytes: Uint8Array, count = exec.referenceCount) => () => devicePrediction(bytes, exec, neu.length, count);
  const source = (message: RegExp) => (err: unknown): boolean => err instanceof ExecDiffError && err.blame === "source" && message.test(err.message);
  assert.throws(predict(old, exec.referenceCount + 1), source(/the old file has \d+ references, the delta expects \d+/));
  assert.throws(predict(socketPair().old), source(/the old file is not an AArch64 ELF file/));
  const damaged = old.slice();
  damaged[18] = 62;
  assert.throws(predict(damaged), source(/not an AArch64 ELF file/));
  assert.throws(predict(old.subarray(0, 1000)), source(/not an AArch64 ELF file/));
});
