/** What every record executor works with: the delta, the source, the record's output and the limits. */
import type { BlockSource } from "../../io/interfaces";
import type { SourceReader } from "../../vcdiff/decoder/source-reader";
import type { DecodeScratch } from "../../vcdiff/decoder/decode";
import type { RecordBuffers } from "./record-buffers";
import type { MbdfInput } from "./input";
import type { RecordOutput } from "./record-output";

export interface RecordContext {
  input: MbdfInput;
  /** The source's first source_size bytes, for nested decoders. */
  source: BlockSource;
  /** Byte-range reads of `source` in page runs (the decoder's own reads). */
  sourceReader: SourceReader;
  sourceSize: number;
  out: RecordOutput;
  /** A CHUNK-sized scratch buffer, reused by every record. */
  chunk: Uint8Array;
  /** The records' shared buffers (record-buffers.ts). */
  buffers: RecordBuffers;
  /** Options for a nested VCDIFF decoder. */
  vcdiff: { maxWindowSize?: number; scratch: DecodeScratch };
  /** Source bytes the current record may still read (the decoder's read budget, decode.ts). */
  readAllowance: number;
}

/** What an executor reports: whether the record's bytes depend on the source (for CRC blame). */
export interface RecordResult {
  sourceRead: boolean;
}
