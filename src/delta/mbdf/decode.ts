/**
 * The streaming MBDF decoder (docs/file-delta-format.md), a DeltaDecoder of the registry
 * (delta/algorithms.ts): the header is parsed and refused (magic, version, flags, sizes) before
 * anything is written, its read set handed to onAppHeader as VCDIFF's application header is; then
 * each record's fields are checked, its bytes produced, its CRC-32 compared, and only then (for
 * records up to 1 MiB) written, in order. END must come exactly at target_size and be the last
 * byte; the SHA-256 of everything written must be the header's.
 *
 * Memory: one record's buffers (an old buffer, an old and a new content, each at most 16 MiB), a
 * 1 MiB chunk and the source reader's one block, whatever the image size.
 */
import type { DeltaDecodeOptions, DeltaDecodeResult } from "../algorithms";
import { META } from "../contract";
import { MenderDeltaError } from "../../errors";
import { parseReadSetAppHeader } from "../../vcdiff/format/read-set";
import type { BlockSource, TargetSink } from "../../io/interfaces";
import { DecodeScratch } from "../../vcdiff/decoder/decode";
import { RecordBuffers } from "./record-buffers";
import type { RecordContext, RecordResult } from "./context";
import { executeApprox } from "./execute-approx";
import { executeExec } from "./execute-exec";
import { executeCopy, executeLiteral, executeZero } from "./execute-plain";
import { executeRedeflate } from "./execute-redeflate";
import { executeVcdiff } from "./execute-vcdiff";
import { CHUNK, KIND_NAMES, MAX_READ_SET, MBDF_FLAGS, MBDF_MAGIC, MBDF_VERSION, READ_BUDGET, RecordKind, SHA256_BYTES } from "./format";
import { MbdfInput } from "./input";
import { mbdfError, RecordProblem, type Spot } from "./problems";
import { RecordOutput } from "./record-output";
import { SourcePrefix } from "./source-view";

export interface MbdfDecodeResult extends DeltaDecodeResult {
  /** Records decoded, END not counted. */
  records: number;
  /** REDEFLATE records whose deflate stream an earlier record had made (the same content and settings). */
  streamsReused: number;
}

type Executor = (ctx: RecordContext, length: number) => Promise<RecordResult>;

const EXECUTORS: Partial<Record<number, Executor>> = {
  [RecordKind.zero]: executeZero,
  [RecordKind.copy]: executeCopy,
  [RecordKind.literal]: executeLiteral,
  [RecordKind.vcdiff]: executeVcdiff,
  [RecordKind.approx]: executeApprox,
  [RecordKind.redeflate]: executeRedeflate,
  [RecordKind.exec]: executeExec,
};

export interface MbdfHeaderFields {
  targetSize: number;
  sourceSize: number;
  /** hex */
  targetSha256: string;
  readSet: Uint8Array | undefined;
}

/** Reads the header; throws a RecordProblem for anything but an MBDF version 1 header. */
async function readHeader(input: MbdfInput): Promise<MbdfHeaderFields> {
  const magic = new Uint8Array(4);
  await input.readExact(magic, 0, 4, "the magic");
  if (!magic.every((b, i) => b === MBDF_MAGIC[i])) {
    throw new RecordProblem(`the delta starts ${Buffer.from(magic).toString("hex")}, not "MBDF" (4d424446): it is not an MBDF delta`);
  }
  const version = await input.byte("the version");
  if (version !== MBDF_VERSION) {
    throw new RecordProblem(
      `format version ${version}; this program reads version ${MBDF_VERSION} (a delta made by a newer generator?). Nothing was written`,
      "unsupported",
    );
  }
  const flags = await input.byte("the flags");
  if (flags !== MBDF_FLAGS) throw new RecordProblem(`flags ${flags}; version 1 defines none (0). Nothing was written`, "unsupported");
  const targetSize = await input.varint("target_size");
  if (targetSize < 1) throw new RecordProblem("target_size is 0: the delta makes no image");
  const sourceSize = await input.varint("source_size");
  const sha = new Uint8Array(SHA256_BYTES);
  await input.readExact(sha, 0, SHA256_BYTES, "target_sha256");
  const readSetLength = await input.varint("read_set_length");
  if (readSetLength > MAX_READ_SET) throw new RecordProblem(`a read set of ${readSetLength} bytes, more than the ${MAX_READ_SET} any delta needs`);
  let readSet: Uint8Array | undefined;
  if (readSetLength > 0) {
    readSet = new Uint8Array(readSetLength);
    await input.readExact(readSet, 0, readSetLength, "the read set");
  }
  return { targetSize, sourceSize, targetSha256: Buffer.from(sha).toString("hex"), readSet };
}

/**
 * A header's read_set must be a read set (docs/read-write-root.md) of a source_size-byte source,
 * whether or not this decode needs it: a read_set_length damaged from 0 to n would otherwise take
 * the first n bytes of records as the read set and write the records after them at the wrong
 * place (each passes its own CRC-32; only the whole image's SHA-256 would find it, after the write).
 */
function checkReadSet(readSet: Uint8Array, sourceSize: number): void {
  let set;
  try {
    set = parseReadSetAppHeader(readSet);
  } catch (err) {
    // The read set's own message, without VCDIFF's name for where it sits and the advice the
    // MBDF error adds itself.
    if (err instanceof MenderDeltaError) throw new RecordProblem(err.message.replace(" (application header)", "").replace(/; fetch or generate the delta again$/, ""));
    throw err;
  }
  if (set === undefined) throw new RecordProblem(`the header's ${readSet.length}-byte read_set is not a read set`);
  if (set.sourceSize !== sourceSize) {
    throw new RecordProblem(`the header's read set describes a ${set.sourceSize}-byte source, its source_size is ${sourceSize}`);
  }
}

export async function decodeMbdf(
  delta: AsyncIterable<Uint8Array>,
  source: BlockSource,
  sink: TargetSink,
  options: DeltaDecodeOptions = {},
): Promise<MbdfDecodeResult> {
  const input = new MbdfInput(delta);
  const spot: Spot = { index: "header", targetOffset: 0, deltaOffset: 0 };
  try {
    return await decodeFrom(input, source, sink, options, spot);
  } catch (err) {
    if (err instanceof RecordProblem) throw mbdfError(spot, err);
    throw err;
  } finally {
    await input.close();
  }
}

async function decodeFrom(input: MbdfInput, source: BlockSource, sink: TargetSink, options: DeltaDecodeOptions, spot: Spot): Promise<MbdfDecodeResult> {
  const header = await readHeader(input);
  if (source.size < header.sourceSize) {
    throw new RecordProblem(`the source has ${source.size} bytes, the delta was made from a ${header.sourceSize}-byte image`, "source");
  }
  // The caller checks the written image against this hash itself: the delta must be making that image.
  if (options.targetChecksum !== undefined && options.targetChecksum.toLowerCase() !== header.targetSha256) {
    throw new RecordProblem(`the delta's header makes an image of SHA-256 ${header.targetSha256}, the Artifact provides ${options.targetChecksum}: they belong together`);
  }
  if (options.sourceSize !== undefined && options.sourceSize !== header.sourceSize) {
    throw new RecordProblem(
      `the delta's header was made from a ${header.sourceSize}-byte source image, the Artifact's is ${options.sourceSize} bytes (${META.sourceSize}): they belong together`,
    );
  }
  if (header.readSet !== undefined) checkReadSet(header.readSet, header.sourceSize);
  await options.onAppHeader?.(header.readSet);

  const limited = new SourcePrefix(source, header.sourceSize);
  const out = new RecordOutput(sink, options.targetChecksum === undefined);
  const scratch = new DecodeScratch();
  const ctx: RecordContext = {
    input,
    source: limited,
    // One source reader for the records' own reads and the nested VCDIFF decodes' (the scratch's).
    sourceReader: scratch.sourceReader(limited),
    sourceSize: header.sourceSize,
    out,
    chunk: new Uint8Array(CHUNK),
    buffers: new RecordBuffers(),
    vcdiff: { maxWindowSize: options.maxWindowSize, scratch },
    readAllowance: 0,
  };
  let index = 0;
  let targetOffset = 0;
  for (;;) {
    spot.index = index;
    spot.targetOffset = targetOffset;
    spot.deltaOffset = input.offset;
    const kind = await input.byte(targetOffset === header.targetSize ? "END" : "the next record");
    if (kind === RecordKind.end) {
      if (targetOffset !== header.targetSize) {
        throw new RecordProblem(`END after ${targetOffset} bytes, the target is ${header.targetSize} bytes`);
      }
      spot.deltaOffset = input.offset;
      if (!(await input.atEnd())) throw new RecordProblem("bytes follow END");
      break;
    }
    const execute = EXECUTORS[kind];
    if (!execute) throw new RecordProblem(`unknown record kind ${kind}`, "unsupported");
    if (targetOffset === header.targetSize) {
      throw new RecordProblem(`a ${KIND_NAMES[kind]} record after all ${header.targetSize} target bytes (END expected)`);
    }
    const left = header.targetSize - targetOffset;
    const length = await input.varint(`the ${KIND_NAMES[kind]} record's length`);
    if (length < 1 || length > left) {
      throw new RecordProblem(`a ${KIND_NAMES[kind]} record of ${length} bytes; it must be 1 to the ${left} bytes of target left`);
    }
    out.begin(length);
    // The read budget up to this record's end, less what was read: the reader stops there.
    const bytesRead = ctx.sourceReader.bytesRead;
    ctx.readAllowance = READ_BUDGET.initial + READ_BUDGET.perTargetByte * (targetOffset + length) - bytesRead;
    ctx.sourceReader.readAllowance = ctx.readAllowance;
    const { sourceRead } = await execute(ctx, length);
    out.finish(await input.u32le("the record's crc32"), sourceRead);
    options.onWindow?.({ index, targetOffset, targetLength: length });
    index++;
    targetOffset += length;
  }
  const sha256 = out.sha256();
  if (sha256 !== undefined && sha256 !== header.targetSha256) {
    throw new RecordProblem(`the new image has SHA-256 ${sha256}, the delta's header declares ${header.targetSha256}`);
  }
  return {
    targetBytes: targetOffset,
    sourceBytesRead: ctx.sourceReader.bytesRead,
    records: index,
    streamsReused: ctx.buffers.rebuilt.reused,
  };
}
