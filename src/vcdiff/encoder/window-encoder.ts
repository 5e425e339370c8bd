/**
 * Encodes target windows one at a time, in a worker or on the main thread: reads the window from
 * the target file, chooses its instructions, and returns the finished VCDIFF window bytes. Owns
 * all per-window buffers, reused from window to window.
 */
import { readFullyAt } from "../../io/read-fully";
import { InstructionList } from "./instruction-list";
import { programStats, WindowMatcher, type MatchParams, type WindowMatchStats } from "./match-window";
import { SourceIndex, type SourceIndexShared } from "./source-index";
import { normalizeRanges } from "../../io/byte-ranges";
import { BLOCK_SIZE } from "./block-hash";
import { avoidCopies, collectReads, RangeBuilder, zeroStretches } from "./source-ranges";
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

/**
 * A copy over at least this many bytes of zero source blocks becomes a RUN there. Corpus A's
 * VCDIFF delta after xz -9 (raw): 5,260,552 bytes with none, 5,260,224 from 4 KiB, 5,258,856 from
 * 64 KiB, 5,259,144 from 1 MiB; 4 KiB and 64 KiB both leave 149 of 529 MB of source reads.
 */
const MIN_ZERO_RUN = 64 * 1024;

export class WindowEncoder {
  private readonly matcher: WindowMatcher;
  private readonly writer = new WindowWriter();
  private readonly list = new InstructionList(4096);
  private readonly trimmed = new InstructionList(4096);
  private readonly buffer: Buffer;
  /** Source ranges no copy reads (avoided, long zero stretches): made when the index is complete. */
  private runRanges: Float64Array | undefined;

  constructor(
    private readonly shared: SourceIndexShared, match: MatchParams, windowSize: number, private readonly checksum: boolean,
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
    // Exact: the loader blanked avoided bytes, and zero blocks are zero, so a copy there copied zeros.
    this.runRanges ??= this.makeRunRanges();
    const list = avoidCopies(this.list, this.runRanges, this.trimmed);
    if (list !== this.list) stats = programStats(list);
    const bytes = this.writer.encode(target, list, this.checksum);
    if (!this.use.collectReads) return { bytes, stats };
    const reads = new RangeBuilder();
    collectReads(list, reads);
    return { bytes, stats, reads: reads.raw() };
  }

  private makeRunRanges(): Float64Array {
    const zeros = zeroStretches(new Uint8Array(this.shared.zeroBlocks), BLOCK_SIZE, this.shared.sourceSize, MIN_ZERO_RUN);
    const all = new Float64Array(this.use.avoid.length + zeros.length);
    all.set(this.use.avoid);
    all.set(zeros, this.use.avoid.length);
    return normalizeRanges(all);
  }
}
