/**
 * Shared by the MBDF tests: decoding a delta from memory with a chosen chunking, a sink that
 * records every write (to show what a refused delta left behind), and a small delta with every
 * kind of record that the hostile-input tests damage.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MenderDeltaError } from "../../src/errors";
import { decodeMbdf, type MbdfDecodeResult } from "../../src/delta/mbdf/decode";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import type { TargetSink } from "../../src/io/interfaces";
import { MemorySource, Rng } from "../vcdiff/helpers";

export { MemorySource, Rng };

/** Records each write as it came (copied: the decoder reuses its buffers). */
export class RecordingSink implements TargetSink {
  readonly writes: Uint8Array[] = [];
  bytesWritten = 0;
  write(data: Uint8Array): void {
    this.writes.push(data.slice());
    this.bytesWritten += data.length;
  }
  finish(): void {}
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.writes));
  }
}

export async function* inChunks(delta: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < delta.length; i += size) yield delta.subarray(i, i + size);
}

export async function decode(
  delta: Uint8Array,
  source: Uint8Array,
  chunk = delta.length || 1,
): Promise<{ target: Uint8Array; result: MbdfDecodeResult; sink: RecordingSink }> {
  const sink = new RecordingSink();
  const result = await decodeMbdf(inChunks(delta, chunk), new MemorySource(source), sink, {});
  return { target: sink.bytes(), result, sink };
}

/** Decodes and returns the error (the test fails if there is none, or it is not one line) and what was written. */
export async function refused(delta: Uint8Array, source: Uint8Array, chunk = 1 << 20): Promise<{ err: MenderDeltaError; sink: RecordingSink }> {
  const sink = new RecordingSink();
  try {
    await decodeMbdf(inChunks(delta, chunk), new MemorySource(source), sink, {});
  } catch (err) {
    if (!(err instanceof MenderDeltaError)) throw err;
    assert.equal(err.message.split("\n").length, 1, "one line");
    return { err, sink };
  }
  assert.fail("the delta was accepted");
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Decodes `count` seeded mutations of `delta` (1 to 3 bytes each: a flipped bit or a random byte,
 * three in four of them in the first `fieldsEnd` bytes, where a record's fields are), each made
 * from the unchanged delta: each must make exactly `target` or be refused with a MenderDeltaError
 * before anything is written, or after writing exactly `target` when only what follows the record
 * was hit or the header lied about the whole (its target_sha256, refused by the whole-image check;
 * its target_size, refused when END comes before it). `delta` must be one record and END.
 */
export async function mutationsMakeExactOrNothing(delta: Uint8Array, source: Uint8Array, target: Uint8Array, fieldsEnd: number, count: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  for (let i = 0; i < count; i++) {
    // A copy whatever `delta` is: a Buffer's slice() would be a view, and the mutations would pile up in `delta`.
    const bad = Uint8Array.from(delta);
    for (let k = 1 + (rng.next() % 3); k > 0; k--) {
      const at = rng.next() % 4 === 0 ? rng.next() % bad.length : rng.next() % fieldsEnd;
      bad[at] = rng.next() % 2 === 0 ? bad[at]! ^ (1 << rng.next() % 8) : rng.next() & 0xff;
    }
    const sink = new RecordingSink();
    try {
      await decodeMbdf(inChunks(bad, 4096), new MemorySource(source), sink, {});
      assert.ok(Buffer.from(sink.bytes()).equals(Buffer.from(target)), `mutation ${i} was accepted with other bytes`);
    } catch (err) {
      if (!(err instanceof MenderDeltaError)) throw err;
      if (sink.bytesWritten === 0) continue;
      // Written, then refused: only the whole record, exactly, may be written.
      assert.ok(Buffer.from(sink.bytes()).equals(Buffer.from(target)), `mutation ${i}: other bytes written before "${err.message}"`);
    }
  }
}

/** Concatenates the pieces a test's records produce. */
export function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * A small delta with one record of each kind the decoder makes from the delta and the source alone
 * (ZERO, COPY, LITERAL plain and filtered, APPROX), and where each record ends in the target.
 */
export function smallDelta(): { delta: Uint8Array; source: Uint8Array; target: Uint8Array; recordEnds: number[] } {
  const rng = new Rng(11);
  const source = rng.bytes(3000);
  const changed = source.slice(1000, 1600);
  for (let i = 0; i < changed.length; i += 50) changed[i] = changed[i]! ^ 0x21;
  const pieces = [new Uint8Array(40), source.slice(100, 300), rng.bytes(70), Uint8Array.from(source.subarray(2000, 2100)), changed];
  const target = concat(pieces);
  const w = new MbdfWriter({ targetSize: target.length, sourceSize: source.length, targetSha256: sha256(target) });
  w.zero(40);
  w.copy(100, pieces[1]!);
  w.literal(pieces[2]!);
  w.literal(pieces[3]!, "x86", 0x1000);
  w.approx([{ sourceOffset: 1000, length: 300 }, { sourceOffset: 1300, length: 300 }], approximateDiff(source.subarray(1000, 1600), changed), changed);
  w.end();
  const recordEnds: number[] = [];
  let end = 0;
  for (const p of pieces) recordEnds.push((end += p.length));
  return { delta: w.bytes(), source, target, recordEnds };
}
