/**
 * The untrusted parsers as fuzz targets (VCDIFF, xz, Artifacts, MBDF, ext4 images). Each runs one input and returns how much output it
 * produced; it throws a PropertyViolation when the target broke a property the harness checks
 * besides "only typed errors": output beyond what the input declared, or (xz) an accepted input
 * that the reference tool decodes differently.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { readArtifact } from "../../src/artifact/reader";
import { XzDecoder } from "../../src/compress/xz";
import { decodeMbdf } from "../../src/delta/mbdf/decode";
import { Ext4FileReader, filesOwning, HOLE, listExt4Files, readExt4Layout, volatileRanges } from "../../src/fs/ext4";
import type { TargetSink } from "../../src/io/interfaces";
import { decodeVcdiff } from "../../src/vcdiff/decoder/decode";
import { ByteCursor, VarintProblem } from "../../src/vcdiff/format/varint-reader";
import { MemorySource, Rng } from "../vcdiff/helpers";

export const TARGET_NAMES = ["vcdiff", "xz", "artifact", "mbdf", "ext4"] as const;
/** "harness-check" misbehaves on purpose (first byte 1: hang, 2: TypeError, 3: over-long output) to prove the harness sees it. */
export type TargetName = (typeof TARGET_NAMES)[number] | "harness-check";

/** Largest VCDIFF target window the fuzzed decoder accepts (the seeds use 16-64 KiB windows). */
export const FUZZ_MAX_WINDOW = 4 << 20;

/** A broken property that is not an exception of the target itself. */
export class PropertyViolation extends Error {}

export interface TargetContext {
  /** The source image all VCDIFF (or MBDF) seeds were made against. */
  source?: Uint8Array;
  /** A private scratch directory (the Artifact reader reads files). */
  scratch: string;
  /** PEM key some Artifact inputs are read with (signature path). */
  verifyKey?: string;
  /** Compare accepted xz inputs with `xz -dc` (spawns a process, only on success). */
  xzOracle?: boolean;
}

export interface Outcome {
  /** Bytes the target handed to its consumer. */
  output: number;
}

export function runTarget(name: TargetName, input: Uint8Array, index: number, ctx: TargetContext): Promise<Outcome> {
  switch (name) {
    case "vcdiff":
      return runVcdiff(input, index, ctx);
    case "xz":
      return Promise.resolve(runXz(input, index, ctx));
    case "artifact":
      return runArtifact(input, index, ctx);
    case "mbdf":
      return runMbdf(input, index, ctx);
    case "ext4":
      return Promise.resolve(runExt4(input));
    case "harness-check":
      return Promise.resolve(misbehave(input));
  }
}

/** The delta in chunks of varying size (the device reads it from a pipe). */
async function* pieces(input: Uint8Array, rng: Rng): AsyncGenerator<Uint8Array> {
  const max = rng.below(2) === 0 ? input.length : 1 + rng.below(4096);
  for (let at = 0; at < input.length; ) {
    const n = Math.max(1, Math.min(max, 1 + rng.below(max)));
    yield input.subarray(at, at + n);
    at += n;
  }
}

/**
 * Every write the decoder makes must be exactly the window the header declared (the decoder
 * reports it through onWindow right after the write): never more than declared, never over the
 * window limit.
 */
async function runVcdiff(input: Uint8Array, index: number, ctx: TargetContext): Promise<Outcome> {
  let total = 0;
  let lastWrite = -1;
  const sink: TargetSink = {
    write(data) {
      if (lastWrite !== -1) throw new PropertyViolation("decoder wrote twice without reporting a window");
      if (data.length > FUZZ_MAX_WINDOW) throw new PropertyViolation(`decoder wrote ${data.length} bytes, more than the window limit ${FUZZ_MAX_WINDOW}`);
      lastWrite = data.length;
      total += data.length;
    },
    finish() {},
  };
  const result = await decodeVcdiff(pieces(input, new Rng(index + 1)), new MemorySource(ctx.source ?? new Uint8Array(0)), sink, {
    maxWindowSize: FUZZ_MAX_WINDOW,
    // Without the Adler-32 check a damaged window is written and decoding goes on: later windows
    // (and the output bound) get exercised too.
    verifyChecksums: index % 2 === 0,
    onWindow({ index: w, targetLength }) {
      if (lastWrite !== targetLength) {
        throw new PropertyViolation(`window ${w} declares ${targetLength} target bytes but the decoder wrote ${lastWrite}`);
      }
      lastWrite = -1;
    },
  });
  if (lastWrite !== -1) throw new PropertyViolation("the last write was not reported as a window");
  if (result.targetBytes !== total) throw new PropertyViolation(`decoder reports ${result.targetBytes} target bytes, wrote ${total}`);
  return { output: total };
}

/** The target_size an MBDF header declares (after magic, version and flags), or -1 when it has none. */
function declaredTargetSize(input: Uint8Array): number {
  try {
    return new ByteCursor(input, 6, input.length).offset();
  } catch (err) {
    if (err instanceof VarintProblem) return -1;
    throw err;
  }
}

/**
 * An MBDF decoder never writes more than its header's target_size (whatever the records claim),
 * and reports as many target bytes as it wrote.
 */
async function runMbdf(input: Uint8Array, index: number, ctx: TargetContext): Promise<Outcome> {
  const declared = declaredTargetSize(input);
  let total = 0;
  const sink: TargetSink = {
    write(data) {
      total += data.length;
      if (total > declared) throw new PropertyViolation(`decoder wrote ${total} bytes, the header declares ${declared}`);
    },
    finish() {},
  };
  const result = await decodeMbdf(pieces(input, new Rng(index + 1)), new MemorySource(ctx.source ?? new Uint8Array(0)), sink, {
    maxWindowSize: FUZZ_MAX_WINDOW,
  });
  if (result.targetBytes !== total) throw new PropertyViolation(`decoder reports ${result.targetBytes} target bytes, wrote ${total}`);
  return { output: total };
}

/** Files larger than this are listed but not read (the planner reads none above 16 MiB either). */
const EXT4_READ_LIMIT = 1 << 20;

/**
 * An image as the generator reads FROM and TO (the superblock and group descriptors, every file's
 * names and pieces, the content of each file, the ranges a read-write root rewrites) and as the
 * device names the owners of changed blocks. Each file's pieces must cover exactly [0, size) in
 * order, and its content must arrive as exactly `size` bytes.
 */
function runExt4(input: Uint8Array): Outcome {
  const src = new MemorySource(input);
  const layout = readExt4Layout(src);
  if (!layout) return { output: 0 };
  volatileRanges(src, layout);
  filesOwning(src, layout, [[0, input.length]], 8);
  const files = listExt4Files(src, layout);
  const reader = new Ext4FileReader(src, files);
  let total = 0;
  for (let i = 0; i < files.count; i++) {
    const size = files.size[i]!;
    let end = 0;
    for (let p = files.pieceStart[i]!; p < files.pieceStart[i + 1]!; p++) {
      const [at, image, length] = [files.pieces[3 * p]!, files.pieces[3 * p + 1]!, files.pieces[3 * p + 2]!];
      if (at !== end || length <= 0) throw new PropertyViolation(`file ${i}: piece ${p} covers [${at}, +${length}), the file so far ends at ${end}`);
      if (image !== HOLE && (image < 0 || image + length > input.length)) throw new PropertyViolation(`file ${i}: piece ${p} lies at [${image}, +${length}), outside the ${input.length}-byte image`);
      end = at + length;
    }
    if (end !== size) throw new PropertyViolation(`file ${i}: its pieces end at ${end}, its size is ${size}`);
    if (size > EXT4_READ_LIMIT) continue;
    let got = 0;
    reader.forEachChunk(i, (chunk) => void (got += chunk.length));
    reader.contentDigest(i);
    if (got !== size) throw new PropertyViolation(`file ${i}: ${got} bytes read, its size is ${size}`);
    total += got;
  }
  return { output: total };
}

/** LZMA2 chunks declare at most 2 MiB each and take at least 3 bytes of header: output can never exceed this. */
function xzOutputBound(inputLength: number): number {
  return (Math.floor(inputLength / 3) + 1) * (2 << 20);
}

function runXz(input: Uint8Array, index: number, ctx: TargetContext): Outcome {
  const rng = new Rng(index + 1);
  const decoder = new XzDecoder();
  const bound = xzOutputBound(input.length);
  const out = new Uint8Array(1 + rng.below(65536));
  const kept: Uint8Array[] = [];
  let total = 0;
  const drain = (): void => {
    for (;;) {
      const n = decoder.readInto(out, 0, out.length);
      total += n;
      if (total > bound) throw new PropertyViolation(`xz decoder produced ${total} bytes from ${input.length} input bytes (bound ${bound})`);
      if (ctx.xzOracle) kept.push(out.slice(0, n));
      if (n < out.length) return;
    }
  };
  const step = rng.below(2) === 0 ? input.length : 1 + rng.below(2048);
  for (let at = 0; at < input.length; at += step) {
    decoder.push(input.subarray(at, at + step));
    drain();
  }
  drain();
  decoder.end();
  if (ctx.xzOracle) {
    const ref = spawnSync("xz", ["-dc"], { input, maxBuffer: 64 << 20 });
    const ours = Buffer.concat(kept);
    if (ref.status !== 0) throw new PropertyViolation(`our decoder accepted an input that xz rejects: ${String(ref.stderr).trim()}`);
    if (!ours.equals(ref.stdout)) throw new PropertyViolation(`our decoder output (${ours.length} bytes) differs from xz -dc (${ref.stdout.length} bytes)`);
  }
  return { output: total };
}

/** Every payload file may deliver at most the size its tar header declares. */
async function runArtifact(input: Uint8Array, index: number, ctx: TargetContext): Promise<Outcome> {
  const file = path.join(ctx.scratch, "input.mender");
  writeFileSync(file, input);
  let total = 0;
  const info = await readArtifact(file, {
    verifyKey: ctx.verifyKey !== undefined && index % 4 === 0 ? ctx.verifyKey : undefined,
    onPayloadFile(f) {
      let received = 0;
      return {
        write(chunk: Uint8Array) {
          received += chunk.length;
          total += chunk.length;
          if (received > f.size) throw new PropertyViolation(`payload file '${f.name}' delivered ${received} bytes, its header declares ${f.size}`);
        },
        end() {
          if (received !== f.size) throw new PropertyViolation(`payload file '${f.name}' delivered ${received} bytes, its header declares ${f.size}`);
        },
      };
    },
  });
  const declared = info.payloadFiles.reduce((s, f) => s + f.size, 0);
  if (declared !== total) throw new PropertyViolation(`payload files declare ${declared} bytes, the sinks received ${total}`);
  return { output: total };
}

function misbehave(input: Uint8Array): Outcome {
  if (input[0] === 1) for (;;);
  if (input[0] === 2) (null as unknown as { x: number }).x++;
  if (input[0] === 3) throw new PropertyViolation("declared 1 byte, produced 2");
  return { output: 0 };
}
