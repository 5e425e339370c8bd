/**
 * Which delta format a stream holds, from its first bytes: VCDIFF starts D6 C3 C4 ("VCD" with the
 * high bits set, RFC 3284), MBDF with "MBDF". For the host's `apply`, which has no Artifact
 * meta-data to say it; the device goes by delta_algorithm.
 */
import { ALGORITHM_IDS, type AlgorithmId } from "./contract";
import { MBDF_MAGIC } from "./mbdf/format";

const VCDIFF_MAGIC = Uint8Array.of(0xd6, 0xc3, 0xc4);

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** The algorithm whose magic `head` starts with, or undefined. */
export function algorithmOfMagic(head: Uint8Array): AlgorithmId | undefined {
  if (startsWith(head, MBDF_MAGIC)) return ALGORITHM_IDS.mbdf1;
  if (startsWith(head, VCDIFF_MAGIC)) return ALGORITHM_IDS.xdelta3;
  return undefined;
}

/**
 * Reads the first few bytes of `delta` and returns the algorithm they name (undefined for neither)
 * and the whole stream again, those bytes included.
 */
export async function sniffDelta(delta: AsyncIterable<Uint8Array>): Promise<{ algorithm: AlgorithmId | undefined; delta: AsyncIterable<Uint8Array> }> {
  const iterator = delta[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let have = 0;
  let ended = false;
  while (have < MBDF_MAGIC.length) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    head.push(next.value);
    have += next.value.length;
  }
  const algorithm = algorithmOfMagic(Buffer.concat(head));
  async function* again(): AsyncGenerator<Uint8Array> {
    try {
      yield* head;
      if (ended) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      if (!ended) await iterator.return?.();
    }
  }
  return { algorithm, delta: again() };
}
