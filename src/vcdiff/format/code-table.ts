/**
 * The RFC 3284 default instruction code table (s_near = 4, s_same = 3), as every VCDIFF decoder
 * builds it, plus the encoder's opcode selection for it. Decoders index `CODE_TABLE_*[opcode]`;
 * the encoder never looks the table up, it uses the closed-form opcode functions below, which are
 * derived from the same layout (and cross-checked against the table in the tests).
 */

export const NOOP = 0;
export const ADD = 1;
export const RUN = 2;
export const COPY = 3;

export const NEAR_SLOTS = 4;
export const SAME_SLOTS = 3;
/** Address modes: 0 SELF, 1 HERE, 2..5 near, 6..8 same. */
export const MODE_SELF = 0;
export const MODE_HERE = 1;
export const MODE_NEAR0 = 2;
export const MODE_SAME0 = 2 + NEAR_SLOTS;
export const MODE_COUNT = 2 + NEAR_SLOTS + SAME_SLOTS;
/** Entries of the same cache: 256 per same slot. */
export const SAME_CACHE_SIZE = SAME_SLOTS * 256;

/** Per opcode, the two halves: instruction type, size (0 = read from the stream), address mode. */
export const CODE_TABLE_INST1 = new Uint8Array(256);
export const CODE_TABLE_SIZE1 = new Uint8Array(256);
export const CODE_TABLE_MODE1 = new Uint8Array(256);
export const CODE_TABLE_INST2 = new Uint8Array(256);
export const CODE_TABLE_SIZE2 = new Uint8Array(256);
export const CODE_TABLE_MODE2 = new Uint8Array(256);

(function buildDefaultCodeTable(): void {
  let i = 0;
  const push = (t1: number, s1: number, m1: number, t2: number, s2: number, m2: number): void => {
    CODE_TABLE_INST1[i] = t1; CODE_TABLE_SIZE1[i] = s1; CODE_TABLE_MODE1[i] = m1;
    CODE_TABLE_INST2[i] = t2; CODE_TABLE_SIZE2[i] = s2; CODE_TABLE_MODE2[i] = m2;
    i++;
  };
  push(RUN, 0, 0, NOOP, 0, 0);
  push(ADD, 0, 0, NOOP, 0, 0);
  for (let s = 1; s <= 17; s++) push(ADD, s, 0, NOOP, 0, 0);
  for (let m = 0; m < MODE_COUNT; m++) {
    push(COPY, 0, m, NOOP, 0, 0);
    for (let s = 4; s <= 18; s++) push(COPY, s, m, NOOP, 0, 0);
  }
  for (let m = 0; m < 6; m++) {
    for (let a = 1; a <= 4; a++) for (let c = 4; c <= 6; c++) push(ADD, a, 0, COPY, c, m);
  }
  for (let m = 6; m < MODE_COUNT; m++) for (let a = 1; a <= 4; a++) push(ADD, a, 0, COPY, 4, m);
  for (let m = 0; m < MODE_COUNT; m++) push(COPY, 4, m, ADD, 1, 0);
})();

/** Opcode of a RUN (its size is always written as an integer). */
export const OPCODE_RUN = 0;

/** Opcode of a lone ADD; sizes 1..17 are implied by the opcode, others follow as an integer. */
export function addOpcode(size: number): number {
  return size >= 1 && size <= 17 ? 1 + size : 1;
}
/** True when `addOpcode(size)` needs no size integer. */
export function addSizeImplied(size: number): boolean {
  return size >= 1 && size <= 17;
}

/** Opcode of a lone COPY in address mode `mode`; sizes 4..18 are implied. */
export function copyOpcode(size: number, mode: number): number {
  return size >= 4 && size <= 18 ? 19 + 16 * mode + (size - 3) : 19 + 16 * mode;
}
export function copySizeImplied(size: number): boolean {
  return size >= 4 && size <= 18;
}

/** Opcode of ADD(addSize) immediately followed by COPY(copySize, mode), or -1 when the table has none. */
export function addCopyOpcode(addSize: number, copySize: number, mode: number): number {
  if (addSize < 1 || addSize > 4) return -1;
  if (mode < 6) {
    if (copySize < 4 || copySize > 6) return -1;
    return 163 + mode * 12 + (addSize - 1) * 3 + (copySize - 4);
  }
  if (copySize !== 4) return -1;
  return 235 + (mode - 6) * 4 + (addSize - 1);
}

/** Opcode of COPY(4, mode) immediately followed by ADD(1), or -1. */
export function copyAddOpcode(copySize: number, mode: number, addSize: number): number {
  return copySize === 4 && addSize === 1 ? 247 + mode : -1;
}
