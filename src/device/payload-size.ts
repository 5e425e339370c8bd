/**
 * The payload sizes a 4.x/5.x client declares in DownloadWithFileSizes (`streams/NAME SIZE` on
 * stream-next, taken from the Artifact's tar header): checked against the target partition before
 * the first byte of the stream is read, then held to while it streams in, and used for progress as
 * a percentage of the payload.
 */
import { MenderDeltaError } from "../errors";
import { logEvent } from "./log";

/**
 * The largest delta that can produce an image fitting `partitionBytes`. VCDIFF can always carry its
 * target as plain ADD data, which costs the target's bytes plus a few bytes of framing per window
 * (tens of bytes per window of at least 16 KiB, well under 1/64), and every encoder in use
 * (xdelta3, mender-binary-delta-generator) falls back to that when matching does not pay. A
 * declared size beyond this bound is a wrong size or a hostile payload, not a delta for this device.
 */
export function maxDeltaBytes(partitionBytes: number): number {
  return partitionBytes + Math.ceil(partitionBytes / 64) + (1 << 20);
}

/** Refuses, before the stream is opened, a declared size no delta for `partition` (`partitionBytes` long) can have. */
export function checkDeclaredSize(name: string, declared: number, partition: string, partitionBytes: number): void {
  if (declared === 0) {
    throw new MenderDeltaError(`the client declares the payload file ${name} empty (0 bytes); a delta is never empty. Not reading it.`);
  }
  const limit = maxDeltaBytes(partitionBytes);
  if (declared > limit) {
    throw new MenderDeltaError(
      `the client declares the payload file ${name} as ${declared} bytes, more than any delta for the target partition ${partition} ` +
        `(${partitionBytes} bytes) can be (at most ${limit}); a wrong size or not a delta for this device. Not reading it.`,
    );
  }
}

const PROGRESS_STEP = 10;

/**
 * Passes `stream` through while counting its bytes: logs progress every 10 % of `declared`, and
 * fails as soon as the stream delivers more than declared, or ends short of it, so the decoder
 * never acts on bytes the client did not announce nor mistakes a cut stream for a truncated delta.
 */
export async function* meteredPayload(stream: AsyncIterable<Uint8Array>, name: string, declared: number): AsyncGenerator<Uint8Array> {
  let received = 0;
  let nextReport = PROGRESS_STEP;
  for await (const chunk of stream) {
    received += chunk.length;
    if (received > declared) {
      throw new MenderDeltaError(
        `the payload file ${name} is longer than the ${declared} bytes the client declared (already ${received}); the stream and its size disagree. Stopped reading it.`,
      );
    }
    const percent = Math.floor((received * 100) / declared);
    if (percent >= nextReport) {
      logEvent(`progress: ${percent}% of the payload (${received} of ${declared} bytes)`);
      nextReport = Math.floor(percent / PROGRESS_STEP) * PROGRESS_STEP + PROGRESS_STEP;
    }
    yield chunk;
  }
  if (received < declared) {
    throw new MenderDeltaError(
      `the payload file ${name} ended after ${received} of the ${declared} bytes the client declared; the stream was cut or its size is wrong`,
    );
  }
}
