/**
 * The program interpreter (PT_INTERP: the dynamic loader's path) of an ELF executable, read from
 * its headers: what `readelf -l` prints as "Requesting program interpreter", without binutils for
 * every architecture. Reads only the headers and the string (the single executables are ~100 MB;
 * the tool that injects the program may have moved the program headers towards the end).
 */
import { closeSync, openSync, readSync } from "node:fs";

const PT_INTERP = 3;

export function programInterpreter(file: string): string | undefined {
  const fd = openSync(file, "r");
  try {
    const read = (at: number, length: number): Buffer => {
      const buf = Buffer.alloc(length);
      if (readSync(fd, buf, 0, length, at) !== length) throw new Error(`${file}: ends inside its ELF headers`);
      return buf;
    };
    const header = read(0, 64);
    if (header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file}: not an ELF file`);
    const is64 = header[4] === 2; // EI_CLASS: 1 = 32-bit, 2 = 64-bit
    if (header[5] !== 1) throw new Error(`${file}: not a little-endian ELF file`); // EI_DATA
    const word = (buf: Buffer, at: number) => (is64 ? Number(buf.readBigUInt64LE(at)) : buf.readUInt32LE(at));
    const phoff = word(header, is64 ? 32 : 28);
    const phentsize = header.readUInt16LE(is64 ? 54 : 42);
    const phnum = header.readUInt16LE(is64 ? 56 : 44);
    const table = read(phoff, phentsize * phnum);
    for (let i = 0; i < phnum; i++) {
      const ph = i * phentsize;
      if (table.readUInt32LE(ph) !== PT_INTERP) continue;
      const offset = word(table, ph + (is64 ? 8 : 4));
      const size = word(table, ph + (is64 ? 32 : 16));
      return read(offset, size).toString("latin1").replace(/\0+$/, "");
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
