/**
 * Decoding oracles for encoder tests: stock `xdelta3 -d` (strict, checks adler32) and
 * `@ably/vcdiff-decoder` (plain profile only: it ignores the adler32 bit, so it is only fed
 * deltas made with the checksum off), and our own decoder when it is present.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createReadStream } from "node:fs";
import { decode as ablyDecode } from "@ably/vcdiff-decoder";
import { FileTargetSink } from "../../src/io/file-sink";
import { FileBlockSource } from "../../src/io/file-source";
import { decodeVcdiff } from "../../src/vcdiff/decoder/decode";

export function tempDir(t: { after(fn: () => void): void }, prefix = "enc-"): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Decodes with stock xdelta3 and asserts the result equals `expectedPath`'s bytes (cmp, no load). */
export function assertXdelta3Decodes(sourcePath: string, deltaPath: string, expectedPath: string, outPath: string): void {
  const args = ["-d", "-f", "-c"];
  const r = spawnSync("sh", ["-c", `xdelta3 ${args.join(" ")} -s "$1" "$2" > "$3" && cmp "$3" "$4"`, "sh",
    sourcePath, deltaPath, outPath, expectedPath], { encoding: "utf8" });
  assert.equal(r.status, 0, `xdelta3 -d or cmp failed: ${r.stderr}${r.stdout}`);
  rmSync(outPath, { force: true });
}

/** Decodes with our streaming decoder (checksums verified) and compares with cmp. */
export async function assertOurDecoderDecodes(sourcePath: string, deltaPath: string, expectedPath: string, outPath: string): Promise<void> {
  const source = new FileBlockSource(sourcePath);
  try {
    await decodeVcdiff(createReadStream(deltaPath), source, new FileTargetSink(outPath));
  } finally {
    source.close();
  }
  const r = spawnSync("cmp", [outPath, expectedPath], { encoding: "utf8" });
  assert.equal(r.status, 0, `our decoder's output differs: ${r.stdout}${r.stderr}`);
  rmSync(outPath, { force: true });
}

/** Decodes a checksum-free delta with @ably/vcdiff-decoder and asserts equality. */
export function assertAblyDecodes(source: Uint8Array, delta: Uint8Array, expected: Uint8Array): void {
  assert.equal(delta[4], 0, "ably oracle needs Hdr_Indicator 0");
  const out = ablyDecode(delta, source);
  assert.ok(Buffer.from(out).equals(Buffer.from(expected)), "ably decoder output differs from the target");
}


/** A seeded PRNG (mulberry32): tests are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

