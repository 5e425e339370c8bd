/**
 * The streaming VCDIFF decoder: delta bytes in (any chunking), source read in page-aligned runs of
 * at most one block, target windows written in order. Accepts everything stock `xdelta3 -e` (3.0.x)
 * produces: application header, VCD_ADLER32, LZMA and DJW secondary compression. Memory is one
 * target window, one window's sections (within sectionBudget), one block of source pages, the
 * queue of source copies and (with LZMA) three xz dictionaries; never the image. Source reads are
 * bounded too (readBudget).
 *
 * A window is written only after it was fully decoded and its checksum matched, so a failure leaves
 * the target with whole, verified windows only.
 */
import { hex32 } from "../../compress/crc32";
import { XzDecoder } from "../../compress/xz";
import type { BlockSource, TargetSink } from "../../io/interfaces";
import { AddressCache } from "../format/address-cache";
import { adler32, allocateChecksummed } from "../format/adler32";
import { DeltaInput } from "./delta-input";
import { corruptDelta, DeltaFormatError, sourceMismatch, unsupportedDelta } from "./errors";
import { ExecuteProblem, executeWindow } from "./execute";
import {
  HeaderProblem,
  MAX_FILE_HEADER,
  MAX_WINDOW_HEADER,
  parseFileHeader,
  parseWindowHeader,
  sectionBudget,
  type WindowHeader,
} from "./header";
import { VCD_ADDRCOMP, VCD_DATACOMP, VCD_INSTCOMP } from "../format/constants";
import { SecondaryDecoders, SecondaryProblem, SECTION_ADDR, SECTION_DATA, SECTION_INST, type StreamDecompressor } from "./secondary";
import { CopyBatch } from "./copy-batch";
import { ReadBudgetExceeded, SourceReader, SourceTooShort } from "./source-reader";
import { ByteCursor, VarintProblem } from "../format/varint-reader";

export interface DecodeOptions {
  /** Largest target window accepted, default 64 MiB (xdelta3 >= 3.1's limit; 3.0.x makes at most 16 MiB). */
  maxWindowSize?: number;
  /** Verify VCD_ADLER32 window checksums, default true. */
  verifyChecksums?: boolean;
  /**
   * Source bytes the decoder may read: `initial` plus `perTargetByte` for each target byte of the
   * windows begun so far (default 256 MiB + 16 per byte). Bounds the time a delta can take; a delta
   * that needs more is refused (a valid one only if its copies are scattered beyond all reason).
   */
  readBudget?: { initial: number; perTargetByte: number };
  /**
   * Called once, after the file header and before the first window is read or any byte written,
   * with the application header (xdelta3's file names, or a read set: format/read-set.ts), or undefined
   * when there is none. Decoding waits for it; what it throws ends the decode. Without it the
   * application header is skipped unread.
   */
  onAppHeader?: (appHeader: Uint8Array | undefined) => void | Promise<void>;
  /** Called after each window was verified and written. */
  onWindow?(info: { index: number; targetOffset: number; targetLength: number }): void;
  /** Buffers and the source reader kept from the caller's previous decodes (DecodeScratch). */
  scratch?: DecodeScratch;
}

/**
 * What one caller's successive decodes share: the window and section buffers and the source reader.
 * The file-aware format nests a VCDIFF delta in each of its VCDIFF records, hundreds per image;
 * fresh buffers for each would pile up as garbage faster than it is collected, so the device's
 * memory would be that of many decodes instead of one.
 */
export class DecodeScratch {
  target = new Uint8Array(0);
  section = new Uint8Array(0);
  private reader: SourceReader | undefined;
  private readerSource: BlockSource | undefined;

  /** The reader of `source` (the one kept while the source is the same). */
  sourceReader(source: BlockSource): SourceReader {
    if (!this.reader || this.readerSource !== source) {
      this.reader = new SourceReader(source);
      this.readerSource = source;
    }
    return this.reader;
  }
}

export interface DecodeResult {
  windows: number;
  targetBytes: number;
  /** Bytes read from the source (the pages of its runs). */
  sourceBytesRead: number;
}

export const DEFAULT_MAX_WINDOW_SIZE = 64 * 1024 * 1024;
export const DEFAULT_READ_BUDGET = { initial: 256 * 1024 * 1024, perTargetByte: 16 };
/** Largest application header read into memory for onAppHeader (a read set of a huge image is a few MiB). */
export const MAX_APP_HEADER = 64 * 1024 * 1024;
/**
 * Largest LZMA dictionary accepted from an xz block header. xdelta3 takes it from its compression
 * level (256 KiB at its default level, 8 MiB at -6); each of the three section streams grows its
 * dictionary up to the declared size as output accumulates, so the limit is memory, three times.
 */
const MAX_LZMA_DICTIONARY = 8 * 1024 * 1024;

function createLzma(): StreamDecompressor {
  return new XzDecoder({ maxDictionarySize: MAX_LZMA_DICTIONARY });
}

export async function decodeVcdiff(
  delta: AsyncIterable<Uint8Array>,
  source: BlockSource,
  target: TargetSink,
  options: DecodeOptions = {},
): Promise<DecodeResult> {
  const input = new DeltaInput(delta);
  try {
    return await decodeFrom(input, source, target, options);
  } finally {
    await input.close();
  }
}

async function decodeFrom(input: DeltaInput, source: BlockSource, target: TargetSink, options: DecodeOptions): Promise<DecodeResult> {
  const maxWindowSize = options.maxWindowSize ?? DEFAULT_MAX_WINDOW_SIZE;
  const verify = options.verifyChecksums ?? true;
  const readBudget = options.readBudget ?? DEFAULT_READ_BUDGET;

  // File header.
  const head = await input.peek(MAX_FILE_HEADER);
  const hc = new ByteCursor(head, 0, head.length);
  let fileHeader;
  try {
    fileHeader = parseFileHeader(hc);
  } catch (err) {
    throw headerError(err, "the file header", input.offset, head.length < MAX_FILE_HEADER);
  }
  input.consume(hc.pos);
  if (options.onAppHeader) {
    await options.onAppHeader(await readAppHeader(input, fileHeader.appHeaderLength));
  } else if (fileHeader.appHeaderLength > 0) {
    // xdelta3 stores file names and compressor hints here; they do not affect decoding.
    const skipped = await input.skip(fileHeader.appHeaderLength);
    if (skipped < fileHeader.appHeaderLength) {
      throw corruptDelta(`delta byte ${input.offset}`, "the delta ends inside the application header (truncated)");
    }
  }

  const secondary =
    fileHeader.secondaryId === 0
      ? null
      : new SecondaryDecoders(fileHeader.secondaryId, createLzma);
  const limits = { hasSecondary: secondary !== null, maxWindowSize };
  const scratch = options.scratch;
  const sourceReader = scratch ? scratch.sourceReader(source) : new SourceReader(source);
  const sourceBytesAtStart = sourceReader.bytesRead;
  sourceReader.readAllowance = readBudget.initial;
  const copies = new CopyBatch(sourceReader);
  const addressCache = new AddressCache();
  let targetBuffer = scratch?.target ?? new Uint8Array(0);
  let sectionBuffer = scratch?.section ?? new Uint8Array(0);
  let index = 0;
  let targetOffset = 0;

  for (;;) {
    const view = await input.peek(MAX_WINDOW_HEADER);
    if (view.length === 0) break;
    const windowAt = input.offset;
    const where = `window ${index} (delta byte ${windowAt}, target byte ${targetOffset})`;
    const wc = new ByteCursor(view, 0, view.length);
    let header: WindowHeader;
    try {
      header = parseWindowHeader(wc, limits);
    } catch (err) {
      throw headerError(err, `the header of window ${index}`, windowAt, view.length < MAX_WINDOW_HEADER);
    }
    input.consume(wc.pos);

    const { dataLength, instLength, addrLength, targetLength } = header;
    const stored = dataLength + instLength + addrLength;
    // What the sections may take, stored and decoded together (checked against the header's sizes
    // before anything is allocated or decompressed).
    const budget = sectionBudget(targetLength);
    if (sectionBuffer.length < stored) {
      sectionBuffer = new Uint8Array(Math.max(stored, Math.min(budget, sectionBuffer.length * 2)));
      if (scratch) scratch.section = sectionBuffer;
    }
    const sectionsAt = input.offset;
    const got = await input.readInto(sectionBuffer, 0, stored);
    if (got < stored) {
      throw corruptDelta(`${where}`, `the delta ends ${stored - got} bytes before the end of this window's sections (truncated)`);
    }
    let data: Uint8Array = sectionBuffer.subarray(0, dataLength);
    let inst: Uint8Array = sectionBuffer.subarray(dataLength, dataLength + instLength);
    let addr: Uint8Array = sectionBuffer.subarray(dataLength + instLength, stored);
    const compressed = header.deltaIndicator;
    if (secondary !== null && compressed !== 0) {
      const sectionStarts = [sectionsAt, sectionsAt + dataLength, sectionsAt + dataLength + instLength];
      try {
        // Each decoded section may take what the stored sections and the sections decoded before
        // it left of the budget; data can never be more than the window it fills.
        let left = budget - stored;
        if (compressed & VCD_DATACOMP) {
          data = secondary.decode(SECTION_DATA, data, Math.min(left, targetLength));
          left -= data.length;
        }
        if (compressed & VCD_INSTCOMP) {
          inst = secondary.decode(SECTION_INST, inst, left);
          left -= inst.length;
        }
        if (compressed & VCD_ADDRCOMP) addr = secondary.decode(SECTION_ADDR, addr, left);
      } catch (err) {
        if (err instanceof SecondaryProblem) {
          throw corruptDelta(`${where}, delta byte ${sectionStarts[err.section]! + err.at}`, err.message);
        }
        throw err;
      }
    }

    if (targetBuffer.length < targetLength) {
      // Summed whole after every window: in place, not copied into the checksum's wasm memory.
      targetBuffer = allocateChecksummed(Math.max(targetLength, Math.min(maxWindowSize, targetBuffer.length * 2)));
      if (scratch) scratch.target = targetBuffer;
    }
    sourceReader.readAllowance += readBudget.perTargetByte * targetLength;
    const sourceBytesBefore = copies.sourceBytes;
    try {
      executeWindow(header, targetBuffer, data, inst, addr, addressCache, header.sourceLength > 0 ? copies : null);
      copies.flush(targetBuffer);
    } catch (err) {
      copies.clear();
      if (err instanceof ExecuteProblem) {
        const isCompressed =
          compressed & (err.section === "data" ? VCD_DATACOMP : err.section === "instruction" ? VCD_INSTCOMP : VCD_ADDRCOMP);
        const sectionBase =
          sectionsAt + (err.section === "data" ? 0 : err.section === "instruction" ? dataLength : dataLength + instLength);
        const spot = isCompressed
          ? `byte ${err.sectionOffset} of the decompressed ${err.section} section`
          : `delta byte ${sectionBase + err.sectionOffset}`;
        throw corruptDelta(`${where}, ${spot}, target byte ${targetOffset + err.targetOffset}`, err.message);
      }
      if (err instanceof SourceTooShort) {
        throw sourceMismatch(
          where,
          `source too short (the delta reads source byte ${err.position}, the source has ${err.sourceSize} bytes)`,
        );
      }
      if (err instanceof ReadBudgetExceeded) {
        throw tooManySourceReads(where, err.bytesRead, targetOffset + targetLength, readBudget);
      }
      throw err;
    }

    if (verify && header.checksum >= 0) {
      const actual = adler32(targetBuffer, 0, targetLength);
      if (actual !== header.checksum) {
        const what = `target window checksum mismatch (Adler-32 ${hex32(actual)}, the delta expects ${hex32(header.checksum)})`;
        // A window built from the delta's own bytes alone does not depend on the source: if it
        // comes out wrong, the delta is damaged, whatever the source holds.
        if (copies.sourceBytes === sourceBytesBefore) {
          throw corruptDelta(where, `${what} in a window that copies nothing from the source`);
        }
        throw sourceMismatch(where, what);
      }
    }
    target.write(targetBuffer.subarray(0, targetLength));
    options.onWindow?.({ index, targetOffset, targetLength });
    index++;
    targetOffset += targetLength;
  }
  if (index === 0) {
    throw corruptDelta(`delta byte ${input.offset}`, "the delta has a header but no window (nothing to output; truncated?)");
  }
  return { windows: index, targetBytes: targetOffset, sourceBytesRead: sourceReader.bytesRead - sourceBytesAtStart };
}

/** The application header's bytes (undefined when there is none), within MAX_APP_HEADER. */
async function readAppHeader(input: DeltaInput, length: number): Promise<Uint8Array | undefined> {
  if (length === 0) return undefined;
  if (length > MAX_APP_HEADER) {
    throw corruptDelta(
      `delta byte ${input.offset}`,
      `the application header claims ${length} bytes, more than the ${MAX_APP_HEADER} any delta needs`,
    );
  }
  const appHeader = new Uint8Array(length);
  const got = await input.readInto(appHeader, 0, length);
  if (got < length) throw corruptDelta(`delta byte ${input.offset}`, "the delta ends inside the application header (truncated)");
  return appHeader;
}

/** The delta would make the decoder read the source over and over (copies scattered beyond reason). */
function tooManySourceReads(
  where: string,
  bytesRead: number,
  targetBytes: number,
  budget: { initial: number; perTargetByte: number },
): DeltaFormatError {
  return new DeltaFormatError(
    `refusing the delta at ${where}: its copies are scattered so widely that it has read ${bytesRead} bytes of the source ` +
      `for the first ${targetBytes} bytes of output, more than the limit of ${budget.perTargetByte} bytes per output byte plus ${budget.initial}. ` +
      `Deltas made by xdelta3 or mender-binary-delta-generator stay far below this: make the delta again, or use a full rootfs Artifact`,
  );
}

/** Turns a header parse failure into an error naming the spot. */
function headerError(err: unknown, what: string, base: number, shortRead: boolean): unknown {
  if (err instanceof VarintProblem) {
    const where = `${what}, delta byte ${base + err.at}`;
    if (err.kind === "truncated" && shortRead) return corruptDelta(where, "the delta ends inside this header (truncated)");
    return corruptDelta(where, err.kind === "overflow" ? "integer overflow" : "integer longer than any valid header field");
  }
  if (err instanceof HeaderProblem) {
    const where = `${what}, delta byte ${base + err.at}`;
    return err.unsupported ? unsupportedDelta(where, err.message) : corruptDelta(where, err.message);
  }
  return err;
}
