/**
 * Runs of filesystem blocks collected in any order and returned sorted and merged, plus the byte
 * ranges the rest of the program speaks. A filesystem has few runs of metadata but possibly many of
 * free space, so the runs live in growable typed arrays rather than an array of tuples.
 */

import type { ByteRange } from "../io/byte-ranges";

export class BlockRuns {
  private starts = new Float64Array(64);
  private ends = new Float64Array(64);
  private count = 0;

  /** Adds blocks [start, end). Extends the last run when the new one continues it (the common case). */
  add(start: number, end: number): void {
    if (end <= start) return;
    const last = this.count - 1;
    if (last >= 0 && this.ends[last] === start) {
      this.ends[last] = end;
      return;
    }
    if (this.count === this.starts.length) {
      const starts = new Float64Array(this.count * 2);
      const ends = new Float64Array(this.count * 2);
      starts.set(this.starts);
      ends.set(this.ends);
      this.starts = starts;
      this.ends = ends;
    }
    this.starts[this.count] = start;
    this.ends[this.count] = end;
    this.count++;
  }

  /** The runs sorted by start, overlapping and touching runs merged, as flat [start, end, ...]. */
  merged(): Float64Array {
    const order = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) order[i] = i;
    order.sort((a, b) => this.starts[a]! - this.starts[b]!);
    const out = new Float64Array(this.count * 2);
    let n = 0;
    for (const i of order) {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      if (n > 0 && s <= out[n - 1]!) {
        if (e > out[n - 1]!) out[n - 1] = e;
      } else {
        out[n++] = s;
        out[n++] = e;
      }
    }
    return out.subarray(0, n);
  }

  /** The merged runs as byte ranges, for blocks of `blockSize` bytes. */
  byteRanges(blockSize: number): ByteRange[] {
    const runs = this.merged();
    const out: ByteRange[] = [];
    for (let i = 0; i < runs.length; i += 2) out.push([runs[i]! * blockSize, runs[i + 1]! * blockSize]);
    return out;
  }
}
