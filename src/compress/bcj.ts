/**
 * Branch-conversion filters (BCJ) for machine code, the same transforms as xz's `--x86`, `--arm`,
 * `--armthumb` and `--arm64` filters, so data filtered here is what xz filters and the reverse
 * restores what xz's decoder would. A call or jump stores its target relative to its own address,
 * so the same function called from many places shows as many different byte strings; the encoder
 * rewrites those fields to absolute addresses, which repeat, and the compressor that follows finds
 * them. Decoding subtracts the address again.
 *
 * These work on a whole buffer in place (the file-aware delta format filters one bounded literal
 * region at a time); `start` is the address of buf[0], as xz's start offset. The last few bytes a
 * filter cannot look at whole (fewer than an instruction) are left unchanged, as xz leaves them at
 * the end of its input.
 */

export type BcjArch = "x86" | "arm" | "armthumb" | "arm64";

export const BCJ_ARCHES: readonly BcjArch[] = ["x86", "arm", "armthumb", "arm64"];

/** Converts relative branch targets in `buf` to absolute (encode) or back (decode). */
export function bcjFilter(arch: BcjArch, buf: Uint8Array, encode: boolean, start = 0): void {
  switch (arch) {
    case "x86":
      return x86(buf, encode, start);
    case "arm":
      return arm(buf, encode, start);
    case "armthumb":
      return armThumb(buf, encode, start);
    case "arm64":
      return arm64(buf, encode, start);
  }
}

/** Whether bit pattern of the preceding E8/E9 bytes still allows a conversion (xz's table). */
const X86_ALLOWED = [true, true, true, false, true, false, false, false];
/** Which byte of the converted value to test again, by the same bit pattern. */
const X86_BYTE_INDEX = [0, 1, 2, 2, 3, 3, 3, 3];

/** A byte that can be the top of a near address: its sign extension (0x00 or 0xFF). */
const isAddressTop = (b: number): boolean => b === 0 || b === 0xff;

/**
 * x86 CALL (E8) and JMP (E9) with a 32-bit displacement. The state `prevMask` remembers which of
 * the last bytes were E8/E9 opcodes that were not converted, to avoid converting displacement bytes
 * that merely look like an opcode; the rule set is xz's, bit for bit, or the output would differ.
 */
function x86(buf: Uint8Array, encode: boolean, start: number): void {
  const size = buf.length;
  if (size < 5) return;
  let prevMask = 0;
  // Position of the last E8/E9 seen; starts 5 before the buffer, as xz's does.
  let prevPos = (start - 5) >>> 0;
  const limit = size - 5;
  let i = 0;
  while (i <= limit) {
    let b = buf[i]!;
    if (b !== 0xe8 && b !== 0xe9) {
      i++;
      continue;
    }
    const here = (start + i) >>> 0;
    const gap = (here - prevPos) >>> 0;
    prevPos = here;
    if (gap > 5) {
      prevMask = 0;
    } else {
      for (let k = 0; k < gap; k++) prevMask = ((prevMask & 0x77) << 1) >>> 0;
    }
    b = buf[i + 4]!;
    if (isAddressTop(b) && X86_ALLOWED[(prevMask >>> 1) & 7] && prevMask >>> 1 < 0x10) {
      let src = ((b << 24) | (buf[i + 3]! << 16) | (buf[i + 2]! << 8) | buf[i + 1]!) >>> 0;
      let dest: number;
      const next = (start + i + 5) >>> 0;
      for (;;) {
        dest = encode ? (src + next) >>> 0 : (src - next) >>> 0;
        if (prevMask === 0) break;
        // xz indexes its 8-entry table with prevMask >> 1, which a crafted run of E8 bytes can push
        // past 7 (reading beyond the table in C); masking keeps this filter defined and its own
        // inverse there, and identical to xz everywhere else.
        const index = X86_BYTE_INDEX[(prevMask >>> 1) & 7]!;
        b = (dest >>> (24 - index * 8)) & 0xff;
        if (!isAddressTop(b)) break;
        src = (dest ^ (2 ** (32 - index * 8) - 1)) >>> 0;
      }
      // The top byte becomes the sign of bit 24: 0x00 or 0xFF, as a near address has.
      buf[i + 4] = (dest >>> 24) & 1 ? 0xff : 0x00;
      buf[i + 3] = (dest >>> 16) & 0xff;
      buf[i + 2] = (dest >>> 8) & 0xff;
      buf[i + 1] = dest & 0xff;
      i += 5;
      prevMask = 0;
    } else {
      i++;
      prevMask |= 1;
      if (isAddressTop(b)) prevMask |= 0x10;
    }
  }
}

/** ARM (A32) BL: condition "always" (0xEB in the top byte), 24-bit word offset from pc + 8. */
function arm(buf: Uint8Array, encode: boolean, start: number): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    if (buf[i + 3] !== 0xeb) continue;
    const src = ((buf[i + 2]! << 16) | (buf[i + 1]! << 8) | buf[i]!) * 4;
    const pc = start + i + 8;
    const dest = ((encode ? src + pc : src - pc) >>> 2) & 0xffffff;
    buf[i + 2] = (dest >>> 16) & 0xff;
    buf[i + 1] = (dest >>> 8) & 0xff;
    buf[i] = dest & 0xff;
  }
}

/** Thumb-2 BL: two halfwords 11110xxx xxxxxxxx / 11111xxx xxxxxxxx, offset from pc + 4. */
function armThumb(buf: Uint8Array, encode: boolean, start: number): void {
  for (let i = 0; i + 4 <= buf.length; i += 2) {
    if ((buf[i + 1]! & 0xf8) !== 0xf0 || (buf[i + 3]! & 0xf8) !== 0xf8) continue;
    const src = (((buf[i + 1]! & 7) << 19) | (buf[i]! << 11) | ((buf[i + 3]! & 7) << 8) | buf[i + 2]!) * 2;
    const pc = start + i + 4;
    const dest = ((encode ? src + pc : src - pc) >>> 1) >>> 0;
    buf[i + 1] = 0xf0 | ((dest >>> 19) & 7);
    buf[i] = (dest >>> 11) & 0xff;
    buf[i + 3] = 0xf8 | ((dest >>> 8) & 7);
    buf[i + 2] = dest & 0xff;
    i += 2;
  }
}

/**
 * AArch64 BL (full 26-bit word offset) and ADRP (page offset, converted only within +/-512 MiB so
 * that data words rarely trigger it), relative to the instruction's own address.
 */
function arm64(buf: Uint8Array, encode: boolean, start: number): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    let instr = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) >>> 0;
    const pc = (start + i) >>> 0;
    if (instr >>> 26 === 0x25) {
      const delta = encode ? pc >>> 2 : (0 - (pc >>> 2)) >>> 0;
      instr = (0x94000000 | ((instr + delta) & 0x03ffffff)) >>> 0;
    } else if ((instr & 0x9f000000) >>> 0 === 0x90000000) {
      const src = ((instr >>> 29) & 3) | ((instr >>> 3) & 0x001ffffc);
      if ((src + 0x00020000) & 0x001c0000) continue;
      const delta = encode ? pc >>> 12 : (0 - (pc >>> 12)) >>> 0;
      const dest = (src + delta) >>> 0;
      instr = (instr & 0x9000001f) >>> 0;
      instr |= (dest & 3) << 29;
      instr |= (dest & 0x0003fffc) << 3;
      instr |= (0 - (dest & 0x00020000)) & 0x00e00000;
      instr >>>= 0;
    } else {
      continue;
    }
    buf[i] = instr & 0xff;
    buf[i + 1] = (instr >>> 8) & 0xff;
    buf[i + 2] = (instr >>> 16) & 0xff;
    buf[i + 3] = (instr >>> 24) & 0xff;
  }
}
