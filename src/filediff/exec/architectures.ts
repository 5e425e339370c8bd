/**
 * The architectures EXEC records can name, by transform byte and by ELF machine. A new
 * instruction set is one module implementing Architecture, added here.
 */
import { aarch64 } from "./aarch64-references";
import type { Architecture } from "./architecture";
import { arm32 } from "./arm32-references";
import { x86_64 } from "./x86-64-references";

const ARCHITECTURES: readonly Architecture[] = [x86_64, aarch64, arm32];

/** The architecture an EXEC record's transform byte names, or undefined for an unknown one. */
export function architectureOfTransform(transform: number): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.transform === transform);
}

/** The architecture of ELF files of machine `machine`, or undefined when EXEC has none. */
export function architectureOfMachine(machine: number): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.machine === machine);
}
