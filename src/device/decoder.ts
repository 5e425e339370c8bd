/**
 * The one place the device program meets the VCDIFF decoder.
 *
 * Interim: until src/vcdiff/decode.ts lands, deltas are decoded by the xdelta3 program, fed with a
 * copy of the source read through the BlockSource (so it still sees the disk, not the page cache).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MenderDeltaError } from "../errors";
import type { BlockSource, TargetSink } from "../io/interfaces";

export interface DecodeOptions {
  sourceCacheBlocks?: number;
  onWindow?(info: { index: number; targetOffset: number; targetLength: number }): void;
}

export async function decodeDelta(
  delta: AsyncIterable<Uint8Array>,
  source: BlockSource,
  target: TargetSink,
  options: DecodeOptions = {},
): Promise<{ windows: number; targetBytes: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-src-"));
  const copy = path.join(dir, "source");
  try {
    const fd = fs.openSync(copy, "w");
    const block = source.allocateBlock();
    for (let i = 0; i * source.blockSize < source.size; i++) fs.writeSync(fd, block, 0, source.readBlock(i, block));
    fs.closeSync(fd);
    const child = spawn("xdelta3", ["-d", "-c", "-s", copy], { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
    child.stdin.on("error", () => {});
    const feed = (async () => {
      for await (const chunk of delta) if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once("drain", r));
      child.stdin.end();
    })();
    let targetBytes = 0;
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      target.write(chunk);
      options.onWindow?.({ index: 0, targetOffset: targetBytes, targetLength: chunk.length });
      targetBytes += chunk.length;
    }
    await feed;
    const code = await exited;
    if (code !== 0) throw new MenderDeltaError(`xdelta3 failed: ${stderr.trim()}`);
    return { windows: 1, targetBytes };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
