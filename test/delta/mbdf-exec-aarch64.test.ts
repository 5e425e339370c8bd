/**
 * EXEC records of transform 2 (AArch64) through the device decoder: the writer and decodeMbdf make
 * perl's arm64 Socket.so of Debian's security upgrade from the old one, in any chunking; an old
 * file that is not the scanned one (another reference count, another machine) is a source
 * mismatch; mutations of the record make the exact file or are refused before anything is written.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { execDiff } from "../../src/filediff/exec/exec-diff";
import { SourceMismatchError } from "../../src/vcdiff/decoder/errors";
import { diffCost, socketPair } from "../filediff/exec-helpers";
import { concat, decode, mutationsMakeExactOrNothing, refused, sha256 } from "./mbdf-helpers";

const { old, neu } = socketPair("arm64");
/** The source image: 4 KiB of zeros, then the old file. */
const OLD_AT = 4096;
const source = concat([new Uint8Array(OLD_AT), old]);
const exec = execDiff(old, neu, approximateDiff(old, neu), diffCost)!;

/** A delta of one EXEC record of `e` reading the old file at `at` in `sourceBytes`. */
function execDelta(e = exec, sourceBytes = source, at = OLD_AT, length = old.length): Uint8Array {
  const w = new MbdfWriter({ targetSize: neu.length, sourceSize: sourceBytes.length, targetSha256: sha256(neu) });
  w.exec([{ sourceOffset: at, length }], e, neu);
  w.end();
  return w.bytes();
}

test("an AArch64 EXEC record makes the new file from the old one in the source, in any chunking", async () => {
  assert.ok(exec, "an executable-aware diff of the arm64 Socket.so pair");
  assert.equal(exec.transform, 2);
  const delta = execDelta();
  for (const chunk of [delta.length, 4096, 1]) {
    const { target, result } = await decode(delta, source, chunk);
    assert.ok(Buffer.from(target).equals(Buffer.from(neu)), `chunks of ${chunk}`);
    assert.equal(result.records, 1);
  }
});

test("an AArch64 EXEC record over an old file that is not the scanned one is a source mismatch, nothing written", async () => {
  // The x86-64 build of the same file where the arm64 one should be.
  const x86 = socketPair().old;
  const x86Source = concat([new Uint8Array(OLD_AT), x86]);
  const cases: [name: string, delta: Uint8Array, source: Uint8Array, message: RegExp][] = [
    ["one reference more", execDelta({ ...exec, referenceCount: exec.referenceCount + 1 }), source, /the old file has \d+ references, the delta expects \d+/],
    ["the x86-64 build", execDelta(exec, x86Source, OLD_AT, x86.length), x86Source, /the old file is not an AArch64 ELF file/],
  ];
  for (const [name, delta, from, message] of cases) {
    const { err, sink } = await refused(delta, from);
    assert.match(err.message, message, name);
    assert.match(err.message, /record 0 \(target byte 0\)/, name);
    assert.ok(err instanceof SourceMismatchError, `${name}: blame`);
    assert.equal(sink.bytesWritten, 0, `${name}: bytes written`);
  }
});

test("fuzz: 200 seeded mutations of an AArch64 EXEC delta make the exact file or are refused with a MenderDeltaError, never more", async () => {
  const delta = execDelta();
  // The record's fields come first: most mutations go there, the rest anywhere.
  await mutationsMakeExactOrNothing(delta, source, neu, 120 + exec.diff.control.length, 200, 183);
});
