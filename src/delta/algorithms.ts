/**
 * The decoders of the delta algorithms the Update Module applies, by the id in meta-data
 * `delta_algorithm` (contract.ts). A further algorithm is one more entry here and one more id in
 * the contract; the device's install path picks the decoder through `deltaDecoder` only.
 */
import type { BlockSource, TargetSink } from "../io/interfaces";
import { decodeVcdiff } from "../vcdiff/decoder/decode";
import { ALGORITHM_IDS, type AlgorithmId } from "./contract";
import { decodeMbdf } from "./mbdf/decode";

/** What the device asks of any decoder: bounded memory and a report per verified piece of target. */
export interface DeltaDecodeOptions {
  /** Largest target window (or the algorithm's unit of output held in memory) accepted. */
  maxWindowSize?: number;
  /**
   * Called once before anything is written, with the delta's application header (for VCDIFF: a
   * read set, read-set.ts; for MBDF: its header's read_set, the same bytes), or undefined when it
   * has none. What it throws ends the decode.
   */
  onAppHeader?: (appHeader: Uint8Array | undefined) => void | Promise<void>;
  /** Called after each piece of target was verified and written. */
  onWindow?(info: { index: number; targetOffset: number; targetLength: number }): void;
  /**
   * The sha256 (hex) the caller itself checks the written image against (the device: the
   * Artifact's provided checksum, hashed as the partition is written). A decoder whose delta
   * declares its target's hash refuses a different one before writing anything, and need not hash
   * the image a second time.
   */
  targetChecksum?: string;
  /**
   * The bytes of the source the caller checked (the device: the prefix of the active partition it
   * hashed against the Artifact's depends). A decoder whose delta declares its source's size
   * refuses a different one before writing anything: a larger one could read bytes nobody checked.
   */
  sourceSize?: number;
}

export interface DeltaDecodeResult {
  targetBytes: number;
  /** Bytes read from the source. */
  sourceBytesRead: number;
}

/**
 * Decodes `delta` (any chunking), reading the source only through `source` (on the device, the
 * O_DIRECT reader of the active partition) and writing the target in order to `sink`.
 */
export type DeltaDecoder = (
  delta: AsyncIterable<Uint8Array>, source: BlockSource, sink: TargetSink, options: DeltaDecodeOptions,
) => Promise<DeltaDecodeResult>;

const DECODERS: Record<AlgorithmId, DeltaDecoder> = {
  [ALGORITHM_IDS.xdelta3]: decodeVcdiff,
  [ALGORITHM_IDS.mbdf1]: decodeMbdf,
};

/** The ids this program can apply, in the order messages list them. */
export const SUPPORTED_ALGORITHMS = Object.keys(DECODERS) as AlgorithmId[];

export function isSupportedAlgorithm(id: unknown): id is AlgorithmId {
  return typeof id === "string" && Object.hasOwn(DECODERS, id);
}

export function deltaDecoder(id: AlgorithmId): DeltaDecoder {
  return DECODERS[id];
}
