/**
 * The encoder's wire format, below the matcher: integers, adler32, the code-table opcode choice,
 * and WindowWriter on hand-made and random programs (all opcodes, all address modes), each
 * decoded by stock xdelta3 and @ably/vcdiff-decoder.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { adler32 } from "../../src/vcdiff/format/adler32";
import {
  addCopyOpcode, addOpcode, ADD, CODE_TABLE_INST1, CODE_TABLE_INST2, CODE_TABLE_MODE1, CODE_TABLE_MODE2,
  CODE_TABLE_SIZE1, CODE_TABLE_SIZE2, COPY, copyAddOpcode, copyOpcode, MODE_COUNT, NOOP, RUN,
} from "../../src/vcdiff/format/code-table";
import {
  InstructionList, KIND_ADD, KIND_COPY_SOURCE, KIND_COPY_TARGET, KIND_RUN,
} from "../../src/vcdiff/encoder/instruction-list";
import { varintLength, writeVarint } from "../../src/vcdiff/format/varint";
import { FILE_HEADER, WindowWriter } from "../../src/vcdiff/encoder/window-writer";
import { needTools } from "../helpers/peers";
import { assertAblyDecodes, assertOurDecoderDecodes, assertXdelta3Decodes, rng, tempDir } from "./encode-oracles";

test("varints are minimal base-128, exact beyond 2^32", () => {
  const cases: [number, number[]][] = [
    [0, [0]], [127, [0x7f]], [128, [0x81, 0x00]], [123456789, [0xba, 0xef, 0x9a, 0x15]],
    [2 ** 32, [0x90, 0x80, 0x80, 0x80, 0x00]], [2 ** 31 + 5, [0x88, 0x80, 0x80, 0x80, 0x05]],
  ];
  for (const [v, bytes] of cases) {
    const out = new Uint8Array(10);
    assert.equal(writeVarint(out, 0, v), bytes.length, `length of ${v}`);
    assert.deepEqual([...out.subarray(0, bytes.length)], bytes, `bytes of ${v}`);
    assert.equal(varintLength(v), bytes.length);
  }
});

test("adler32 matches the definition (zlib), including long inputs and the empty window", () => {
  const naive = (d: Uint8Array): number => {
    let a = 1, b = 0;
    for (const x of d) { a = (a + x) % 65521; b = (b + a) % 65521; }
    return (b * 65536 + a) >>> 0;
  };
  const data = new Uint8Array(100_000).map((_, i) => (i * 7919) & 0xff).fill(0xff, 50_000, 70_000);
  assert.equal(adler32(data), naive(data));
  assert.equal(adler32(new Uint8Array(0)), 1);
  assert.equal(adler32(Buffer.from("abcdwxyzefghefghefghefghzzzz")), 0xa7fc0bbd); // RFC 1950's adler32, as zlib computes it
});

test("the closed-form opcode choice agrees with the default code table", () => {
  for (let s = 0; s <= 20; s++) {
    const op = addOpcode(s);
    assert.equal(CODE_TABLE_INST1[op], ADD);
    assert.equal(CODE_TABLE_SIZE1[op], s >= 1 && s <= 17 ? s : 0);
    assert.equal(CODE_TABLE_INST2[op], NOOP);
  }
  for (let m = 0; m < MODE_COUNT; m++) {
    for (let s = 1; s <= 20; s++) {
      const op = copyOpcode(s, m);
      assert.equal(CODE_TABLE_INST1[op], COPY);
      assert.equal(CODE_TABLE_MODE1[op], m);
      assert.equal(CODE_TABLE_SIZE1[op], s >= 4 && s <= 18 ? s : 0);
    }
    for (let a = 0; a <= 5; a++) {
      for (let c = 3; c <= 7; c++) {
        const op = addCopyOpcode(a, c, m);
        if (op < 0) continue;
        assert.deepEqual([CODE_TABLE_INST1[op], CODE_TABLE_SIZE1[op], CODE_TABLE_INST2[op], CODE_TABLE_SIZE2[op], CODE_TABLE_MODE2[op]],
          [ADD, a, COPY, c, m]);
      }
    }
    const ca = copyAddOpcode(4, m, 1);
    assert.deepEqual([CODE_TABLE_INST1[ca], CODE_TABLE_SIZE1[ca], CODE_TABLE_MODE1[ca], CODE_TABLE_INST2[ca], CODE_TABLE_SIZE2[ca]],
      [COPY, 4, m, ADD, 1]);
  }
  // Every double opcode is reachable from the closed forms.
  let doubles = 0;
  for (let op = 0; op < 256; op++) if (CODE_TABLE_INST2[op] !== NOOP) doubles++;
  assert.equal(doubles, 256 - 163);
  assert.equal(CODE_TABLE_INST1[0], RUN);
});

/** Opcodes and COPY modes used by a one-window delta (walks the instruction section). */
function opcodeUse(delta: Uint8Array): { opcodes: Set<number>; modes: Set<number> } {
  let p = 5;
  const readInt = (): number => { let v = 0; for (;;) { const b = delta[p++]!; v = v * 128 + (b & 127); if (b < 128) return v; } };
  const opcodes = new Set<number>(), modes = new Set<number>();
  while (p < delta.length) {
    const win = delta[p++]!;
    if (win & 1) { readInt(); readInt(); }
    readInt(); readInt(); p++;
    const dataLen = readInt(), instLen = readInt(), addrLen = readInt();
    if (win & 4) p += 4;
    p += dataLen;
    const instEnd = p + instLen;
    while (p < instEnd) {
      const op = delta[p++]!;
      opcodes.add(op);
      if (CODE_TABLE_INST1[op] !== NOOP && CODE_TABLE_SIZE1[op] === 0) readInt();
      if (CODE_TABLE_INST2[op] !== NOOP && CODE_TABLE_SIZE2[op] === 0) readInt();
      if (CODE_TABLE_INST1[op] === COPY) modes.add(CODE_TABLE_MODE1[op]!);
      if (CODE_TABLE_INST2[op] === COPY) modes.add(CODE_TABLE_MODE2[op]!);
    }
    p += addrLen;
  }
  return { opcodes, modes };
}

/**
 * Builds random windows whose programs exercise every instruction form: short and long ADDs,
 * RUNs, source and (overlapping) target copies of sizes around the table's implied sizes,
 * repeated addresses (same cache), nearby addresses (near cache) and HERE-relative ones.
 */
function randomDelta(seed: number, source: Uint8Array, windows: number, checksum: boolean): { delta: Buffer; target: Buffer } {
  const r = rng(seed);
  const int = (n: number): number => Math.floor(r() * n);
  const writer = new WindowWriter();
  const parts: Uint8Array[] = [FILE_HEADER];
  const targets: Uint8Array[] = [];
  const sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 200, 1000];
  for (let w = 0; w < windows; w++) {
    const list = new InstructionList(4);
    const t: number[] = [];
    const recent: number[] = [];
    const instructions = 40 + int(200);
    for (let i = 0; i < instructions; i++) {
      const kind = int(10);
      // Half the sizes short, so ADD 1-4 + COPY 4-6 pairs (double opcodes) are frequent.
      const size = r() < 0.5 ? 1 + int(6) : sizes[int(sizes.length)]!;
      if (kind < 3 || (t.length === 0 && source.length === 0)) {
        const at = t.length;
        for (let k = 0; k < size; k++) t.push(int(256));
        list.push(KIND_ADD, size, at);
      } else if (kind === 3) {
        const at = t.length; const b = int(256);
        for (let k = 0; k < size; k++) t.push(b);
        list.push(KIND_RUN, size, at);
      } else if (kind < 8 && source.length > 0) {
        let c = Math.max(4, size);
        let pos: number;
        const how = int(3);
        if (how === 0 && recent.length > 0) pos = recent[int(recent.length)]!; // same cache
        else if (how === 1 && recent.length > 0) pos = Math.min(source.length - c, recent[recent.length - 1 - int(Math.min(4, recent.length))]! + int(100)); // near
        else pos = int(source.length - c);
        if (pos + c > source.length) c = source.length - pos; // a recent address near the end
        recent.push(pos);
        for (let k = 0; k < c; k++) t.push(source[pos + k]!);
        list.push(KIND_COPY_SOURCE, c, pos);
      } else if (t.length > 0) {
        const c = Math.max(4, size);
        // Mostly just behind (HERE mode, often overlapping what it writes), sometimes anywhere.
        const from = r() < 0.7 ? t.length - 1 - int(Math.min(t.length, 40)) : int(t.length);
        for (let k = 0; k < c; k++) t.push(t[from + k]!);
        list.push(KIND_COPY_TARGET, c, from);
      }
    }
    const target = Uint8Array.from(t);
    targets.push(target);
    parts.push(writer.encode(target, list, checksum));
  }
  return { delta: Buffer.concat(parts), target: Buffer.concat(targets) };
}

test("random programs: all 256 opcodes and 9 address modes, decoded by xdelta3, our decoder and ably", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = tempDir(t);
  const source = new Uint8Array(5000).map(() => 0);
  const r = rng(7);
  for (let i = 0; i < source.length; i++) source[i] = Math.floor(r() * 256);
  const sourcePath = path.join(dir, "source");
  writeFileSync(sourcePath, source);
  const opcodes = new Set<number>(), modes = new Set<number>();
  for (let seed = 1; seed <= 160; seed++) {
    const src = seed % 5 === 0 ? new Uint8Array(0) : source;
    const srcPath = seed % 5 === 0 ? path.join(dir, "empty") : sourcePath;
    if (seed % 5 === 0) writeFileSync(srcPath, src);
    const withSum = randomDelta(seed, src, 1 + (seed % 4), true);
    writeFileSync(path.join(dir, "delta"), withSum.delta);
    writeFileSync(path.join(dir, "target"), withSum.target);
    assertXdelta3Decodes(srcPath, path.join(dir, "delta"), path.join(dir, "target"), path.join(dir, "out"));
    await assertOurDecoderDecodes(srcPath, path.join(dir, "delta"), path.join(dir, "target"), path.join(dir, "out"));
    const plain = randomDelta(seed, src, 1 + (seed % 4), false);
    assertAblyDecodes(src, plain.delta, plain.target);
    const use = opcodeUse(withSum.delta);
    use.opcodes.forEach((o) => opcodes.add(o));
    use.modes.forEach((m) => modes.add(m));
  }
  assert.equal(modes.size, MODE_COUNT, `modes used: ${[...modes].sort().join(",")}`);
  const missing = [...Array(256).keys()].filter((o) => !opcodes.has(o));
  assert.deepEqual(missing, [], "opcodes never emitted");
});

