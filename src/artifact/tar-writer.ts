/**
 * A streaming tar writer producing the bytes Go's archive/tar writes (mender-artifact's layout):
 * ustar headers, members padded to 512 bytes, two zero blocks at the end and no record padding.
 */
import type { Writable } from "node:stream";
import { MenderDeltaError } from "../errors";
import { BLOCK, encodeFileHeader, padded, type TarEntryHeader } from "./tar-header";

const ZEROS = new Uint8Array(BLOCK * 2);

export class TarWriter {
  /** Bytes written so far. */
  written = 0;

  constructor(private readonly out: Writable) {}

  /** A small member held in memory. */
  async addBytes(header: Omit<TarEntryHeader, "size">, data: Uint8Array): Promise<void> {
    await this.write(encodeFileHeader({ ...header, size: data.length }));
    if (data.length > 0) await this.write(data);
    await this.pad(data.length);
  }

  /** A member streamed from `body`, which must yield exactly `header.size` bytes. */
  async addStream(header: TarEntryHeader, body: AsyncIterable<Uint8Array>): Promise<void> {
    await this.write(encodeFileHeader(header));
    let got = 0;
    for await (const chunk of body) {
      got += chunk.length;
      if (got > header.size) break;
      await this.write(chunk);
    }
    if (got !== header.size) {
      throw new MenderDeltaError(
        `'${header.name}' was ${header.size} bytes when the Artifact was started but ${got > header.size ? "grew" : `gave only ${got}`} while it was written; do not modify input files while writing an Artifact`,
      );
    }
    await this.pad(header.size);
  }

  /** The end-of-archive marker (two zero blocks). Does not end the output stream. */
  async finish(): Promise<void> {
    await this.write(ZEROS);
  }

  private async pad(size: number): Promise<void> {
    const n = padded(size) - size;
    if (n > 0) await this.write(ZEROS.subarray(0, n));
  }

  private async write(bytes: Uint8Array): Promise<void> {
    this.written += bytes.length;
    if (this.out.destroyed) throw this.out.errored ?? new Error("tar output stream was closed");
    if (!this.out.write(bytes)) await drained(this.out);
  }
}

/** A whole tar of small in-memory members (the header tar). */
export function tarBytes(members: { header: Omit<TarEntryHeader, "size">; data: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    parts.push(encodeFileHeader({ ...m.header, size: m.data.length }), m.data, new Uint8Array(padded(m.data.length) - m.data.length));
  }
  parts.push(ZEROS);
  return Buffer.concat(parts);
}

/** Waits for 'drain'; rejects if the stream errors or closes first (a drain would never come). */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null): void => {
      out.off("drain", onDrain);
      out.off("error", onError);
      out.off("close", onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onError = (err: Error): void => done(err);
    const onClose = (): void => done(out.errored ?? new Error("tar output stream was closed"));
    out.on("drain", onDrain);
    out.on("error", onError);
    out.on("close", onClose);
  });
}
