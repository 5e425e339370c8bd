/**
 * Encodes target windows one at a time, in a worker or on the main thread: reads the window from
 * the target file, chooses its instructions, and returns the finished VCDIFF window bytes. Owns
 * all per-window buffers, reused from window to window.
 */
import fs from "node:fs";
import { InstructionList } from "./instruction-list";
import { WindowMatcher, type MatchParams, type WindowMatchStats } from "./match-window";
import { SourceIndex, type SourceIndexShared } from "./source-index";
import { WindowWriter } from "./window-writer";

export interface EncodedWindow {
  bytes: Uint8Array;
  stats: WindowMatchStats;
}

export class WindowEncoder {
  private readonly matcher: WindowMatcher;
  private readonly writer = new WindowWriter();
  private readonly list = new InstructionList(4096);
  private readonly buffer: Buffer;

  constructor(shared: SourceIndexShared, match: MatchParams, windowSize: number, private readonly checksum: boolean) {
    this.matcher = new WindowMatcher(new SourceIndex(shared), match, windowSize);
    // Own ArrayBuffer at offset 0: the matcher reads 32-bit words of it.
    this.buffer = Buffer.from(new ArrayBuffer(windowSize));
  }

  /** Encodes target bytes [start, start + length) of the open file `targetFd`. */
  encode(targetFd: number, start: number, length: number): EncodedWindow {
    const target = this.buffer.subarray(0, length);
    let got = 0;
    while (got < length) {
      const n = fs.readSync(targetFd, target, got, length - got, start + got);
      if (n === 0) throw new Error(`target file ended early at byte ${start + got} (it changed while being encoded?)`);
      got += n;
    }
    const stats = this.matcher.match(target, start, this.list);
    const bytes = this.writer.encode(target, this.list, this.checksum);
    return { bytes, stats };
  }
}
