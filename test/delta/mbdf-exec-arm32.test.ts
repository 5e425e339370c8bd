/**
 * ARM32 EXEC records (transform 3) through the device decoder: a real armhf pair (zlib across a
 * security upgrade) is made from the old file in the source in any chunking; an old file that is
 * not the one the generator scanned (another architecture, a changed reference, a lying count) is a
 * source mismatch refused before anything is written; mutated records make the exact file or fail.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { findArm32References, THUMB_BL } from "../../src/filediff/exec/arm32-references";
import { readElfLayout } from "../../src/filediff/exec/elf-layout";
import { execDiff, type ExecDiff } from "../../src/filediff/exec/exec-diff";
import { SourceMismatchError } from "../../src/vcdiff/decoder/errors";
import { libzArmhfPair } from "../filediff/arm32-helpers";
import { diffCost, socketPair } from "../filediff/exec-helpers";
import { concat, decode, mutationsMakeExactOrNothing, refused, sha256 } from "./mbdf-helpers";

const { old, neu } = libzArmhfPair();
/** The source image: 4 KiB of zeros, then the old file. */
const OLD_AT = 4096;
const source = concat([new Uint8Array(OLD_AT), old]);
const exec = execDiff(old, neu, approximateDiff(old, neu), diffCost)!;

/** A delta of one EXEC record (`record`'s fields) reading the old file at `at` in `src`. */
function execDelta(record: ExecDiff, src: Uint8Array = source, at = OLD_AT, length = old.length): Uint8Array {
  const w = new MbdfWriter({ targetSize: neu.length, sourceSize: src.length, targetSha256: sha256(neu) });
  w.exec([{ sourceOffset: at, length }], record, neu);
  w.end();
  return w.bytes();
}

test("an ARM32 EXEC record makes the armhf file from the old one in the source, in any chunking", async () => {
  assert.ok(exec, "an executable-aware diff of the armhf zlib pair");
  assert.equal(exec.transform, 3);
  const delta = execDelta(exec);
  for (const chunk of [delta.length, 4096, 1]) {
    const { target, result } = await decode(delta, source, chunk);
    assert.ok(Buffer.from(target).equals(Buffer.from(neu)), `chunks of ${chunk}`);
    assert.equal(result.records, 1);
  }
});

test("an old file that is not the scanned one is a source mismatch, refused before anything is written", async () => {
  // The old file with its first Thumb BL turned into two NOPs: one reference fewer.
  const refs = findArm32References(old, readElfLayout(old)!)!;
  let r = 0;
  while (refs.kind[r] !== THUMB_BL) r++;
  const changed = old.slice();
  changed.set([0x00, 0xbf, 0x00, 0xbf], refs.position[r]!);
  const x86 = socketPair().old;
  const cases: [name: string, delta: Uint8Array, src: Uint8Array, message: RegExp][] = [
    ["a reference count the old file does not have", execDelta({ ...exec, referenceCount: exec.referenceCount + 1 }), source, /the old file has \d+ references, the delta expects \d+/],
    ["a changed branch in the old file", execDelta(exec, concat([new Uint8Array(OLD_AT), changed])), concat([new Uint8Array(OLD_AT), changed]), new RegExp(`the old file has ${exec.referenceCount - 1} references, the delta expects ${exec.referenceCount}`)],
    ["an x86-64 file where the armhf one was", execDelta(exec, concat([new Uint8Array(OLD_AT), x86, new Uint8Array(old.length)])), concat([new Uint8Array(OLD_AT), x86, new Uint8Array(old.length)]), /the old file is not an ARM32 ELF file/],
  ];
  for (const [name, delta, src, message] of cases) {
    for (const chunk of [1 << 20, 1]) {
      const { err, sink } = await refused(delta, src, chunk);
      assert.match(err.message, message, name);
      assert.ok(err instanceof SourceMismatchError, `${name}: blamed on the source`);
      assert.equal(sink.bytesWritten, 0, `${name}: bytes written`);
    }
  }
});

test("fuzz: 200 seeded mutations of an ARM32 EXEC delta make the exact file or are refused with a MenderDeltaError, never more", async () => {
  const delta = execDelta(exec);
  await mutationsMakeExactOrNothing(delta, source, neu, 120 + exec.diff.control.length, 200, 32);
});
