/**
 * Deflate streams one decode has already made, by what made them (compressor, level and the
 * content's SHA-256): Debian ships the same compressed file under several names, each its own
 * REDEFLATE record (pair B: openssl's and libssl3's changelog.gz, 787 KB of text each, about 70 ms
 * of gzip -9 apiece on the device), and the same content at the same settings compresses to the
 * same bytes. Memory stays bounded: at most CAPACITY bytes of streams are kept, the ones that took
 * the most content to make first (a small one is cheap to make again).
 */
import { createHash } from "node:crypto";

/** Bytes of deflate streams kept at most. */
export const REBUILT_CAPACITY = 2 << 20;
/** Contents shorter than this are compressed again: their stream costs less to make than to look up. */
export const MIN_REBUILT_CONTENT = 16 << 10;

interface Entry {
  key: string;
  stream: Uint8Array;
  /** The content's length: what making the stream again would take. */
  cost: number;
}

export class RebuiltStreams {
  private readonly entries: Entry[] = [];
  private bytes = 0;
  /** Streams handed out again rather than made. */
  reused = 0;

  constructor(private readonly capacity = REBUILT_CAPACITY) {}

  /** The key of `content` compressed by `compressor` at `level`; undefined when not worth keeping. */
  keyOf(compressor: number, level: number, content: Uint8Array): string | undefined {
    if (content.length < MIN_REBUILT_CONTENT) return undefined;
    return `${compressor}/${level}/${createHash("sha256").update(content).digest("base64")}`;
  }

  /** The stream made earlier under `key` (the caller must not change it). */
  find(key: string): Uint8Array | undefined {
    const entry = this.entries.find((e) => e.key === key);
    if (entry) this.reused++;
    return entry?.stream;
  }

  /** Keeps `stream` (which no one changes afterwards) under `key`, dropping the cheapest ones over capacity. */
  keep(key: string, stream: Uint8Array, cost: number): void {
    if (stream.length > this.capacity / 2) return;
    this.entries.push({ key, stream, cost });
    this.bytes += stream.length;
    while (this.bytes > this.capacity) {
      let cheapest = 0;
      for (let i = 1; i < this.entries.length; i++) if (this.entries[i]!.cost < this.entries[cheapest]!.cost) cheapest = i;
      this.bytes -= this.entries[cheapest]!.stream.length;
      this.entries.splice(cheapest, 1);
    }
  }

  /** Bytes of streams held (for tests). */
  get heldBytes(): number {
    return this.bytes;
  }
}
