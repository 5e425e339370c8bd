/**
 * REDEFLATE records: the old compressed file (the old buffer) is inflated to the old content, a
 * LITERAL or APPROX body makes the new content from it, and the device compresses that again with
 * the named compressor, framing it as the old file was (gzip, zlib or raw deflate). Every field is
 * checked, and the compressor must be one this program carries, before the old buffer is read.
 */
import zlib from "node:zlib";
import { crc32, hex32 } from "../../compress/crc32";
import { adler32 } from "../../vcdiff/format/adler32";
import type { RecordContext, RecordResult } from "./context";
import { COMPRESSORS } from "./compressors";
import { applyDiff, readStreamLengths, readStreams } from "./execute-approx";
import { readFilter, readLiteralWhole } from "./execute-plain";
import { MAX_RECORD_BUFFER, OldFormat, RecordKind } from "./format";
import { RecordProblem } from "./problems";
import { readExtents, readOldBuffer } from "./source-ranges";

const TRAILER_BYTES: Record<number, number> = { [OldFormat.gzip]: 8, [OldFormat.zlib]: 4, [OldFormat.raw]: 0 };

/** The old content: `old` inflated as `format` says, exactly `length` bytes (never more held). */
function inflateOld(old: Uint8Array, format: number, length: number): Uint8Array {
  const options = { maxOutputLength: Math.max(1, length) };
  let content: Uint8Array;
  try {
    content =
      format === OldFormat.gzip ? zlib.gunzipSync(old, options) : format === OldFormat.zlib ? zlib.inflateSync(old, options) : zlib.inflateRawSync(old, options);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" ? `it inflates to more than ${length} bytes` : (err as Error).message;
    throw new RecordProblem(`the old compressed file does not inflate to its declared content: ${why}`, "source");
  }
  if (content.length !== length) {
    throw new RecordProblem(`the old compressed file inflates to ${content.length} bytes, the record declares ${length}`, "source");
  }
  return content;
}

function trailer(format: number, content: Uint8Array): Uint8Array {
  const t = new Uint8Array(TRAILER_BYTES[format]!);
  const view = new DataView(t.buffer);
  if (format === OldFormat.gzip) {
    view.setUint32(0, crc32(content), true);
    view.setUint32(4, content.length % 2 ** 32, true);
  } else if (format === OldFormat.zlib) {
    view.setUint32(0, adler32(content), false);
  }
  return t;
}

export async function executeRedeflate(ctx: RecordContext, length: number): Promise<RecordResult> {
  // No extents: a new file, whose content is a LITERAL body (checked below) and which has no old content.
  const { extents, total } = await readExtents(ctx, 0);
  const format = await ctx.input.byte("old_format");
  if (TRAILER_BYTES[format] === undefined) throw new RecordProblem(`unknown old_format ${format} (1 gzip, 2 zlib, 3 raw deflate)`, "unsupported");
  const oldContentLength = await ctx.input.varint("old_content_length");
  if (oldContentLength > MAX_RECORD_BUFFER) throw new RecordProblem(`an old content of ${oldContentLength} bytes, more than ${MAX_RECORD_BUFFER}`);
  if (extents.length === 0 && oldContentLength !== 0) throw new RecordProblem(`no extents, yet an old content of ${oldContentLength} bytes`);
  const compressor = await ctx.input.byte("compressor");
  const level = await ctx.input.byte("level");
  const entry = COMPRESSORS[compressor];
  if (!entry) throw new RecordProblem(`unknown compressor ${compressor}`, "unsupported");
  if (level < entry.min || level > entry.max) {
    throw new RecordProblem(`level ${level} for compressor ${compressor} (${entry.name}: ${entry.min} to ${entry.max})`);
  }
  const compress = entry.compress;
  const headerLength = await ctx.input.varint("header_length");
  if (headerLength + TRAILER_BYTES[format]! >= length) {
    throw new RecordProblem(`a ${headerLength}-byte header and the trailer leave no room for the deflate stream in ${length} bytes`);
  }
  const header = new Uint8Array(headerLength);
  await ctx.input.readExact(header, 0, headerLength, "the header bytes");

  // The content record: a LITERAL or APPROX body whose old buffer is the old content.
  const kind = await ctx.input.byte("the content record's kind");
  if (kind !== RecordKind.literal && kind !== RecordKind.approx) {
    throw new RecordProblem(`the content record is of kind ${kind}, it must be LITERAL (3) or APPROX (5)`);
  }
  if (kind === RecordKind.approx && extents.length === 0) throw new RecordProblem("an APPROX content record without extents: it has no old content to diff against");
  const contentLength = await ctx.input.varint("the content record's length");
  if (contentLength < 1 || contentLength > MAX_RECORD_BUFFER) {
    throw new RecordProblem(`the new content is ${contentLength} bytes, it must be 1 to ${MAX_RECORD_BUFFER}`);
  }
  let newContent: Uint8Array;
  if (kind === RecordKind.literal) {
    const filter = await readFilter(ctx, contentLength);
    newContent = await readLiteralWhole(ctx, contentLength, filter, "content");
  } else {
    const lengths = await readStreamLengths(ctx, contentLength);
    const oldContent = inflateOld(readOldBuffer(ctx, extents, total), format, oldContentLength);
    const content = ctx.buffers.take("content", contentLength);
    newContent = applyDiff(oldContent, await readStreams(ctx, lengths, content), content);
  }
  const contentCrc = await ctx.input.u32le("the content record's crc32");
  const actual = crc32(newContent);
  if (actual !== contentCrc) {
    throw new RecordProblem(
      `the new content has CRC-32 ${hex32(actual)}, the delta declares ${hex32(contentCrc)}`,
      kind === RecordKind.approx ? "source" : "delta",
    );
  }
  // The same content at the same settings makes the same stream: a file shipped under several names is compressed once.
  const rebuilt = ctx.buffers.rebuilt;
  const key = rebuilt.keyOf(compressor, level, newContent);
  let deflated = key === undefined ? undefined : rebuilt.find(key);
  if (!deflated) {
    deflated = compress(newContent, level, ctx.buffers.deflate);
    if (key !== undefined) rebuilt.keep(key, deflated, newContent.length);
  }
  const produced = headerLength + deflated.length + TRAILER_BYTES[format]!;
  if (produced !== length) {
    throw new RecordProblem(`the re-compressed file is ${produced} bytes, the record declares ${length}`, "unsupported");
  }
  const file = ctx.buffers.take("output", produced);
  file.set(header, 0);
  file.set(deflated, headerLength);
  file.set(trailer(format, newContent), headerLength + deflated.length);
  ctx.out.whole(file);
  return { sourceRead: kind === RecordKind.approx };
}
