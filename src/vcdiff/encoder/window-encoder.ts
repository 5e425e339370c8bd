/**
 * Encodes target windows one at a time, in a worker or on the main thread: reads the window from
 * the target file, chooses its instructions, and returns the finished VCDIFF window bytes. Owns
 * all per-window buffers, reused from window to window.
 */
import { readFullyAt } from "../../io/read-fully";
import { InstructionList } from "./instruction-list";
import { programStats, WindowMatcher, type MatchParams, type WindowMatchStats } from "./match-window";
import { SourceIndex, type SourceIndexShared } from "./source-index";
import { avoidCopies, collectReads, RangeBuilder } from "./source-ranges";
import { WindowWriter } from "./window-writer";

export interface EncodedWindow {
  bytes: Uint8Array;
  stats: WindowMatchStats;
  /** The source ranges the window's copies read ([start, end) pairs), when asked for. */
  reads?: Float64Array;
}

export interface SourceUse {
  /** Sorted, merged source byte ranges no copy may read (their bytes are blank in the index). */
  avoid: Float64Array;
  /** Report the ranges each window reads. */
  collectReads: boolean;
}

export class WindowEncoder {
  private readonly matcher: WindowMatcher;
  private readonly writer = new WindowWriter();
  private readonly list = new InstructionList(4096);
  private readonly trimmed = new InstructionList(4096);
  private readonly buffer: Buffer;

  constructor(
    shared: SourceIndexShared, match: MatchParams, windowSize: number, private readonly checksum: boolean,
    private readonly use: SourceUse = { avoid: new Float64Array(0), collectReads: false },
  ) {
    this.matcher = new WindowMatcher(new SourceIndex(shared), match, windowSize);
    // Own ArrayBuffer at offset 0: the matcher reads 32-bit words of it.
    this.buffer = Buffer.from(new ArrayBuffer(windowSize));
  }

  /** Encodes target bytes [start, start + length) of the open file `targetFd`. */
  encode(targetFd: number, start: number, length: number): EncodedWindow {
    const target = this.buffer.subarray(0, length);
    const got = readFullyAt(targetFd, target, start);
    if (got < length) throw new Error(`target file ended early at byte ${start + got} (it changed while being encoded?)`);
    let stats = this.matcher.match(target, start, this.list);
    const list = avoidCopies(this.list, this.use.avoid, this.trimmed);
    if (list !== this.list) stats = programStats(list);
    const bytes = this.writer.encode(target, list, this.checksum);
    if (!this.use.collectReads) return { bytes, stats };
    const reads = new RangeBuilder();
    collectReads(list, reads);
    return { bytes, stats, reads: reads.raw() };
  }
}
