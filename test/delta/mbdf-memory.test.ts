/**
 * The MBDF decoder's memory does not grow with the image: a 256 MiB target from ZERO, COPY and
 * LITERAL records of 64 MiB each, the delta generated as it is read and the source computed per
 * block, so the only large memory would be the decoder's own. Peak RSS growth stays below 64 MiB.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { crc32 } from "../../src/compress/crc32";
import { decodeMbdf } from "../../src/delta/mbdf/decode";
import type { BlockSource, TargetSink } from "../../src/io/interfaces";
import { writeVarint } from "../../src/vcdiff/format/varint";

const MiB = 1 << 20;
const RECORD = 64 * MiB;

/** Source byte i: a cheap function of i, so no source is held anywhere. */
function fillSource(into: Uint8Array, start: number, n: number): void {
  for (let i = 0; i < n; i++) into[i] = (Math.imul(start + i, 2654435761) >>> 24) & 0xff;
}

class ComputedSource implements BlockSource {
  readonly blockSize = 65536;
  constructor(readonly size: number) {}
  allocateBlock(): Uint8Array {
    return new Uint8Array(this.blockSize);
  }
  readBlock(index: number, into: Uint8Array): number {
    return this.readAt(index * this.blockSize, into, this.blockSize);
  }
  readAt(offset: number, into: Uint8Array, want: number): number {
    const n = Math.max(0, Math.min(want, this.size - offset));
    fillSource(into, offset, n);
    return n;
  }
  close(): void {}
}

/** Literal chunk k (1 MiB): a fixed pattern varied by k. */
function literalChunk(k: number, into: Uint8Array): Uint8Array {
  for (let i = 0; i < into.length; i++) into[i] = (i * 31 + k * 7 + (i >>> 9)) & 0xff;
  return into;
}

const varint = (n: number): Uint8Array => {
  const b = new Uint8Array(10);
  return b.slice(0, writeVarint(b, 0, n));
};
const u32 = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);

test("a 256 MiB target from 64 MiB ZERO, COPY and LITERAL records: peak RSS grows by less than 64 MiB", async () => {
  const sourceSize = RECORD + 4096;
  const copyAt = 4096;
  // The target's hash and the records' CRCs, computed by streaming the same pieces once first.
  const hash = createHash("sha256");
  const chunk = new Uint8Array(MiB);
  const zeros = new Uint8Array(MiB);
  let zeroCrc = 0;
  let copyCrc = 0;
  let literalCrc = 0;
  for (let k = 0; k < RECORD / MiB; k++) {
    zeroCrc = crc32(zeros, zeroCrc);
    hash.update(zeros);
  }
  for (let k = 0; k < RECORD / MiB; k++) {
    fillSource(chunk, copyAt + k * MiB, MiB);
    copyCrc = crc32(chunk, copyCrc);
    hash.update(chunk);
  }
  for (let k = 0; k < RECORD / MiB; k++) {
    literalCrc = crc32(literalChunk(k, chunk), literalCrc);
    hash.update(chunk);
  }
  for (let k = 0; k < RECORD / MiB; k++) hash.update(zeros);
  const sha = new Uint8Array(hash.digest());

  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  async function* delta(): AsyncGenerator<Uint8Array> {
    yield Buffer.from("MBDF");
    yield Uint8Array.of(1, 0);
    yield varint(4 * RECORD);
    yield varint(sourceSize);
    yield sha;
    yield varint(0);
    yield Uint8Array.of(1);
    yield varint(RECORD);
    yield u32(zeroCrc);
    yield Uint8Array.of(2);
    yield varint(RECORD);
    yield varint(copyAt);
    yield u32(copyCrc);
    yield Uint8Array.of(3);
    yield varint(RECORD);
    yield Uint8Array.of(0);
    yield varint(0);
    // Delivered in 64 KiB pieces, as a download arrives; each a new buffer, as a stream's are.
    for (let k = 0; k < RECORD / MiB; k++) {
      const c = literalChunk(k, new Uint8Array(MiB));
      for (let p = 0; p < MiB; p += 65536) {
        sample();
        yield c.subarray(p, p + 65536);
      }
    }
    yield u32(literalCrc);
    yield Uint8Array.of(1);
    yield varint(RECORD);
    yield u32(zeroCrc);
    yield Uint8Array.of(0);
  }
  let written = 0;
  const sink: TargetSink = {
    write(data) {
      written += data.length;
      sample();
    },
    finish() {},
  };
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  peak = baseline;
  const result = await decodeMbdf(delta(), new ComputedSource(sourceSize), sink);
  assert.equal(result.targetBytes, 4 * RECORD);
  assert.equal(written, 4 * RECORD);
  assert.equal(result.records, 4);
  const growth = (peak - baseline) / MiB;
  process.stderr.write(`MBDF 256 MiB decode: peak RSS growth ${growth.toFixed(1)} MiB\n`);
  assert.ok(growth < 64, `peak RSS grew by ${growth.toFixed(1)} MiB`);
});
