/**
 * Executable-aware diffs (src/filediff/exec/): the scanner's exact rules on hand-made x86-64 code,
 * the address map's projection rule, and round trips on real binaries (perl's Socket.so before and
 * after a security upgrade; the machine's libc with an insertion in its code) where the prediction
 * must make the diff smaller.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import { applyApproximateDiff, approximateDiff, type ApproximateDiff, diffAlong } from "../../src/filediff/approximate-diff";
import { AddressMap, readStretches } from "../../src/filediff/exec/address-map";
import { readElfLayout } from "../../src/filediff/exec/elf-layout";
import { execDiff, normalizedAlignment } from "../../src/filediff/exec/exec-diff";
import { ABS64, findX86_64References, REL32, REL32_IMM16, REL32_IMM32, REL32_IMM8 } from "../../src/filediff/exec/x86-64-references";
import { xzSize } from "../../src/compress/xz-size";
import { writeVarint } from "../../src/vcdiff/format/varint";
import { REQUIRE_PEERS } from "../helpers/peers";
import { Rng } from "../vcdiff/helpers";
import { BASE, CODE_AT, deviceApply, diffCost, le32, socketPair, tinyElf } from "./exec-helpers";

/** The references of `bytes` as [position, kind, target] rows. */
function rows(bytes: Uint8Array): [number, number, number][] {
  const refs = findX86_64References(bytes, readElfLayout(bytes)!)!;
  return Array.from({ length: refs.count }, (_, i) => [refs.position[i]!, refs.kind[i]!, refs.target[i]!]);
}

test("scanner: calls, jumps and RIP-relative operands it takes and those it leaves, at their exact positions", () => {
  const code: number[] = [];
  const at = (): number => CODE_AT + code.length;
  /** Appends an instruction whose disp32/rel32 (at byte `field` of it) refers to `target`, counted from its end. */
  const insn = (bytes: number[], field: number, target: number, imm: number[] = []): number => {
    const start = at();
    const end = start + bytes.length + 4 + imm.length;
    code.push(...bytes, ...le32(target - (BASE + end)), ...imm);
    return start + field;
  };
  const nop = (): void => void code.push(0x90);
  const codeSize = 140;
  const dataAt = CODE_AT + codeSize;
  const expected: [number, number, number][] = [];
  // Taken.
  expected.push([insn([0xe8], 1, BASE + CODE_AT), REL32, BASE + CODE_AT]);
  nop();
  expected.push([insn([0x0f, 0x85], 2, BASE + CODE_AT + 1), REL32, BASE + CODE_AT + 1]);
  nop();
  expected.push([insn([0x48, 0x8b, 0x05], 3, BASE + dataAt), REL32, BASE + dataAt]);
  nop();
  expected.push([insn([0xc7, 0x05], 2, BASE + dataAt + 8, [1, 0, 0, 0]), REL32_IMM32, BASE + dataAt + 8]);
  nop();
  expected.push([insn([0x66, 0xc7, 0x05], 3, BASE + dataAt + 8, [1, 0]), REL32_IMM16, BASE + dataAt + 8]);
  nop();
  expected.push([insn([0x80, 0x3d], 2, BASE + dataAt + 4, [7]), REL32_IMM8, BASE + dataAt + 4]);
  nop();
  expected.push([insn([0xff, 0x15], 2, BASE + dataAt), REL32, BASE + dataAt]);
  nop();
  expected.push([insn([0xf2, 0x0f, 0x10, 0x05], 4, BASE + dataAt + 16), REL32, BASE + dataAt + 16]);
  nop();
  // .bss: past the file bytes but inside the segment's memory.
  const fileEnd = () => tinyElf({ code: new Uint8Array(codeSize), data: 32 }).length;
  expected.push([insn([0x8b, 0x05], 2, BASE + fileEnd() + 16), REL32, BASE + fileEnd() + 16]);
  nop();
  // Left: a call into data, FF /3 (far call), 00 05 (zero bytes before 05), a target past the segment's memory.
  insn([0xe8], 1, BASE + dataAt);
  nop();
  insn([0xff, 0x1d], 2, BASE + dataAt);
  nop();
  insn([0x00, 0x05], 2, BASE + dataAt);
  nop();
  insn([0x8b, 0x05], 2, BASE + fileEnd() + 4096 + 4);
  while (code.length < codeSize) nop();
  assert.equal(code.length, codeSize);
  const bytes = tinyElf({ code: Uint8Array.from(code), data: 32, bss: 4096 });
  assert.deepEqual(rows(bytes), expected);
});

test("scanner: R_X86_64_RELATIVE gives r_offset, r_addend and the word; JUMP_SLOT r_offset and the word; other types r_offset", () => {
  const code = new Uint8Array(16).fill(0x90);
  const dataAt = CODE_AT + code.length;
  const probe = tinyElf({ code, data: 32, rela: [[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]] });
  const relaAt = dataAt + 32;
  const bytes = tinyElf({
    code, data: 32,
    rela: [
      [BASE + dataAt, 8, BASE + CODE_AT + 4],
      [BASE + dataAt + 8, 7, 0],
      [BASE + dataAt + 16, 6, 0],
      [BASE + probe.length + 100, 8, BASE + CODE_AT], // r_offset outside memory: nothing
    ],
  });
  const v = new DataView(bytes.buffer);
  v.setUint32(dataAt, BASE + CODE_AT + 4, true); // the RELATIVE word holds its addend
  v.setUint32(dataAt + 8, BASE + CODE_AT + 6, true); // the lazy PLT address
  assert.deepEqual(rows(bytes), [
    [dataAt, ABS64, BASE + CODE_AT + 4],
    [dataAt + 8, ABS64, BASE + CODE_AT + 6],
    [relaAt, ABS64, BASE + dataAt],
    [relaAt + 16, ABS64, BASE + CODE_AT + 4],
    [relaAt + 24, ABS64, BASE + dataAt + 8],
    [relaAt + 48, ABS64, BASE + dataAt + 16],
  ]);
});

test("scanner: refuses what is not an x86-64 ELF file with code, never throws on cut or garbage headers", () => {
  const bytes = tinyElf({ code: Uint8Array.of(0xe8, 0, 0, 0, 0) });
  assert.ok(findX86_64References(bytes, readElfLayout(bytes)!));
  const arm = bytes.slice();
  arm[18] = 183;
  assert.equal(findX86_64References(arm, readElfLayout(arm)!), undefined);
  for (let n = 0; n < bytes.length; n += 7) assert.doesNotThrow(() => readElfLayout(bytes.subarray(0, n)));
  for (let i = 16; i < 64; i++) {
    const bad = bytes.slice();
    bad[i] = 0xff;
    assert.doesNotThrow(() => {
      const layout = readElfLayout(bad);
      if (layout) findX86_64References(bad, layout);
    });
  }
});

/** A diff of difference stretches [oldStart, length], in new order, without literals (a map test's). */
function diffOf(stretches: [number, number][]): ApproximateDiff {
  const control: number[] = [];
  const scratch = new Uint8Array(10);
  const push = (n: number): void => void control.push(...scratch.subarray(0, writeVarint(scratch, 0, n)));
  const seek = (d: number): void => push(d < 0 ? -2 * d - 1 : 2 * d);
  // An empty first entry seeks to the first stretch; each stretch's entry seeks to the next one.
  push(0), push(0), seek(stretches[0]![0]);
  let total = 0;
  stretches.forEach(([oldStart, length], k) => {
    push(length), push(0), seek(k + 1 < stretches.length ? stretches[k + 1]![0] - (oldStart + length) : 0);
    total += length;
  });
  return { control: Uint8Array.from(control), differences: new Uint8Array(total), literals: new Uint8Array(0) };
}

test("address map: the nearest stretch by old start that holds the byte, past short and nested ones", () => {
  const segments = { count: 1, offset: Float64Array.of(0), vaddr: Float64Array.of(BASE), filesz: Float64Array.of(4000), memsz: Float64Array.of(4000) };
  // new [0,1000) <- old [0,1000); new [1000,1040) <- old [500,540); new [1040,1050) <- old [700,710) (under 32 bytes).
  const diff = diffOf([[0, 1000], [500, 40], [700, 10]]);
  const map = new AddressMap(readStretches(4000, diff, 1050), segments, segments);
  assert.equal(map.projectOffset(800), 800, "the long stretch behind a nested one");
  assert.equal(map.projectOffset(520), 1020, "the nested stretch itself");
  assert.equal(map.projectOffset(705), 705, "a stretch under 32 bytes is not in the map");
  assert.equal(map.projectOffset(1500), -1, "no stretch");
  assert.equal(map.projectAddress(BASE + 520), BASE + 1020);
  assert.ok(Number.isNaN(map.projectAddress(BASE + 1500)));
});

function roundTrip(old: Uint8Array, neu: Uint8Array): { approx: number; exec: number } {
  const approx = approximateDiff(old, neu);
  const exec = execDiff(old, neu, approx, diffCost);
  assert.ok(exec, "an executable-aware diff");
  const made = deviceApply(old, exec, neu.length);
  assert.ok(Buffer.from(made).equals(Buffer.from(neu)), "the device's apply makes the new file");
  return { approx: xzSize([approx.control, approx.differences, approx.literals]), exec: xzSize([exec.diff.control, exec.diff.differences, exec.diff.literals]) };
}

test("round trip on perl's Socket.so across a security upgrade: byte for byte, at most 0.6x the approximate diff", () => {
  const { old, neu } = socketPair();
  const { approx, exec } = roundTrip(old, neu);
  assert.ok(exec <= 0.6 * approx, `exec ${exec} bytes, approx ${approx}`);
});

test("one alignment for both records: the diff with references zeroed aligns the APPROX record and the EXEC one, within 5 % of the better of two alignments", () => {
  const { old, neu } = socketPair();
  const aligned = normalizedAlignment(old, neu);
  assert.ok(aligned, "an alignment for an x86-64 pair");
  const { control } = aligned;
  // The planner's APPROX record along it makes the new file from the old one...
  const approx = diffAlong(control, old, neu);
  assert.deepEqual(applyApproximateDiff(old, approx, neu.length), neu);
  // ...and the EXEC record along it, told that this is the normalized alignment, applies on the device.
  const one = execDiff(old, neu, approx, diffCost, undefined, aligned);
  assert.ok(one, "an executable-aware diff");
  assert.ok(Buffer.from(deviceApply(old, one, neu.length)).equals(Buffer.from(neu)), "the device's apply makes the new file");
  assert.deepEqual(one.diff.control, control);
  // The better of two alignments (the plain diff's and this one) is a little smaller at most.
  const two = execDiff(old, neu, approximateDiff(old, neu), diffCost)!;
  assert.ok(diffCost(one.diff) <= 1.05 * diffCost(two.diff), `one alignment ${diffCost(one.diff)} B, two ${diffCost(two.diff)} B`);
  // Not an EXEC pair: no alignment.
  assert.equal(normalizedAlignment(old.subarray(64), neu), undefined);
  assert.equal(normalizedAlignment(new Uint8Array(4096), new Uint8Array(4096)), undefined);
});

test("libc: thousands of references, the same on every scan; a patched copy round-trips and costs what the approximate diff costs", (t) => {
  const libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  if (!fs.existsSync(libc)) {
    if (REQUIRE_PEERS) throw new Error(`no ${libc}; REQUIRE_PEERS=1 forbids skipping`);
    t.skip(`no ${libc}`);
    return;
  }
  const old = new Uint8Array(fs.readFileSync(libc));
  const layout = readElfLayout(old)!;
  const refs = findX86_64References(old, layout)!;
  assert.ok(refs.count > 10_000, `${refs.count} references`);
  const again = findX86_64References(old, readElfLayout(old)!)!;
  assert.equal(again.count, refs.count);
  assert.ok(Buffer.from(again.position.buffer, 0, 4 * again.count).equals(Buffer.from(refs.position.buffer, 0, 4 * refs.count)), "the scan is deterministic");
  // Nothing moved: every reference predicts its old value, so prediction neither helps nor hurts.
  const neu = old.slice();
  for (let i = 4096; i < neu.length; i += 4999) neu[i] = neu[i]! ^ 0x24;
  const { approx, exec } = roundTrip(old, neu);
  assert.ok(exec <= approx * 1.02 + 16, `exec ${exec} bytes, approx ${approx}`);
});

test("the generator's execDiff and normalizedAlignment never throw on malformed ELF files: undefined, or a diff the device applies", () => {
  const { old, neu } = socketPair();
  const rng = new Rng(5);
  let kept = 0;
  let aligned = 0;
  for (let i = 0; i < 60; i++) {
    const a = old.slice();
    const b = neu.slice();
    // Damage the ELF header, the program or section header tables (at the end of the file).
    for (const bytes of [a, b]) {
      for (let k = 0; k < 4; k++) {
        const inHeaders = rng.next() % 2 === 0 ? rng.next() % 128 : bytes.length - 1 - (rng.next() % 2048);
        bytes[inHeaders] = rng.next() & 0xff;
      }
    }
    // The planner's one alignment, as it uses it: the APPROX record along it, EXEC told so.
    const alignment = normalizedAlignment(a, b);
    if (alignment) {
      aligned++;
      const along = diffAlong(alignment.control, a, b);
      assert.deepEqual(applyApproximateDiff(a, along, b.length), b, `case ${i}: the APPROX record along the alignment`);
      const one = execDiff(a, b, along, diffCost, undefined, alignment);
      if (one) assert.ok(Buffer.from(deviceApply(a, one, b.length)).equals(Buffer.from(b)), `case ${i}: EXEC along the alignment`);
    }
    const approx = approximateDiff(a, b);
    const exec = execDiff(a, b, approx, diffCost);
    if (!exec) continue;
    kept++;
    const made = deviceApply(a, exec, b.length);
    assert.ok(Buffer.from(made).equals(Buffer.from(b)), `case ${i}`);
  }
  assert.equal(execDiff(old.subarray(0, 100), neu, approximateDiff(old.subarray(0, 100), neu), diffCost), undefined, "a cut old file");
  assert.equal(normalizedAlignment(old.subarray(0, 100), neu), undefined, "a cut old file has no alignment");
  assert.ok(kept > 0 && aligned > 0, `some damage leaves a usable file (${kept} EXEC diffs, ${aligned} alignments)`);
});
