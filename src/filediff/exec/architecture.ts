/**
 * What EXEC needs to know of an instruction set: which ELF files it applies to, how the old file's
 * references are found (the device repeats the scan exactly), and how a reference's field is
 * re-encoded to reach a new target from a new place. Prediction (predict.ts) and the EXEC record
 * are otherwise the same for every architecture; the record names its architecture by the
 * transform byte (architectures.ts holds the registry).
 */
import type { ElfLayout } from "./elf-layout";
import type { ReferenceScratch, References } from "./references";

export interface Architecture {
  /** For messages and logs. */
  readonly name: string;
  /** The EXEC record's transform byte. */
  readonly transform: number;
  /** The ELF e_machine of the files it handles. */
  readonly machine: number;
  /** By reference kind, the size of its field in bytes (at most 8). */
  readonly fieldSize: Uint8Array;
  /**
   * The references of a file of this machine laid out as `layout` says, sorted by position and
   * not overlapping, or undefined when the file has none to offer (no code section) or more than
   * MAX_REFERENCES. Deterministic in the file's bytes alone; must never throw on hostile bytes.
   */
  findReferences(file: Uint8Array, layout: ElfLayout, scratch?: ReferenceScratch): References | undefined;
  /**
   * Writes into `out` (fieldSize[kind] bytes) the field of kind `kind` that refers to `newTarget`
   * when its first byte sits at address `newAddress`; `old` holds the old field's bytes at `at`
   * (its non-address bits, an opcode say, are kept). False when no field of that kind can (out of
   * range, misaligned): the reference is then not predicted.
   */
  encode(kind: number, old: Uint8Array, at: number, newAddress: number, newTarget: number, out: Uint8Array): boolean;
}

/** Writes the low 32 bits of `word` as 4 little-endian bytes at `out[at]`: a 32-bit field or instruction. */
export function writeU32(word: number, out: Uint8Array, at = 0): void {
  for (let b = 0; b < 4; b++) out[at + b] = (word >>> (8 * b)) & 0xff;
}

/** Writes `value` (0 <= value < 2^53) as 8 little-endian bytes: an absolute 64-bit address. */
export function writeU64(value: number, out: Uint8Array): void {
  const lo = value % 2 ** 32;
  writeU32(lo, out);
  writeU32((value - lo) / 2 ** 32, out, 4);
}

/** Writes `value` as 4 little-endian bytes when it fits a signed 32-bit field; false when not. */
export function writeI32(value: number, out: Uint8Array): boolean {
  if (value < -(2 ** 31) || value >= 2 ** 31) return false;
  writeU32(value, out);
  return true;
}
