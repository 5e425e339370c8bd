/**
 * The VCDIFF file header and window headers (RFC 3284 §4.1-4.2 plus xdelta3's extensions:
 * application header, secondary compressor id, per-window Adler-32), with every check xdelta3 3.0.11
 * makes on them. Parsing is synchronous over a look-ahead buffer; a header never exceeds
 * MAX_WINDOW_HEADER bytes unless it is malformed.
 */
import { ByteCursor } from "../format/varint-reader";
import { varintLength } from "../format/varint";
import {
  MAGIC, SECONDARY_DJW, SECONDARY_FGK, SECONDARY_LZMA, VCD_ADDRCOMP, VCD_ADLER32, VCD_APPHEADER, VCD_CODETABLE,
  VCD_DATACOMP, VCD_DECOMPRESS, VCD_INSTCOMP, VCD_SOURCE, VCD_TARGET,
} from "../format/constants";

/** Longest well-formed window header: 8 integers of at most 10 bytes, two bytes and a checksum, rounded up. */
export const MAX_WINDOW_HEADER = 96;
/** Longest file header we parse from the look-ahead (magic, indicator, id, app header length). */
export const MAX_FILE_HEADER = 16;

/** A header check failed at byte `at` of the cursor's buffer. */
export class HeaderProblem extends Error {
  constructor(
    message: string,
    readonly at: number,
    readonly unsupported = false,
  ) {
    super(message);
  }
}

export interface FileHeader {
  /** 0 = none, else SECONDARY_DJW or SECONDARY_LZMA. */
  secondaryId: number;
  /** Bytes of application header that follow (to be skipped). */
  appHeaderLength: number;
}

export function parseFileHeader(c: ByteCursor): FileHeader {
  for (let i = 0; i < 3; i++) {
    if (c.byte() !== MAGIC[i]) throw new HeaderProblem("not a VCDIFF file (bad magic bytes, expected D6 C3 C4 00)", i);
  }
  const version = c.byte();
  if (version !== 0) throw new HeaderProblem(`unsupported VCDIFF version ${version} (only version 0, RFC 3284, exists)`, 3, true);
  const indicator = c.byte();
  if (indicator & ~(VCD_DECOMPRESS | VCD_CODETABLE | VCD_APPHEADER)) {
    throw new HeaderProblem(`unrecognized header indicator bits set (0x${indicator.toString(16)})`, 4);
  }
  let secondaryId = 0;
  if (indicator & VCD_DECOMPRESS) {
    const at = c.pos;
    secondaryId = c.byte();
    if (secondaryId === SECONDARY_FGK) {
      throw new HeaderProblem("FGK secondary compression (xdelta3 -S fgk) is not supported; use -S lzma, -S djw or -S none", at, true);
    }
    if (secondaryId !== SECONDARY_DJW && secondaryId !== SECONDARY_LZMA) {
      throw new HeaderProblem(`unknown secondary compressor id ${secondaryId} (known: 1 = DJW, 2 = LZMA)`, at, true);
    }
  }
  if (indicator & VCD_CODETABLE) {
    throw new HeaderProblem("application-defined code tables (VCD_CODETABLE) are not supported, like in xdelta3", 4, true);
  }
  const appHeaderLength = indicator & VCD_APPHEADER ? c.size() : 0;
  return { secondaryId, appHeaderLength };
}

export interface WindowHeader {
  /** VCD_SOURCE: COPY addresses below sourceLength read source[sourcePosition + addr]. */
  sourceLength: number;
  sourcePosition: number;
  targetLength: number;
  deltaIndicator: number;
  dataLength: number;
  instLength: number;
  addrLength: number;
  /** Expected Adler-32 of the target window, or -1 when the window carries none. */
  checksum: number;
}

/** Bounds the decoder enforces while parsing a window header. */
export interface WindowLimits {
  hasSecondary: boolean;
  maxWindowSize: number;
}

/**
 * The memory a window of `targetLength` bytes may use for its sections: the stored bytes plus what
 * secondary compression expands them to, together. Checked against the declared sizes before
 * anything is read, allocated or decompressed, so a damaged or hostile header cannot make a small
 * device allocate hundreds of MiB.
 *
 * What real deltas need: xdelta3 and our generator spend at most about 1 data byte, 1 instruction
 * byte and 1.25 address bytes per target byte, and compress a section only when that makes it
 * smaller, so incompressible new content is stored once (about 1x the window) and compressible
 * content is small when stored. Twice the window plus 1 MiB covers both with room to spare.
 */
export function sectionBudget(targetLength: number): number {
  return 2 * targetLength + (1 << 20);
}

const MAX_USIZE = 0xffffffff;

export function parseWindowHeader(c: ByteCursor, limits: WindowLimits): WindowHeader {
  const start = c.pos;
  const indicator = c.byte();
  if (indicator & ~(VCD_SOURCE | VCD_TARGET | VCD_ADLER32)) {
    throw new HeaderProblem(`unrecognized window indicator bits set (0x${indicator.toString(16)})`, start);
  }
  if ((indicator & VCD_SOURCE) && (indicator & VCD_TARGET)) {
    throw new HeaderProblem("window indicator has both VCD_SOURCE and VCD_TARGET set", start);
  }
  if (indicator & VCD_TARGET) {
    throw new HeaderProblem("VCD_TARGET windows (copies from earlier output) are not supported, like in xdelta3", start, true);
  }
  let sourceLength = 0;
  let sourcePosition = 0;
  if (indicator & VCD_SOURCE) {
    sourceLength = c.size();
    sourcePosition = c.offset();
  }
  const encLengthAt = c.pos;
  const encLength = c.size();
  const targetAt = c.pos;
  const targetLength = c.size();
  if (targetLength > limits.maxWindowSize) {
    throw new HeaderProblem(
      `target window of ${targetLength} bytes exceeds the limit of ${limits.maxWindowSize} bytes ` +
        `(the delta was made with a larger 'xdelta3 -W', or it is damaged; raise the window limit if this device has the memory)`,
      targetAt,
      true,
    );
  }
  if (sourceLength + targetLength > MAX_USIZE) {
    throw new HeaderProblem(`source segment length ${sourceLength} + target window length ${targetLength} overflows 32 bits`, targetAt);
  }
  const deltaAt = c.pos;
  const deltaIndicator = c.byte();
  if (deltaIndicator & ~(VCD_DATACOMP | VCD_INSTCOMP | VCD_ADDRCOMP)) {
    throw new HeaderProblem(`unrecognized delta indicator bits set (0x${deltaIndicator.toString(16)})`, deltaAt);
  }
  if (deltaIndicator !== 0 && !limits.hasSecondary) {
    throw new HeaderProblem("delta indicator marks compressed sections but the file header names no secondary compressor", deltaAt);
  }
  const dataLength = c.size();
  const instLength = c.size();
  const addrLength = c.size();
  let checksum = -1;
  if (indicator & VCD_ADLER32) {
    checksum = ((c.byte() << 24) >>> 0) + (c.byte() << 16) + (c.byte() << 8) + c.byte();
  }
  const expected =
    1 +
    varintLength(targetLength) +
    varintLength(dataLength) +
    varintLength(instLength) +
    varintLength(addrLength) +
    dataLength +
    instLength +
    addrLength +
    (checksum >= 0 ? 4 : 0);
  if (encLength !== expected) {
    throw new HeaderProblem(
      `length of the delta encoding is ${encLength} but its fields add up to ${expected} (non-minimal integer or damaged header)`,
      encLengthAt,
    );
  }
  const stored = dataLength + instLength + addrLength;
  if (stored > sectionBudget(targetLength)) {
    throw new HeaderProblem(
      `sections of ${stored} bytes are implausibly large for a ${targetLength}-byte window (at most ${sectionBudget(targetLength)})`,
      encLengthAt,
    );
  }
  return { sourceLength, sourcePosition, targetLength, deltaIndicator, dataLength, instLength, addrLength, checksum };
}
