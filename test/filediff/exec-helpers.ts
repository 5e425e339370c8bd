/**
 * Small x86-64 (or, with `machine`, AArch64) ELF files for the executable-aware diff tests: one loadable segment mapping the
 * whole file at BASE (plus `bss` zero-filled bytes), a code section and optionally a RELA section.
 * Real binaries: the Socket.so pair in fixtures/ (perl-base 5.36.0-7+deb12u3 and +deb12u4, the
 * pair U's security upgrade changes), its arm64 build (the arm64 pair's), apt's arm64 cdrom method
 * as mke2fs -d stores it (with holes) and the machine's libc.
 */
import fs from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import type { ApproximateDiff } from "../../src/filediff/approximate-diff";
import { type ExecDiff, execPrediction } from "../../src/filediff/exec/exec-diff";
import type { Prediction } from "../../src/filediff/exec/predict";
import { execBudget } from "../../src/filediff/exec/working-set";
import { compactInPlace, type FileHoles, type Hole } from "../../src/filediff/holes";
import { xzSize } from "../../src/compress/xz-size";
import type { Rng } from "../vcdiff/helpers";

export const BASE = 0x400000;
/** Where the code section starts in the file. */
export const CODE_AT = 0x100;

export interface TinyElf {
  code: Uint8Array;
  /** RELA entries: [r_offset, r_info, r_addend]. */
  rela?: [number, number, number][];
  /** Zero-filled memory after the file bytes. */
  bss?: number;
  /** Bytes after the code (data the references may point at). */
  data?: number;
  /** e_machine: EM_X86_64 (62) unless told. */
  machine?: number;
  /** The content of a section named .eh_frame, after the RELA section (with a .shstrtab naming it). */
  ehFrame?: Uint8Array;
}

/** Section names of the .eh_frame variant: .eh_frame at 1, .shstrtab at 11. */
const SHSTRTAB = new TextEncoder().encode("\0.eh_frame\0.shstrtab\0");

/** Where tinyElf puts `spec`'s .eh_frame content in the file. */
export const ehFrameAt = (spec: TinyElf): number => CODE_AT + spec.code.length + (spec.data ?? 0) + 24 * (spec.rela ?? []).length;

function put64(b: DataView, at: number, v: number): void {
  b.setUint32(at, v % 2 ** 32, true);
  b.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
}

/**
 * The file: header, one PT_LOAD, code at CODE_AT, data, RELA, section headers (null, .text,
 * .rela.dyn); with `ehFrame`, its content and .shstrtab before the section headers and those two
 * sections after the others.
 */
export function tinyElf(spec: TinyElf): Uint8Array {
  const relaAt = CODE_AT + spec.code.length + (spec.data ?? 0);
  const rela = spec.rela ?? [];
  const ehFrame = spec.ehFrame;
  const namesAt = ehFrameAt(spec) + (ehFrame?.length ?? 0);
  const shoff = ehFrame ? namesAt + SHSTRTAB.length : relaAt + 24 * rela.length;
  const sections = (rela.length > 0 ? 3 : 2) + (ehFrame ? 2 : 0);
  const bytes = new Uint8Array(shoff + 64 * sections);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 3, true); // ET_DYN
  v.setUint16(18, spec.machine ?? 62, true); // EM_X86_64 unless told
  put64(v, 0x20, 64); // e_phoff
  put64(v, 0x28, shoff);
  v.setUint16(0x36, 56, true);
  v.setUint16(0x38, 1, true);
  v.setUint16(0x3a, 64, true);
  v.setUint16(0x3c, sections, true);
  // PT_LOAD: the whole file at BASE.
  v.setUint32(64, 1, true);
  v.setUint32(68, 5, true);
  put64(v, 64 + 16, BASE);
  put64(v, 64 + 32, bytes.length);
  put64(v, 64 + 40, bytes.length + (spec.bss ?? 0));
  bytes.set(spec.code, CODE_AT);
  rela.forEach(([where, info, addend], i) => {
    put64(v, relaAt + 24 * i, where);
    put64(v, relaAt + 24 * i + 8, info);
    put64(v, relaAt + 24 * i + 16, addend);
  });
  const section = (i: number, type: number, flags: number, offset: number, size: number, entsize: number, name = 0): void => {
    const at = shoff + 64 * i;
    v.setUint32(at, name, true);
    v.setUint32(at + 4, type, true);
    put64(v, at + 8, flags);
    put64(v, at + 16, BASE + offset);
    put64(v, at + 24, offset);
    put64(v, at + 32, size);
    put64(v, at + 56, entsize);
  };
  section(1, 1, 6, CODE_AT, spec.code.length, 0);
  if (rela.length > 0) section(2, 4, 2, relaAt, 24 * rela.length, 24);
  if (ehFrame) {
    const first = sections - 2;
    bytes.set(ehFrame, ehFrameAt(spec));
    bytes.set(SHSTRTAB, namesAt);
    section(first, 1, 2, ehFrameAt(spec), ehFrame.length, 0, 1);
    section(first + 1, 3, 0, namesAt, SHSTRTAB.length, 0, 11);
    v.setUint16(0x3e, first + 1, true); // e_shstrndx
  }
  return bytes;
}

/** A rel32 (signed) as 4 little-endian bytes. */
export const le32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

const FIXTURES = path.join(__dirname, "fixtures");

/** perl-base's Socket.so before and after U's security upgrade (amd64, or arm64: the arm64 pair's). */
export function socketPair(arch: "amd64" | "arm64" = "amd64"): { old: Uint8Array; neu: Uint8Array } {
  const read = (name: string): Uint8Array => new Uint8Array(gunzipSync(fs.readFileSync(path.join(FIXTURES, name))));
  const infix = arch === "arm64" ? ".arm64" : "";
  return { old: read(`Socket.so${infix}.old.gz`), neu: read(`Socket.so${infix}.new.gz`) };
}

/** The holes mke2fs -d leaves in `file`: its all-zero 4 KiB blocks, adjacent ones merged. */
export function zeroBlocks(file: Uint8Array): Hole[] {
  const BLOCK = 4096;
  const holes: Hole[] = [];
  for (let at = 0; at + BLOCK <= file.length; at += BLOCK) {
    if (file.subarray(at, at + BLOCK).some((b) => b !== 0)) continue;
    const last = holes[holes.length - 1];
    if (last && last.offset + last.length === at) last.length += BLOCK;
    else holes.push({ offset: at, length: BLOCK });
  }
  return holes;
}

/**
 * apt's arm64 cdrom method before and after the arm64 pair's upgrade (62 KB of zero padding each):
 * the whole files, their holes as mke2fs -d leaves them, and their data (what the extents hold).
 */
export function cdromWithHoles(): { wholeOld: Uint8Array; wholeNew: Uint8Array; holes: FileHoles; oldData: Uint8Array; newData: Uint8Array } {
  const read = (name: string): Uint8Array => new Uint8Array(gunzipSync(fs.readFileSync(path.join(FIXTURES, name))));
  const wholeOld = read("cdrom.arm64.old.gz");
  const wholeNew = read("cdrom.arm64.new.gz");
  const holes: FileHoles = { old: zeroBlocks(wholeOld), new: zeroBlocks(wholeNew) };
  return { wholeOld, wholeNew, holes, oldData: compactInPlace(wholeOld.slice(), holes.old), newData: compactInPlace(wholeNew.slice(), holes.new) };
}

/** The planner's yardstick of a diff (compress/xz-size.ts): fast-xz bytes of its three streams. */
export const diffCost = (d: ApproximateDiff): number => xzSize([d.control, d.differences, d.literals]);

/** The prediction the device applies `exec` with (execPrediction, under the record's budget). */
export function devicePrediction(old: Uint8Array, exec: ExecDiff, newLength: number, referenceCount = exec.referenceCount): Prediction {
  const budget = execBudget(old.length, newLength, exec.diff.control.length, exec.diff.literals.length);
  return execPrediction(old, exec.transform, exec.newSegments, referenceCount, exec.diff, newLength, budget);
}

/** The new file the device makes from `old` and `exec`. */
export const deviceApply = (old: Uint8Array, exec: ExecDiff, newLength: number): Uint8Array =>
  devicePrediction(old, exec, newLength).apply(exec.diff, new Uint8Array(newLength));

/**
 * A seeded hole list for a file of `dataLength` data bytes: up to `count` holes of 1 to
 * `maxLength` bytes, the first at 0 now and then, else after 1 to `maxFirst` data bytes, then 1 to
 * `maxGap` data bytes between two. Undefined when the data does not fill the runs before the
 * holes (the caller draws again).
 */
export function randomHoles(rng: Rng, dataLength: number, count: number, maxLength: number, maxGap: number, maxFirst: number): Hole[] | undefined {
  const holes: Hole[] = [];
  let at = rng.next() % 3 === 0 ? 0 : 1 + (rng.next() % maxFirst);
  let dataLeft = dataLength;
  for (let k = rng.next() % count; k > 0; k--) {
    const length = 1 + (rng.next() % maxLength);
    holes.push({ offset: at, length });
    const gap = 1 + (rng.next() % maxGap);
    if (gap > dataLeft) break;
    dataLeft -= gap;
    at += length + gap;
  }
  // The data before the first hole and between holes is at most dataLength: what is left follows the last.
  const before = holes.reduce((sum, h, i) => sum + h.offset - (i === 0 ? 0 : holes[i - 1]!.offset + holes[i - 1]!.length), 0);
  return before > dataLength ? undefined : holes;
}
