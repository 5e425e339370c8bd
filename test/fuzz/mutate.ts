/**
 * A small deterministic mutation engine: input number `index` of a run with `seed` is always the
 * same bytes, so any input a run reports can be rebuilt from (seed, index) alone, and a watchdog can
 * rebuild the input a stuck worker was working on.
 *
 * Mutations: bit flips, bytes set to interesting values, 16/32-bit interesting values, truncation,
 * chunk duplication and removal, splicing two valid inputs, and (for formats built from varints,
 * VCDIFF) replacing a base-128 integer with an interesting one.
 */
import { Rng } from "../vcdiff/helpers";

export const INTERESTING_8 = [0x00, 0x01, 0x02, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x10, 0x20, 0x40];
export const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];
/** Values a VCDIFF varint may be set to: boundaries of sizes, offsets and 32/53/64-bit ranges. */
const INTERESTING_VARINT = [0, 1, 2, 3, 4, 0x7f, 0x80, 0x3fff, 0x4000, 0xffff, 0x10000, 1 << 24, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 53 - 1, 2 ** 53];

export interface MutateOptions {
  /** Also use varint-aware mutations (VCDIFF). */
  varints?: boolean;
  /** Largest input produced (keeps runs fast). */
  maxLength?: number;
}

/** A seeded generator for input `index`: every run with the same seed sees the same input there. */
export function inputRng(seed: number, index: number): Rng {
  // splitmix-style mixing so neighbouring indexes give unrelated streams.
  let h = Math.imul((seed ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return new Rng(h >>> 0 || 1);
}

/** Builds input `index` of the run with `seed` from the valid `seeds`. */
export function mutatedInput(seeds: readonly Uint8Array[], seed: number, index: number, options: MutateOptions = {}): Uint8Array {
  const rng = inputRng(seed, index);
  // Uint8Array.from, not slice(): a seed may be a Buffer (xz's stdout), whose slice() is a view, and
  // the mutations below work in place.
  let data: Uint8Array = Uint8Array.from(seeds[rng.below(seeds.length)]!);
  // 1..4 stacked mutations, most inputs get one or two: close enough to valid to get past the
  // first checks, far enough to reach the error paths.
  const rounds = 1 + (rng.below(8) === 0 ? 3 : rng.below(2));
  for (let r = 0; r < rounds; r++) data = mutateOnce(data, seeds, rng, options);
  const max = options.maxLength ?? 1 << 20;
  return data.length > max ? data.subarray(0, max) : data;
}

function mutateOnce(data: Uint8Array, seeds: readonly Uint8Array[], rng: Rng, options: MutateOptions): Uint8Array {
  if (data.length === 0) return Uint8Array.from(seeds[rng.below(seeds.length)]!.subarray(0, 1 + rng.below(64)));
  const kinds = options.varints ? 9 : 8;
  switch (rng.below(kinds)) {
    case 0:
    case 1: {
      // Bit flips, usually in the first bytes where the headers are.
      const flips = 1 + rng.below(3);
      for (let i = 0; i < flips; i++) {
        const at = biasedPosition(data.length, rng);
        data[at] = data[at]! ^ (1 << rng.below(8));
      }
      return data;
    }
    case 2: {
      data[biasedPosition(data.length, rng)] = INTERESTING_8[rng.below(INTERESTING_8.length)]!;
      return data;
    }
    case 3: {
      if (data.length < 4) return data;
      const at = rng.below(data.length - 3);
      const value = INTERESTING_32[rng.below(INTERESTING_32.length)]!;
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      if (rng.below(2) === 0) view.setUint32(at, value >>> 0, rng.below(2) === 0);
      else view.setUint16(at, value & 0xffff, rng.below(2) === 0);
      return data;
    }
    case 4:
      // Truncation: a download cut anywhere.
      return data.subarray(0, rng.below(data.length));
    case 5: {
      // Duplicate a chunk (in place after itself).
      const [from, len] = chunk(data.length, rng);
      return concat(data.subarray(0, from + len), data.subarray(from, from + len), data.subarray(from + len));
    }
    case 6: {
      const [from, len] = chunk(data.length, rng);
      return concat(data.subarray(0, from), data.subarray(from + len));
    }
    case 7: {
      // Splice: the head of this input, the tail of another valid one.
      const other = seeds[rng.below(seeds.length)]!;
      const cut = rng.below(data.length + 1);
      const otherCut = rng.below(other.length + 1);
      return concat(data.subarray(0, cut), other.subarray(otherCut));
    }
    default:
      return mutateVarint(data, rng);
  }
}

/**
 * One in-place mutation at `at`, for formats whose structures lie at known places (ext4's
 * metadata blocks): a flipped bit, an interesting byte, or an interesting 16- or 32-bit value of
 * either byte order starting there (cut at the end of `data`).
 */
export function mutateAt(data: Uint8Array, at: number, rng: Rng): void {
  const kind = rng.below(4);
  if (kind <= 1) data[at] = data[at]! ^ (1 << rng.below(8));
  else if (kind === 2) data[at] = INTERESTING_8[rng.below(INTERESTING_8.length)]!;
  else {
    const value = INTERESTING_32[rng.below(INTERESTING_32.length)]! >>> 0;
    const width = rng.below(2) === 0 ? 2 : 4;
    const littleEndian = rng.below(2) === 0;
    for (let b = 0; b < width && at + b < data.length; b++) {
      data[at + b] = (value >>> (8 * (littleEndian ? b : width - 1 - b))) & 0xff;
    }
  }
}

/** Positions near the start (headers) are picked about half of the time. */
function biasedPosition(length: number, rng: Rng): number {
  return rng.below(2) === 0 ? rng.below(Math.min(length, 64)) : rng.below(length);
}

function chunk(length: number, rng: Rng): [number, number] {
  const from = rng.below(length);
  const len = 1 + rng.below(Math.min(length - from, rng.below(4) === 0 ? 4096 : 64));
  return [from, len];
}

/**
 * Replaces the base-128 integer starting at a random position (RFC 3284 section 2: big-endian
 * 7-bit groups, high bit = more) by an interesting value, sometimes with a redundant leading
 * group, so sizes, offsets and addresses get boundary values without breaking the framing.
 */
function mutateVarint(data: Uint8Array, rng: Rng): Uint8Array {
  const start = biasedPosition(data.length, rng);
  let end = start;
  while (end < data.length && end - start < 10 && data[end]! & 0x80) end++;
  end = Math.min(end + 1, data.length);
  const value = INTERESTING_VARINT[rng.below(INTERESTING_VARINT.length)]!;
  const encoded = encodeVarint(value, rng.below(6) === 0);
  return concat(data.subarray(0, start), encoded, data.subarray(end));
}

function encodeVarint(value: number, padded: boolean): Uint8Array {
  const groups: number[] = [];
  let v = value;
  do {
    groups.unshift(v % 128);
    v = Math.floor(v / 128);
  } while (v > 0);
  if (padded) groups.unshift(0);
  return Uint8Array.from(groups, (g, i) => (i < groups.length - 1 ? g | 0x80 : g));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
