/**
 * What a stretch of bytes costs once the Artifact compresses it: the file-aware generator's
 * yardstick ("is a file record clearly smaller than VCDIFF on the same bytes", "is a new
 * executable smaller as a filtered literal"). Both sides of a comparison are measured the same way,
 * xz in fast mode, as the Artifact layer's xz ranks them the same (a quick estimate, not the size).
 * It runs on the main thread and on planner threads alike, with the same result.
 */
// The encoder module itself, not the xz barrel: this runs on worker threads, whose bundle must
// not pull in the block writer (its own threads, and their dev-time bundler).
import { XzEncoder } from "./xz-encoder";

/** Bytes of `parts` (one stream, in order) after fast xz. */
export function xzSize(parts: Uint8Array[]): number {
  let total = 0;
  for (const p of parts) total += p.length;
  let size = 0;
  const xz = new XzEncoder({ mode: "fast", sizeHint: Math.max(total, 1) }, (bytes) => (size += bytes.length));
  for (const p of parts) xz.write(p);
  xz.end();
  return size;
}
