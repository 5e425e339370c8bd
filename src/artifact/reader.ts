/**
 * Streaming reader of Mender Artifacts (format version 3), as mender-artifact and the Mender clients
 * read them: `version`, `manifest`, [`manifest.sig`], `header.tar[.gz|.xz|.zst]`,
 * `data/NNNN.tar[...]`, in that order. Every member is checked against the manifest (and the
 * manifest against its signature when a key is given). Payload files are never held in memory: their
 * bytes go to a sink the caller picks per file, after it has seen the headers.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { pipeline, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { MenderDeltaError } from "../errors";
import { compressionOfName, createDecompressor, type Compression } from "./compression";
import { COMPRESSED_SUFFIXES } from "./compressions";
import { decodeHeaderInfo, decodeMetaData, decodeTypeInfo, type HeaderInfo, type MetaData, type TypeInfo } from "./headers";
import { checkArtifactStart } from "./artifact-start";
import { parseManifest } from "./manifest";
import { verifyManifestSignature } from "./signature";
import { TarReader, type TarEntry } from "./tar-reader";

/** One payload's headers (`headers/NNNN/*`) and the files the manifest lists for it. */
export interface PayloadHeader {
  index: number;
  /** The payload type from header-info (e.g. "rootfs-image", "mender-binary-delta"); null for bootstrap. */
  type: string | null;
  typeInfo: TypeInfo;
  /** meta-data, or null when absent or empty. */
  metaData: MetaData | null;
  /** The payload's files as listed in the manifest (name = basename), in manifest order. */
  files: { name: string; sha256: string }[];
}

export interface StateScript {
  /** e.g. "ArtifactInstall_Enter_00". */
  name: string;
  mode: number;
  content: Uint8Array;
}

export interface ArtifactHeaders {
  formatVersion: 3;
  headerInfo: HeaderInfo;
  payloads: PayloadHeader[];
  scripts: StateScript[];
  /** The Artifact carries manifest.sig. */
  signed: boolean;
  /** The signature was checked against `verifyKey` (and passed). */
  signatureVerified: boolean;
  /** Compression of header.tar (the data members normally use the same). */
  compression: Compression;
  /** manifest: member name -> sha256, in manifest order. */
  manifest: Map<string, string>;
  /**
   * The size of the first payload's first file as its tar header in data/0000 says (not yet checked
   * against anything): only from readArtifactHeaders with `peekPayloadSize`, for sizing work ahead.
   */
  firstPayloadFileSize?: number;
}

export interface PayloadFileInfo {
  payloadIndex: number;
  /** The file's name inside the payload (a basename, e.g. "rootfs.ext4"). */
  name: string;
  size: number;
  /** The SHA-256 the manifest promises (checked while the bytes stream). */
  sha256: string;
  mode: number;
  mtime: number;
  payload: PayloadHeader;
}

/** Where a payload file's bytes go: a Writable (backpressure respected, ended after the last byte) or callbacks. */
export type PayloadSink = Writable | { write(chunk: Uint8Array): void | Promise<void>; end?(): void | Promise<void> };

export interface ReadArtifactOptions {
  /** PEM public key: when given, an unsigned Artifact or a signature that does not verify is an error. */
  verifyKey?: string | Buffer;
  /** Called once the headers are read and checked, before any payload byte is read. */
  onHeaders?(headers: ArtifactHeaders): void | Promise<void>;
  /**
   * Called for each payload file; returns where its bytes go (null/undefined: discard, still checked).
   * The bytes reach the sink before the file's checksum can be compared: a sink is ended only after
   * its file verified (a Writable is destroyed instead when reading fails), and until readArtifact
   * resolves, treat what any sink received as unverified.
   */
  onPayloadFile?(file: PayloadFileInfo): PayloadSink | null | undefined | Promise<PayloadSink | null | undefined>;
}

export interface ArtifactInfo extends ArtifactHeaders {
  /** Every payload file read, with its size and (verified) checksum. */
  payloadFiles: { payloadIndex: number; name: string; size: number; sha256: string }[];
}

const VERSION_LIMIT = 4096;
const MANIFEST_LIMIT = 1 << 20;
const SIGNATURE_LIMIT = 8192;
const HEADER_MEMBER_LIMIT = 64 << 20;
const JSON_LIMIT = 1 << 20;
const SCRIPT_LIMIT = 16 << 20;
const PAYLOAD_NAME = /^[\w\-.,]+$/;
/** The optional suffix of an inner tar: `[.gz|.xz|.zst]` in messages, a group in patterns. */
const SUFFIX_HINT = `[${COMPRESSED_SUFFIXES.join("|")}]`;
const SUFFIX_GROUP = `(${COMPRESSED_SUFFIXES.map((s) => s.replace(/\./g, "\\.")).join("|")})?`;
const HEADER_TAR = new RegExp(`^header\\.tar${SUFFIX_GROUP}$`);
const DATA_TAR = new RegExp(`^data/(\\d{4})\\.tar${SUFFIX_GROUP}$`);
/** The header member's names, for messages: 'header.tar', 'header.tar.gz', ... or 'header.tar.zst'. */
const HEADER_NAMES = ["", ...COMPRESSED_SUFFIXES].map((s) => `'header.tar${s}'`).join(", ").replace(/, ([^,]*)$/, " or $1");
const ORDER_HINT = `a Mender Artifact v3 holds, in order: version, manifest, [manifest.sig], header.tar${SUFFIX_HINT}, data/0000.tar${SUFFIX_HINT}`;

/** Reads and checks a whole Artifact, streaming payload files to the sinks `onPayloadFile` returns. */
export async function readArtifact(path: string, options: ReadArtifactOptions = {}): Promise<ArtifactInfo> {
  return new ArtifactReader(path, options).read(false) as Promise<ArtifactInfo>;
}

/**
 * Reads and checks only the headers (version, manifest, signature, header.tar); payloads are not
 * read. With `peekPayloadSize`, the first tar header inside data/0000 is decompressed too (a few
 * KiB), for firstPayloadFileSize.
 */
export async function readArtifactHeaders(
  path: string, options: Pick<ReadArtifactOptions, "verifyKey"> & { peekPayloadSize?: boolean } = {},
): Promise<ArtifactHeaders> {
  return new ArtifactReader(path, options).read(true);
}

class ArtifactReader {
  private readonly seen = new Set<string>();
  private manifest = new Map<string, string>();

  constructor(
    private readonly path: string,
    private readonly options: ReadArtifactOptions & { peekPayloadSize?: boolean },
  ) {}

  async read(headersOnly: boolean): Promise<ArtifactHeaders | ArtifactInfo> {
    const stream = createReadStream(this.path, { highWaterMark: 1 << 20 });
    await new Promise<void>((resolve, reject) => {
      stream.once("open", () => resolve());
      stream.once("error", (err: NodeJS.ErrnoException) =>
        reject(new MenderDeltaError(`cannot open Artifact ${this.path}: ${err.code === "ENOENT" ? "no such file" : err.message}`)),
      );
    });
    const tar = new TarReader(readErrorsNamed(stream, this.path), this.path, { checkStart: (block) => checkArtifactStart(block, this.path) });
    try {
      return await this.readMembers(tar, headersOnly);
    } finally {
      await tar.close();
    }
  }

  private async readMembers(tar: TarReader, headersOnly: boolean): Promise<ArtifactHeaders | ArtifactInfo> {
    const versionEntry = await this.expectMember(tar, (n) => n === "version", "'version' first");
    const versionBytes = await tar.readAll(VERSION_LIMIT);
    this.checkVersion(versionBytes);
    await this.expectMember(tar, (n) => n === "manifest", "'manifest' right after 'version'");
    const manifestBytes = await tar.readAll(MANIFEST_LIMIT);
    this.manifest = parseManifest(manifestBytes, `${this.path}: manifest`);
    this.checkSum("version", versionBytes, versionEntry);

    let entry = await this.expectMember(tar, (n) => n === "manifest.sig" || /^header\.tar/.test(n) || isAugment(n), `'manifest.sig' or 'header.tar${SUFFIX_HINT}' after 'manifest'`);
    let signed = false;
    let signatureVerified = false;
    if (entry.name === "manifest.sig") {
      signed = true;
      const sig = await tar.readAll(SIGNATURE_LIMIT);
      if (this.options.verifyKey !== undefined) {
        verifyManifestSignature(manifestBytes, sig, this.options.verifyKey, this.path);
        signatureVerified = true;
      }
      entry = await this.expectMember(tar, (n) => /^header\.tar/.test(n) || isAugment(n), `'header.tar${SUFFIX_HINT}' after 'manifest.sig'`);
    } else if (this.options.verifyKey !== undefined) {
      throw new MenderDeltaError(`${this.path}: the Artifact is not signed (no manifest.sig), but a verification key was given; sign it with 'mender-artifact sign' or the generator's signing key`);
    }
    if (isAugment(entry.name)) {
      throw new MenderDeltaError(`${this.path}: augmented Artifacts ('${entry.name}') are not supported; use a plain Artifact (no --augment-* options)`);
    }
    if (!HEADER_TAR.test(entry.name)) {
      throw this.orderError(entry, HEADER_NAMES);
    }
    const headers = await this.readHeader(tar, entry, { signed, signatureVerified });
    if (headersOnly) return this.options.peekPayloadSize ? { ...headers, firstPayloadFileSize: await this.peekPayloadSize(tar) } : headers;
    await this.options.onHeaders?.(headers);

    const payloadFiles: ArtifactInfo["payloadFiles"] = [];
    let nextIndex = 0;
    for (;;) {
      const data = await tar.next();
      if (data === null) {
        await tar.drain();
        break;
      }
      const m = DATA_TAR.exec(data.name);
      if (!m) {
        if (isAugment(data.name)) throw new MenderDeltaError(`${this.path}: augmented Artifacts ('${data.name}') are not supported`);
        throw this.orderError(data, `'data/${String(nextIndex).padStart(4, "0")}.tar${SUFFIX_HINT}' or the end of the Artifact`);
      }
      const index = Number(m[1]);
      if (index !== nextIndex || index >= headers.payloads.length) {
        throw new MenderDeltaError(
          `${this.path}: unexpected member '${data.name}' at byte ${data.offset}: header-info declares ${headers.payloads.length} payload(s) and the next data member must be data/${String(nextIndex).padStart(4, "0")}; the Artifact is corrupt`,
        );
      }
      nextIndex++;
      await this.readData(tar, data, headers.payloads[index]!, payloadFiles);
    }
    const missing = [...this.manifest.keys()].filter((name) => !this.seen.has(name));
    if (missing.length > 0) {
      throw new MenderDeltaError(
        `${this.path}: the manifest lists ${missing.map((n) => `'${n}'`).join(", ")}, which the Artifact does not contain; the Artifact is truncated or was altered`,
      );
    }
    return { ...headers, payloadFiles };
  }

  /** The size in the first payload file's tar header, or undefined when the Artifact has no payload data. */
  private async peekPayloadSize(tar: TarReader): Promise<number | undefined> {
    const data = await tar.next();
    if (data === null || !/^data\/0000\.tar(\.gz|\.xz|\.zst)?$/.test(data.name)) return undefined;
    const where = `${this.path}: ${data.name}`;
    const inner = new TarReader(decompress(tar.body(), compressionOfName(data.name), where), where);
    try {
      return (await inner.next())?.size;
    } finally {
      await inner.close();
    }
  }

  private async expectMember(tar: TarReader, ok: (name: string) => boolean, expected: string): Promise<TarEntry> {
    const entry = await tar.next();
    if (entry === null) {
      throw new MenderDeltaError(`${this.path}: the Artifact ends where ${expected} was expected; it is truncated or not a Mender Artifact`);
    }
    if (!ok(entry.name)) throw this.orderError(entry, expected);
    return entry;
  }

  private orderError(entry: TarEntry, expected: string): MenderDeltaError {
    return new MenderDeltaError(`${this.path}: unexpected member '${entry.name}' at byte ${entry.offset}, expected ${expected} (${ORDER_HINT}); the file is not a valid Mender Artifact`);
  }

  private checkVersion(bytes: Uint8Array): void {
    let v: unknown;
    try {
      v = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new MenderDeltaError(`${this.path}: 'version' is not valid JSON; the file is not a Mender Artifact or is corrupt`);
    }
    const obj = (v ?? {}) as { format?: unknown; version?: unknown };
    if (obj.format !== "mender") throw new MenderDeltaError(`${this.path}: 'version' says format ${JSON.stringify(obj.format)}, expected "mender"; not a Mender Artifact`);
    if (obj.version !== 3) {
      throw new MenderDeltaError(
        `${this.path}: Artifact format version ${JSON.stringify(obj.version)} is not supported (only version 3); re-create it with a current mender-artifact (default format, no '-v 2')`,
      );
    }
  }

  private checkSum(name: string, bytes: Uint8Array, entry: TarEntry): void {
    const want = this.manifest.get(name);
    if (want === undefined) throw new MenderDeltaError(`${this.path}: '${name}' is not listed in the manifest; the Artifact is corrupt or was altered`);
    const got = createHash("sha256").update(bytes).digest("hex");
    if (got !== want) {
      throw new MenderDeltaError(
        `${this.path}: checksum mismatch for '${name}' (member at byte ${entry.offset}): manifest says ${want}, content is ${got}; the Artifact is corrupt or was altered`,
      );
    }
    this.seen.add(name);
  }

  private async readHeader(tar: TarReader, entry: TarEntry, sig: { signed: boolean; signatureVerified: boolean }): Promise<ArtifactHeaders> {
    const stored = await tar.readAll(HEADER_MEMBER_LIMIT);
    // The header is small: verify it before parsing, so nothing unauthenticated is ever interpreted.
    const key = this.manifest.has(entry.name) ? entry.name : "header.tar";
    this.checkSum(key, stored, entry);
    this.seen.add(entry.name);
    const compression = compressionOfName(entry.name);
    const where = `${this.path}: ${entry.name}`;
    const inner = new TarReader(decompress(single(stored), compression, where), where);
    try {
      const first = await inner.next();
      if (first === null || first.name !== "header-info") {
        throw new MenderDeltaError(`${where}: the first member must be 'header-info', found ${first ? `'${first.name}'` : "nothing"}; the Artifact is corrupt`);
      }
      const headerInfo = decodeHeaderInfo(await inner.readAll(JSON_LIMIT), `${where}: header-info`);
      const scripts: StateScript[] = [];
      const typeInfos: (TypeInfo | undefined)[] = [];
      const metaData: (MetaData | null)[] = [];
      for (let e = await inner.next(); e !== null; e = await inner.next()) {
        const script = /^scripts\/([^/]+)$/.exec(e.name);
        const part = /^headers\/(\d{4})\/(type-info|meta-data)$/.exec(e.name);
        if (script) {
          if (typeInfos.length > 0) throw new MenderDeltaError(`${where}: state script '${e.name}' comes after the payload headers; scripts must come first`);
          scripts.push({ name: script[1]!, mode: e.mode, content: await inner.readAll(SCRIPT_LIMIT) });
        } else if (part) {
          const index = Number(part[1]);
          if (index >= headerInfo.payloadTypes.length) {
            throw new MenderDeltaError(`${where}: '${e.name}' belongs to payload ${index}, but header-info declares ${headerInfo.payloadTypes.length} payload(s)`);
          }
          if (part[2] === "type-info") {
            if (typeInfos[index]) throw new MenderDeltaError(`${where}: '${e.name}' appears twice`);
            typeInfos[index] = decodeTypeInfo(await inner.readAll(JSON_LIMIT), `${where}: ${e.name}`);
          } else {
            if (metaData[index] !== undefined) throw new MenderDeltaError(`${where}: '${e.name}' appears twice`);
            metaData[index] = decodeMetaData(await inner.readAll(JSON_LIMIT), `${where}: ${e.name}`);
          }
        } else {
          throw new MenderDeltaError(
            `${where}: unexpected member '${e.name}' (a header holds header-info, scripts/*, headers/NNNN/type-info and headers/NNNN/meta-data); the Artifact is corrupt or of an unsupported kind`,
          );
        }
      }
      await inner.drain();
      const payloads = headerInfo.payloadTypes.map((type, index): PayloadHeader => {
        const typeInfo = typeInfos[index];
        if (!typeInfo) throw new MenderDeltaError(`${where}: payload ${index} has no headers/${String(index).padStart(4, "0")}/type-info; the Artifact is corrupt`);
        // mender-artifact 3.9 writes "" as the type-info type of rootfs-image payloads.
        if (typeInfo.type !== null && typeInfo.type !== "" && type !== null && typeInfo.type !== type) {
          throw new MenderDeltaError(
            `${where}: payload ${index} is of type '${type}' in header-info but '${typeInfo.type}' in its type-info; the Artifact is corrupt or crafted`,
          );
        }
        const prefix = `data/${String(index).padStart(4, "0")}/`;
        const files = [...this.manifest].filter(([name]) => name.startsWith(prefix)).map(([name, sha256]) => ({ name: name.slice(prefix.length), sha256 }));
        return { index, type, typeInfo, metaData: metaData[index] ?? null, files };
      });
      const extra = [...this.manifest.keys()].filter((name) => {
        const data = /^data\/(\d{4})\/[^/]+$/.exec(name);
        return name !== "version" && name !== key && !(data && Number(data[1]) < payloads.length);
      });
      if (extra.length > 0) {
        throw new MenderDeltaError(
          `${this.path}: the manifest lists ${extra.map((n) => `'${n}'`).join(", ")}, which cannot be part of this Artifact; it is corrupt or was altered`,
        );
      }
      return { formatVersion: 3, headerInfo, payloads, scripts, ...sig, compression, manifest: this.manifest };
    } finally {
      await inner.close();
    }
  }

  private async readData(tar: TarReader, entry: TarEntry, payload: PayloadHeader, out: ArtifactInfo["payloadFiles"]): Promise<void> {
    const where = `${this.path}: ${entry.name}`;
    const inner = new TarReader(decompress(tar.body(), compressionOfName(entry.name), where), where);
    const prefix = `data/${String(payload.index).padStart(4, "0")}/`;
    try {
      for (let e = await inner.next(); e !== null; e = await inner.next()) {
        if (!PAYLOAD_NAME.test(e.name)) {
          throw new MenderDeltaError(`${where}: payload file name '${e.name}' contains forbidden characters (allowed: letters, digits, '_', '-', '.', ','); the Artifact is corrupt or crafted`);
        }
        const key = prefix + e.name;
        const want = this.manifest.get(key);
        if (want === undefined) throw new MenderDeltaError(`${where}: payload file '${e.name}' is not listed in the manifest (as '${key}'); the Artifact is corrupt or was altered`);
        if (this.seen.has(key)) throw new MenderDeltaError(`${where}: payload file '${e.name}' appears twice`);
        const info: PayloadFileInfo = { payloadIndex: payload.index, name: e.name, size: e.size, sha256: want, mode: e.mode, mtime: e.mtime, payload };
        const sink = (await this.options.onPayloadFile?.(info)) ?? null;
        const hash = createHash("sha256");
        let got: string;
        try {
          for await (const chunk of inner.body()) {
            hash.update(chunk);
            if (sink) await writeTo(sink, chunk);
          }
          got = hash.digest("hex");
          if (got !== want) {
            throw new MenderDeltaError(`${where}: checksum mismatch for payload file '${key}': manifest says ${want}, content is ${got}; the Artifact is corrupt or was altered`);
          }
        } catch (err) {
          // A Writable sink is only ended (its 'finish' only fires) once its content is verified.
          if (sink instanceof Writable) sink.destroy();
          throw err;
        }
        if (sink) await endSink(sink);
        this.seen.add(key);
        out.push({ payloadIndex: payload.index, name: e.name, size: e.size, sha256: got });
      }
      // Reading to the very end lets the decompressor check its trailer (gzip CRC and length).
      await inner.drain();
      this.seen.add(entry.name);
    } finally {
      await inner.close();
    }
  }
}

/** An I/O failure while reading (EISDIR, EIO) is an expected error: say which file. */
async function* readErrorsNamed(source: AsyncIterable<Uint8Array>, file: string): AsyncGenerator<Uint8Array> {
  try {
    yield* source;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) throw new MenderDeltaError(`cannot read Artifact ${file}: ${(err as Error).message}`);
    throw err;
  }
}

function isAugment(name: string): boolean {
  return name === "manifest-augment" || name.startsWith("header-augment.tar");
}

async function* single(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * The decompressed bytes of `source`, through a Node Transform (errors and early exits propagate).
 * A decompressor's complaint is bad input: it gets the member's name (`where`). Errors from the
 * source (a truncated Artifact) already name it and pass unchanged; so does anything a consumer
 * throws, which never passes through here.
 */
async function* decompress(source: AsyncIterable<Uint8Array>, kind: Compression, where: string): AsyncGenerator<Uint8Array> {
  if (kind === "none") {
    yield* source;
    return;
  }
  const transform = pipeline(source, createDecompressor(kind), () => {
    /* errors surface through the iteration of the transform */
  });
  try {
    yield* transform;
  } catch (err) {
    const artifact = where.slice(0, where.lastIndexOf(": "));
    if (err instanceof MenderDeltaError) {
      throw err.message.startsWith(artifact) ? err : new MenderDeltaError(`${where}: ${err.message}; the Artifact is corrupt`);
    }
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === "string" && /^(Z_|ERR_ZSTD|ERR_ZLIB)/.test(code)) {
      throw new MenderDeltaError(`${where}: cannot decompress (${(err as Error).message}); the Artifact is corrupt`);
    }
    throw err;
  }
}

async function writeTo(sink: PayloadSink, chunk: Uint8Array): Promise<void> {
  if (sink instanceof Writable) {
    if (!sink.write(chunk)) await once(sink, "drain");
  } else {
    await sink.write(chunk);
  }
}

async function endSink(sink: PayloadSink): Promise<void> {
  if (sink instanceof Writable) {
    sink.end();
    await finished(sink);
  } else {
    await sink.end?.();
  }
}
