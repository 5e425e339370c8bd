/**
 * The branch-conversion filter (compress/bcj.ts) that suits a file: its ELF header's machine, for
 * the architectures the device programs are built for. Thumb-2 for 32-bit ARM, as Debian's armhf
 * and most 32-bit ARM distributions compile to it.
 */
import type { BcjArch } from "../compress/bcj";

const EM_386 = 3;
const EM_ARM = 40;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

/** Whether `bytes` start with the header of a little-endian ELF file (up to its e_machine field). */
export function isLittleEndianElf(bytes: Uint8Array): boolean {
  return bytes.length >= 20 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46 && bytes[5] === 1;
}

/** The filter for an ELF file's code, or null when `bytes` is not a little-endian ELF of a known machine. */
export function elfBranchFilter(bytes: Uint8Array): BcjArch | null {
  // Big-endian: none of the filters applies.
  if (!isLittleEndianElf(bytes)) return null;
  switch (bytes[18]! | (bytes[19]! << 8)) {
    case EM_386:
    case EM_X86_64:
      return "x86";
    case EM_AARCH64:
      return "arm64";
    case EM_ARM:
      return "armthumb";
    default:
      return null;
  }
}
