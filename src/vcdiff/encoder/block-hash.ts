/**
 * Hash of one aligned 4 KiB block, the unit ext4 moves files in. Read as 32-bit words through an
 * Int32Array view, so callers pass word offsets of 4-byte aligned memory.
 */
export const BLOCK_SIZE = 4096;
export const BLOCK_WORDS = BLOCK_SIZE / 4;

export function blockHash(words: Int32Array, wordOffset: number): number {
  let h1 = 0x12345678;
  let h2 = 0x7654321;
  const end = wordOffset + BLOCK_WORDS;
  for (let i = wordOffset; i < end; i += 2) {
    h1 = Math.imul(h1 ^ words[i]!, 0x9e3779b1);
    h2 = Math.imul(h2 ^ words[i + 1]!, 0x85ebca6b);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = (h2 << 17) | (h2 >>> 15);
  }
  const h = Math.imul(h1 ^ (h2 >>> 7), 0xc2b2ae35) ^ h2;
  return (h ^ (h >>> 16)) >>> 0;
}
