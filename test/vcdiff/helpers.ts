/**
 * Shared helpers of the VCDIFF decoder tests: deterministic test images, in-memory source/target,
 * running stock xdelta3, and decoding a delta with a chosen chunking of the delta stream.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { BlockSource, TargetSink } from "../../src/io/interfaces";
import { decodeVcdiff, type DecodeOptions } from "../../src/vcdiff/decoder/decode";
import { parseFileHeader, parseWindowHeader } from "../../src/vcdiff/decoder/header";
import { ByteCursor } from "../../src/vcdiff/format/varint-reader";

/** xorshift32: fixed-seed pseudo-random numbers, identical on every run. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.next() % n;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

const WORDS = "the quick brown fox jumps over lazy dog lib usr bin etc share locale systemd kernel module firmware".split(" ");

/**
 * An image-like buffer: text runs (compressible, self-similar), random runs (incompressible) and
 * zero runs (free space), so xdelta3 emits ADDs, RUNs, source and target COPYs.
 */
export function makeImage(seed: number, size: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(size);
  let p = 0;
  while (p < size) {
    const kind = rng.below(3);
    const len = Math.min(size - p, 256 + rng.below(16384));
    if (kind === 0) {
      let q = p;
      while (q < p + len) {
        const w = WORDS[rng.below(WORDS.length)]!;
        for (let i = 0; i < w.length && q < p + len; i++) out[q++] = w.charCodeAt(i);
        if (q < p + len) out[q++] = 32;
      }
    } else if (kind === 1) {
      out.set(rng.bytes(len), p);
    } // kind 2: zeros
    p += len;
  }
  return out;
}

/**
 * A "new release" of `old`: edits, insertions, deletions and a moved block. New content is
 * image-like (mostly text), so the data sections compress and secondary compressors get used.
 */
export function mutateImage(old: Uint8Array, seed: number, edits = 40): Uint8Array {
  const rng = new Rng(seed);
  const parts: Uint8Array[] = [];
  let p = 0;
  const step = Math.floor(old.length / (edits + 1));
  for (let e = 0; e < edits; e++) {
    const next = Math.min(old.length, p + rng.below(2 * step));
    parts.push(old.subarray(p, next));
    const op = rng.below(4);
    if (op === 0) parts.push(makeImage(rng.next(), 1 + rng.below(6000))); // insertion
    else if (op === 1) p = next + rng.below(3000); // deletion
    else if (op === 2) {
      parts.push(makeImage(rng.next(), 1 + rng.below(400))); // replacement
      p = next + rng.below(200);
      continue;
    }
    if (op === 3) {
      const from = rng.below(Math.max(1, old.length - 70000));
      parts.push(old.subarray(from, from + 1 + rng.below(65536))); // moved/duplicated block
    }
    p = Math.max(p, next);
    if (p >= old.length) break;
  }
  if (p < old.length) parts.push(old.subarray(p));
  return Buffer.concat(parts);
}

/** A scratch directory removed when the process exits. */
export function scratchDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mbd-${name}-`));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs xdelta3 with `args`; throws with its stderr when it fails. */
export function xdelta3(args: string[]): void {
  const r = spawnSync("xdelta3", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`xdelta3 ${args.join(" ")} failed: ${r.stderr}`);
}

/**
 * Encodes `target` against `source` (null = no source) with stock `xdelta3 -e` and `flags`. The
 * files have fixed names in a directory of their own inside `dir`: xdelta3's default application
 * header holds their names, so the same inputs and flags give the same delta in every run (the
 * fuzzer's input (seed, index) depends on it) and concurrent calls do not collide.
 */
export function xdelta3Encode(dir: string, source: Uint8Array | null, target: Uint8Array, flags: string[]): Uint8Array {
  const own = fs.mkdtempSync(path.join(dir, "xdelta3-"));
  try {
    const src = path.join(own, "source");
    const tgt = path.join(own, "target");
    const out = path.join(own, "delta");
    fs.writeFileSync(tgt, target);
    const args = ["-e", "-f", ...flags];
    if (source) {
      fs.writeFileSync(src, source);
      args.push("-s", src);
    }
    xdelta3([...args, tgt, out]);
    return new Uint8Array(fs.readFileSync(out));
  } finally {
    fs.rmSync(own, { recursive: true, force: true });
  }
}

/** An in-memory BlockSource (4 KiB blocks by default). */
export class MemorySource implements BlockSource {
  readonly size: number;
  constructor(
    private readonly data: Uint8Array,
    readonly blockSize = 4096,
  ) {
    this.size = data.length;
  }
  allocateBlock(): Uint8Array {
    return new Uint8Array(this.blockSize);
  }
  readBlock(index: number, into: Uint8Array): number {
    return this.readAt(index * this.blockSize, into, this.blockSize);
  }
  readAt(offset: number, into: Uint8Array, want: number): number {
    const part = this.data.subarray(offset, Math.min(this.size, offset + want));
    into.set(part);
    return part.length;
  }
  close(): void {}
}

/** A MemorySource that records each read as [offset, bytes asked for]. */
export class RecordingMemorySource extends MemorySource {
  readonly log: [number, number][] = [];
  override readAt(offset: number, into: Uint8Array, want: number): number {
    this.log.push([offset, want]);
    return super.readAt(offset, into, want);
  }
}

/** Collects what the decoder writes. */
export class MemorySink implements TargetSink {
  private parts: Uint8Array[] = [];
  finished = false;
  write(data: Uint8Array): void {
    this.parts.push(data.slice());
  }
  finish(): void {
    this.finished = true;
  }
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts));
  }
}

export type Chunking = "whole" | "bytes" | { randomSeed: number; max: number };

async function* chunked(delta: Uint8Array, chunking: Chunking): AsyncGenerator<Uint8Array> {
  if (chunking === "whole") {
    yield delta;
  } else if (chunking === "bytes") {
    for (let i = 0; i < delta.length; i++) yield delta.subarray(i, i + 1);
  } else {
    const rng = new Rng(chunking.randomSeed);
    for (let i = 0; i < delta.length; ) {
      const n = 1 + rng.below(chunking.max);
      yield delta.subarray(i, i + n);
      i += n;
    }
  }
}

/** Decodes `delta` against `source` (in memory) and returns the target bytes. */
export async function decodeBuffers(
  delta: Uint8Array,
  source: Uint8Array,
  options: DecodeOptions & { chunking?: Chunking; blockSize?: number } = {},
): Promise<Uint8Array> {
  const sink = new MemorySink();
  await decodeVcdiff(chunked(delta, options.chunking ?? "whole"), new MemorySource(source, options.blockSize), sink, options);
  return sink.bytes();
}

/** The stock `xdelta3 -e` flag matrix (secondary compression is chosen by each test). */
export const XDELTA3_FLAG_MATRIX: string[][] = [
  [],
  ["-n"],
  ["-A="],
  ["-0"],
  ["-1"],
  ["-3"],
  ["-6"],
  ["-9"],
  ["-N"],
  ["-B", "134217728"],
  ["-W", "16384"],
  ["-W", "16777216"],
  ["-I", "0"],
  ["-P", "65536"],
];

export function assertSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `output differs (${actual.length} vs ${expected.length} bytes)`);
}

/** Windows of a delta and how many have at least one secondary-compressed section. */
export function countCompressedWindows(delta: Uint8Array): { windows: number; compressed: number } {
  const c = new ByteCursor(delta, 0, delta.length);
  const appHeaderLength = parseFileHeader(c).appHeaderLength;
  c.pos += appHeaderLength;
  let windows = 0;
  let compressed = 0;
  while (c.pos < delta.length) {
    const w = parseWindowHeader(c, { hasSecondary: true, maxWindowSize: 2 ** 26 });
    c.pos += w.dataLength + w.instLength + w.addrLength;
    windows++;
    if (w.deltaIndicator !== 0) compressed++;
  }
  return { windows, compressed };
}
