/**
 * What a stretch of delta costs once the Artifact compresses it: the planner's yardstick for "is a
 * file record clearly smaller than VCDIFF on the same bytes". Both sides are measured the same way,
 * xz in fast mode, as the Artifact layer's xz ranks them the same (a quick estimate, not the size).
 */
import fs from "node:fs";
import path from "node:path";
import { XzEncoder } from "../../compress/xz";
import { encodeVcdiff } from "../../vcdiff/encoder/encode";

/** Bytes of `parts` after fast xz. */
export function xzSize(parts: Uint8Array[]): number {
  let total = 0;
  for (const p of parts) total += p.length;
  let size = 0;
  const xz = new XzEncoder({ mode: "fast", sizeHint: Math.max(total, 1) }, (bytes) => (size += bytes.length));
  for (const p of parts) xz.write(p);
  xz.end();
  return size;
}

/**
 * The VCDIFF encoder's delta of `neu` from `old` alone (not the whole FROM image: a full source
 * index per file would cost seconds each, and a changed file's matches are in its old version).
 */
export async function vcdiffDelta(old: Uint8Array, neu: Uint8Array, scratchDir: string, level?: number): Promise<Uint8Array> {
  const oldPath = path.join(scratchDir, "cost-old");
  const newPath = path.join(scratchDir, "cost-new");
  const deltaPath = path.join(scratchDir, "cost-delta");
  fs.writeFileSync(oldPath, old);
  fs.writeFileSync(newPath, neu);
  await encodeVcdiff(oldPath, newPath, deltaPath, { threads: 1, level, windowSize: 16 << 20 });
  return fs.readFileSync(deltaPath);
}
