/**
 * Deflate streams one decode has already made, by what made them (compressor, level and the
 * content's SHA-256): Debian ships the same compressed file under several names, each its own
 * REDEFLATE record (pair B: openssl's and libssl3's changelog.gz, 787 KB of text each, about 70 ms
 * of gzip -9 apiece on the device), and the same content at the same settings compresses to the
 * same bytes. Memory and time stay bounded: at most REBUILT_CAPACITY bytes in at most
 * REBUILT_ENTRIES streams are kept, the ones that took the most content to make first (a small
 * one is cheap to make again), so a delta of many records cannot make each lookup long.
 */
import { createHash } from "node:crypto";

/** Bytes of deflate streams kept at most. */
export const REBUILT_CAPACITY = 1 << 20;
/** Streams kept at most. */
export const REBUILT_ENTRIES = 64;
/** Contents shorter than this are compressed again: their stream costs less to make than to look up. */
export const MIN_REBUILT_CONTENT = 16 << 10;

interface Entry {
  key: string;
  stream: Uint8Array;
  /** The content's length: what making the stream again would take. */
  cost: number;
}

export class RebuiltStreams {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Streams handed out again rather than made. */
  reused = 0;

  constructor(
    private readonly capacity = REBUILT_CAPACITY,
    private readonly maxEntries = REBUILT_ENTRIES,
  ) {}

  /** The key of `content` compressed by `compressor` at `level`; undefined when not worth keeping. */
  keyOf(compressor: number, level: number, content: Uint8Array): string | undefined {
    if (content.length < MIN_REBUILT_CONTENT) return undefined;
    return `${compressor}/${level}/${createHash("sha256").update(content).digest("base64")}`;
  }

  /** The stream made earlier under `key` (the caller must not change it). */
  find(key: string): Uint8Array | undefined {
    const entry = this.entries.get(key);
    if (entry) this.reused++;
    return entry?.stream;
  }

  /** Keeps `stream` (which no one changes afterwards) under `key`, dropping the cheapest ones over the limits. */
  keep(key: string, stream: Uint8Array, cost: number): void {
    if (stream.length > this.capacity / 2 || this.entries.has(key)) return;
    this.entries.set(key, { key, stream, cost });
    this.bytes += stream.length;
    while (this.bytes > this.capacity || this.entries.size > this.maxEntries) {
      let cheapest: Entry | undefined;
      for (const e of this.entries.values()) if (!cheapest || e.cost < cheapest.cost) cheapest = e;
      this.bytes -= cheapest!.stream.length;
      this.entries.delete(cheapest!.key);
    }
  }

  /** Bytes of streams held (for tests). */
  get heldBytes(): number {
    return this.bytes;
  }
}
