/**
 * A streaming tar reader: `next()` returns the next regular file's header, then its body is read
 * with `body()` (chunks) or `readAll()` (small members). PAX and GNU long-name/long-size records are
 * folded into the entry they describe. Links, devices, absolute names and `..` components are
 * refused: an Artifact never contains them, and a reader that accepts them is a path-traversal risk.
 */
import { MenderDeltaError } from "../errors";
import { ByteQueue } from "./byte-queue";
import { BLOCK, MAX_EXTENDED_HEADER, decodeHeader, isZeroBlock, padded, parsePaxRecords, type TarEntryHeader } from "./tar-header";

const utf8 = new TextDecoder();
/** Padding accepted after the end-of-archive marker: GNU tar pads to 10 KiB records, `tar -b 2048` to 1 MiB. */
const MAX_TRAILER = 1 << 20;

export interface TarEntry extends TarEntryHeader {
  /** Byte offset of the entry's (first) header within the tar stream. */
  offset: number;
}

export class TarReader {
  private readonly queue: ByteQueue;
  private remaining = 0;
  private current: TarEntry | null = null;
  private ended = false;

  /** `where` names the archive in error messages, e.g. "artifact.mender" or "artifact.mender: header.tar.gz". */
  constructor(
    source: AsyncIterable<Uint8Array>,
    private readonly where: string,
    private readonly options: {
      allowDirectories?: boolean;
      /** Sees the stream's first block (shorter when the stream is) before it is parsed, and may throw. */
      checkStart?: (block: Uint8Array) => void;
    } = {},
  ) {
    this.queue = new ByteQueue(source);
  }

  /** The next regular file, or null after the end-of-archive marker. */
  async next(): Promise<TarEntry | null> {
    if (this.ended) return null;
    await this.skipRest();
    let longName: string | undefined;
    let pax: Map<string, string> | undefined;
    for (;;) {
      const offset = this.queue.position;
      const block = await this.queue.readExact(BLOCK);
      if (offset === 0) this.options.checkStart?.(block);
      if (block.length < BLOCK) {
        throw new MenderDeltaError(
          `${this.where} is truncated: it ends at byte ${offset + block.length} without the tar end-of-archive marker ` +
            `(the file was cut short while copying or downloading; fetch it again)`,
        );
      }
      if (isZeroBlock(block)) {
        if (longName !== undefined || pax !== undefined) throw this.corrupt(offset, "an extended header is followed by the end-of-archive marker");
        this.ended = true;
        return null;
      }
      const h = decodeHeader(block, `${this.where} (tar header at byte ${offset})`);
      switch (h.kind) {
        case "pax":
        case "gnu-longname":
        case "gnu-longlink":
        case "pax-global": {
          if (h.size > MAX_EXTENDED_HEADER) {
            throw new MenderDeltaError(
              `${this.where}: oversized tar extended header at byte ${offset} (${h.size} bytes, limit ${MAX_EXTENDED_HEADER}); ` +
                `the file is corrupt or crafted`,
            );
          }
          const data = await this.readFully(h.size, offset, "extended header");
          await this.skipPadding(h.size);
          if (h.kind === "pax") pax = parsePaxRecords(data, `${this.where} (PAX header at byte ${offset})`);
          else if (h.kind === "gnu-longname") longName = utf8.decode(trimNul(data));
          // Global PAX headers and GNU long link names carry nothing an Artifact uses.
          continue;
        }
        case "link":
          throw this.refuse(offset, h.name, "is a hard or symbolic link");
        case "other":
          throw this.refuse(offset, h.name, `has tar type '${h.typeflag.replace(/\0/g, "\\0")}' (device, FIFO or sparse file)`);
        case "dir":
        case "file":
          break;
      }
      const entry: TarEntry = { ...h, offset };
      delete (entry as { kind?: unknown }).kind;
      delete (entry as { typeflag?: unknown }).typeflag;
      if (longName !== undefined) entry.name = longName;
      if (pax) this.applyPax(entry, pax, offset);
      checkName(entry.name, this.where);
      if (h.kind === "dir") {
        if (!this.options.allowDirectories) throw this.refuse(offset, entry.name, "is a directory");
        await this.queue.skip(padded(entry.size));
        longName = undefined;
        pax = undefined;
        continue;
      }
      this.current = entry;
      this.remaining = entry.size;
      return entry;
    }
  }

  /** The current entry's bytes, chunk by chunk (each chunk may be retained by the caller). */
  async *body(): AsyncGenerator<Uint8Array> {
    const entry = this.current;
    while (this.remaining > 0) {
      const part = await this.queue.readUpTo(this.remaining);
      if (part === null) throw this.truncatedIn(entry);
      this.remaining -= part.length;
      yield part;
    }
  }

  /** The whole current entry, refused when larger than `limit` (a header member, not a payload). */
  async readAll(limit: number): Promise<Uint8Array> {
    const entry = this.current!;
    if (entry.size > limit) {
      throw new MenderDeltaError(
        `${this.where}: member '${entry.name}' is ${entry.size} bytes, more than the ${limit} allowed for it; the Artifact is corrupt or crafted`,
      );
    }
    const data = await this.readFully(entry.size, entry.offset, `member '${entry.name}'`);
    this.remaining = 0;
    return data;
  }

  /** Stops reading (e.g. after an error) and releases the source. */
  close(): Promise<void> {
    return this.queue.close();
  }

  /**
   * Reads whatever follows the end-of-archive marker (so a wrapping hash or decompressor sees every
   * byte) and requires it to be zeros: nothing in a tar may change without being noticed. At most
   * MAX_TRAILER bytes (record padding of any common tar blocking factor); more is refused, so that a
   * small compressed member cannot expand into endless zeros.
   */
  async drain(): Promise<void> {
    const end = this.queue.position;
    for (let part = await this.queue.readUpTo(1 << 16); part !== null; part = await this.queue.readUpTo(1 << 16)) {
      const at = part.findIndex((b) => b !== 0);
      if (at >= 0) {
        throw new MenderDeltaError(`${this.where}: unexpected data after the tar end-of-archive marker (byte ${this.queue.position - part.length + at}); the file is corrupt or was altered`);
      }
      if (this.queue.position - end > MAX_TRAILER) {
        throw new MenderDeltaError(`${this.where}: more than ${MAX_TRAILER} bytes of padding after the tar end-of-archive marker; the file is corrupt or crafted`);
      }
    }
  }

  private async skipRest(): Promise<void> {
    if (this.remaining > 0) {
      const skipped = await this.queue.skip(this.remaining);
      if (skipped < this.remaining) throw this.truncatedIn(this.current);
      this.remaining = 0;
    }
    if (this.current) await this.skipPadding(this.current.size);
    this.current = null;
  }

  private async skipPadding(size: number): Promise<void> {
    const pad = padded(size) - size;
    if (pad === 0) return;
    // Padding is never covered by a checksum; requiring zeros means a flipped byte there is noticed too.
    const start = this.queue.position;
    const bytes = await this.queue.readExact(pad);
    if (bytes.length < pad) throw new MenderDeltaError(`${this.where} is truncated inside the padding at byte ${start}; fetch the file again`);
    if (bytes.some((b) => b !== 0)) throw new MenderDeltaError(`${this.where}: non-zero tar padding at byte ${start}; the file is corrupt or was altered`);
  }

  private async readFully(size: number, offset: number, what: string): Promise<Uint8Array> {
    const data = await this.queue.readExact(size);
    if (data.length < size) {
      throw new MenderDeltaError(`${this.where} is truncated inside the ${what} at byte ${offset} (${size - data.length} bytes missing); fetch the file again`);
    }
    return data;
  }

  private applyPax(entry: TarEntry, pax: Map<string, string>, offset: number): void {
    const path = pax.get("path");
    if (path !== undefined) entry.name = path;
    const size = pax.get("size");
    if (size !== undefined) {
      if (!/^\d+$/.test(size) || Number(size) > Number.MAX_SAFE_INTEGER) throw this.corrupt(offset, `PAX size ${JSON.stringify(size)} is not a valid size`);
      entry.size = Number(size);
    }
    if (pax.has("linkpath")) throw this.refuse(offset, entry.name, "carries a PAX link path");
    for (const key of pax.keys()) {
      if (key.startsWith("GNU.sparse.")) throw this.refuse(offset, entry.name, "is a GNU sparse file");
    }
    const mtime = pax.get("mtime");
    if (mtime !== undefined && /^\d+(\.\d+)?$/.test(mtime)) entry.mtime = Math.floor(Number(mtime));
  }

  private truncatedIn(entry: TarEntry | null): MenderDeltaError {
    return new MenderDeltaError(
      `${this.where} is truncated inside member '${entry?.name ?? "?"}' (${this.remaining} of its ${entry?.size ?? "?"} bytes missing); ` +
        `the file was cut short while copying or downloading; fetch it again`,
    );
  }

  private refuse(offset: number, name: string, why: string): MenderDeltaError {
    return new MenderDeltaError(`${this.where}: refusing tar member '${name}' at byte ${offset}: it ${why}, which a Mender Artifact never contains`);
  }

  private corrupt(offset: number, why: string): MenderDeltaError {
    return new MenderDeltaError(`${this.where}: corrupt tar at byte ${offset}: ${why}`);
  }
}

function trimNul(data: Uint8Array): Uint8Array {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  return data.subarray(0, end);
}

/** Refuses names that could escape an extraction directory. */
function checkName(name: string, where: string): void {
  if (name === "" || name.startsWith("/") || name.split("/").some((part) => part === "..") || name.includes("\0")) {
    throw new MenderDeltaError(
      `${where}: refusing tar member ${JSON.stringify(name)}: empty, absolute or '..' path names are not allowed (path traversal); the Artifact is corrupt or crafted`,
    );
  }
}
