/**
 * The branch-conversion filter (compress/bcj.ts) that suits a file: its ELF header's machine, for
 * the architectures the device programs are built for. Thumb-2 for 32-bit ARM, as Debian's armhf
 * and most 32-bit ARM distributions compile to it.
 */
import type { BcjArch } from "../compress/bcj";

const EM_386 = 3;
const EM_ARM = 40;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/** The filter for an ELF file's code, or null when `bytes` is not a little-endian ELF of a known machine. */
export function elfBranchFilter(bytes: Uint8Array): BcjArch | null {
  if (bytes.length < 20 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return null;
  if (bytes[5] !== 1) return null; // big-endian: none of the filters applies
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
