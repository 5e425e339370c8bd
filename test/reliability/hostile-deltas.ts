/**
 * Crafted VCDIFF deltas that attack the decoder's memory and time, written byte by byte:
 *
 * - memory bombs: a few KB whose secondary-compressed (LZMA or DJW) sections each declare, and
 *   with LZMA really expand to, 135 MB (twice a 64 MiB window plus 1 MiB, the most the decoder
 *   used to accept per section);
 * - the largest window the budget lets through: a valid 16 MiB window whose LZMA data and
 *   instruction sections expand to the window size each (with 8 MiB dictionaries), after copies
 *   from 64 source blocks (more than the source cache holds);
 * - scattered copies: valid deltas whose short COPYs cycle over more source blocks than the cache
 *   holds (in instruction order each copy would read a block);
 * - a window that copies nothing from the source but carries the wrong checksum.
 *
 * LZMA sections are made by `xz` and cut where xdelta3's sync flush would end them (after the last
 * LZMA2 chunk), which is what the decoder's persistent section streams expect.
 */
import { spawnSync } from "node:child_process";
import { createCipheriv } from "node:crypto";
import { SOURCE_PAGE } from "../../src/io/interfaces";
import { varint, window, type WindowSpec } from "../vcdiff/vectors";

export const MiB = 1 << 20;
/** The most one section could declare before (2 x 64 MiB + 1 MiB). */
export const BOMB_SECTION = 2 * 64 * MiB + MiB;

const VCD_DECOMPRESS = 0x01;
const SECONDARY_DJW = 1;
const SECONDARY_LZMA = 2;
/** Default code table opcodes (RFC 3284 §5.6). */
const ADD_SIZE0 = 1; // ADD with an explicit size
const ADD1 = 2;
const COPY_SIZE0 = 19; // + 16 * mode: COPY with an explicit size
const COPY_SIZE4 = 20; // + 16 * mode: COPY of 4 bytes
const MODE_SELF = 0;
const MODE_NEAR0 = 2;
const MODE_SAME0 = 6;

/** Deterministic pseudo-random bytes (AES-CTR keystream). */
export function pseudoRandom(n: number, seed: number): Buffer {
  return createCipheriv("aes-256-ctr", Buffer.alloc(32, seed), Buffer.alloc(16)).update(Buffer.alloc(n));
}

/** A VCDIFF file: header (with a secondary compressor id, or none) and windows. */
function vcdiff(secondary: number, windows: number[][] | Buffer[]): Buffer {
  const head = Buffer.from([0xd6, 0xc3, 0xc4, 0x00, ...(secondary ? [VCD_DECOMPRESS, secondary] : [0])]);
  return Buffer.concat([head, ...windows.map((w) => (Buffer.isBuffer(w) ? w : Buffer.from(w)))]);
}

/**
 * `bytes` as the first flush of an xdelta3 LZMA section stream: an xz stream (no check) cut after
 * its last LZMA2 chunk, before the end marker, index and footer.
 */
export function lzmaSection(bytes: Uint8Array, dict = "256KiB"): Buffer {
  const r = spawnSync("xz", ["--format=xz", "--check=none", `--lzma2=preset=0,dict=${dict}`, "-c"], { input: bytes, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`xz failed: ${r.stderr}`);
  const xz = r.stdout;
  let pos = 12 + (xz[12]! + 1) * 4; // stream header, block header
  for (;;) {
    const c = xz[pos]!;
    if (c === 0) return xz.subarray(0, pos);
    if (c === 1 || c === 2) pos += 3 + ((xz[pos + 1]! << 8) | xz[pos + 2]!) + 1;
    else if (c >= 0x80) pos += (c >= 0xc0 ? 6 : 5) + ((xz[pos + 3]! << 8) | xz[pos + 4]!) + 1;
    else throw new Error(`unexpected LZMA2 control byte ${c}`);
  }
}

/** A compressed section: varint(decoded length) + the compressor's bytes. */
function compressed(decodedLength: number, payload: Uint8Array): number[] {
  return [...varint(decodedLength), ...payload];
}

/**
 * The memory bomb: one window of `targetLength` bytes whose three sections are all compressed and
 * each declare BOMB_SECTION decoded bytes. With LZMA they really expand that far (zeros); with DJW
 * the payload is noise (the declared size is the attack).
 */
export function memoryBomb(kind: "lzma" | "djw", targetLength: number): Buffer {
  const payload = kind === "lzma" ? lzmaSection(new Uint8Array(BOMB_SECTION)) : pseudoRandom(4096, 7);
  const section = compressed(BOMB_SECTION, payload);
  const w = window({ targetLength, deltaIndicator: 7, data: section, inst: section, addr: section });
  return vcdiff(kind === "lzma" ? SECONDARY_LZMA : SECONDARY_DJW, [w]);
}

/** A source image and a delta, with the target the delta makes when it is valid. */
export interface CraftedPair {
  source: Buffer;
  delta: Buffer;
  /** What the delta produces, or null when it must be refused. */
  target: Buffer | null;
}

/**
 * The largest window the section budget lets through, made valid: 16 MiB of output from 64 4-byte
 * COPYs out of 64 different 256 KiB source blocks (more than the 8 MiB cache holds) and then 1-byte ADDs of
 * zeros, one opcode each; the data and instruction sections are LZMA with 8 MiB dictionaries, so
 * they expand to about the window size each.
 */
export function largestWindow(): CraftedPair {
  const T = 16 * MiB;
  const blocks = 64;
  const block = 256 * 1024;
  const source = pseudoRandom(blocks * block, 11);
  const copies = 64;
  const adds = T - copies * 4;
  const inst = Buffer.alloc(copies + adds, ADD1);
  const addr: number[] = [];
  const target = Buffer.alloc(T);
  for (let i = 0; i < copies; i++) {
    inst[i] = COPY_SIZE4 + 16 * MODE_SELF;
    const a = i * block + 100;
    addr.push(...varint(a));
    source.copy(target, i * 4, a, a + 4);
  }
  const data = lzmaSection(new Uint8Array(adds), "8MiB");
  const instSection = lzmaSection(inst, "8MiB");
  const w = window({
    source: [source.length, 0],
    targetLength: T,
    deltaIndicator: 3,
    data: compressed(adds, data),
    inst: compressed(inst.length, instSection),
    addr,
  });
  return { source, delta: vcdiff(SECONDARY_LZMA, [w]), target };
}

/**
 * Short copies scattered over `blocks` source blocks of 256 KiB, cycled, filling `targetMiB` MiB in
 * windows of 16 MiB (the Update Module's limit). Addresses repeat, so after the first round each
 * COPY uses VCD_SAME (one address byte). Each copy reads a block when done in instruction order
 * with a cache smaller than `blocks`.
 */
export function scatteredCopies(copySize: number, blocks: number, targetMiB: number): CraftedPair {
  const block = 256 * 1024;
  const source = pseudoRandom(blocks * block, 13);
  const windowBytes = 16 * MiB;
  const perWindow = windowBytes / copySize;
  // Copy j reads at a_j = j * block + off_j with a_j mod 768 = j: distinct VCD_SAME slots.
  const addresses = Array.from({ length: blocks }, (_, j) => {
    const base = j * block;
    return base + ((j - (base % 768) + 768 * 4) % 768);
  });
  const target = Buffer.alloc(targetMiB * MiB);
  const windows: Buffer[] = [];
  for (let w = 0; w < (targetMiB * MiB) / windowBytes; w++) {
    const inst: number[] = [];
    const addr: number[] = [];
    for (let i = 0; i < perWindow; i++) {
      const j = i % blocks;
      const a = addresses[j]!;
      const first = i < blocks; // the address cache starts empty in each window
      const mode = first ? MODE_SELF : MODE_SAME0 + Math.floor((a % 768) / 256);
      if (copySize === 4) inst.push(COPY_SIZE4 + 16 * mode);
      else inst.push(COPY_SIZE0 + 16 * mode, ...varint(copySize));
      if (first) addr.push(...varint(a));
      else addr.push(a % 256);
      source.copy(target, w * windowBytes + i * copySize, a, a + copySize);
    }
    const spec: WindowSpec = { source: [source.length, 0], targetLength: windowBytes, inst, addr };
    windows.push(Buffer.from(window(spec)));
  }
  return { source, delta: vcdiff(0, windows), target };
}

/**
 * One 16 MiB window of 4-byte copies, each from the next 4 KiB page of a `pages`-page source,
 * cycling: every batch of copies the decoder sorts needs every page of the source again (the
 * pages of neighbouring copies, 4 KiB apart, come in whole runs), about 4096 / 4 times the
 * window's bytes in all. Addresses are NEAR (the previous copy's plus 4096: three bytes a copy).
 * Its target is not computed: the read budget refuses it.
 */
export function pageScatteredCopies(pages: number): CraftedPair {
  const page = SOURCE_PAGE;
  const source = pseudoRandom(pages * page, 19);
  const windowBytes = 16 * MiB;
  const copies = windowBytes / 4;
  const inst = new Array<number>(copies);
  const addr: number[] = [];
  for (let i = 0; i < copies; i++) {
    const j = i % pages;
    if (j === 0) {
      inst[i] = COPY_SIZE4 + 16 * MODE_SELF;
      addr.push(...varint(0));
    } else {
      // The near cache is a ring of four filled in order: the previous copy's address is in slot (i - 1) % 4.
      inst[i] = COPY_SIZE4 + 16 * (MODE_NEAR0 + ((i - 1) % 4));
      addr.push(...varint(page));
    }
  }
  const spec: WindowSpec = { source: [source.length, 0], targetLength: windowBytes, inst, addr };
  return { source, delta: vcdiff(0, [Buffer.from(window(spec))]), target: null };
}

/**
 * A valid first window, then one that only ADDs its bytes (no source copy) but carries the
 * Adler-32 of other bytes.
 */
export function noSourceChecksumMismatch(): CraftedPair {
  const source = pseudoRandom(1 * MiB, 17);
  const bytes = Buffer.from("bytes the delta carries itself, no copy from the source\n".repeat(4));
  const other = Buffer.from(bytes);
  other[0] = other[0]! ^ 1;
  const addWindow = (checksumOf: Uint8Array): number[] =>
    window({ targetLength: bytes.length, data: [...bytes], inst: [ADD_SIZE0, ...varint(bytes.length)], checksumOf });
  return { source, delta: vcdiff(0, [addWindow(bytes), addWindow(other)]), target: null };
}
