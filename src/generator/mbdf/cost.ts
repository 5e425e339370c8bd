/**
 * What a stretch of delta costs once the Artifact compresses it: the planner's yardstick for "is a
 * file record clearly smaller than VCDIFF on the same bytes". Both sides are measured the same way,
 * xz in fast mode, as the Artifact layer's xz ranks them the same (a quick estimate, not the size).
 */
// The encoder module itself, not the xz barrel: this runs on planner threads, whose bundle must
// not pull in the block writer (its own threads, and their dev-time bundler).
import { XzEncoder } from "../../compress/xz-encoder";

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
