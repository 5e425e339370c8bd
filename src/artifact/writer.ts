/**
 * Writes Mender Artifacts (format version 3) in exactly the layout mender-artifact 3.x writes:
 * `version`, `manifest`, [`manifest.sig`], `header.tar<ext>`, `data/0000.tar<ext>`; ustar headers
 * as Go's archive/tar writes them; compact JSON in Go's field order. Output is deterministic: the
 * same spec and input files give the same bytes (all times and owners come from the spec).
 *
 * The output appears only when complete: it is written to a temporary file next to `outPath` and
 * renamed; on any failure nothing is left behind.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, promises as fsp } from "node:fs";
import path from "node:path";
import type { Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { MenderDeltaError } from "../errors";
import { compressionSuffix, createCompressor, type Compression } from "./compression";
import type { CompressionTuning } from "./compressions/artifact-compression";
import { COMPRESSIONS, DEFAULT_ARTIFACT_COMPRESSION, isCompression } from "./compressions";
import { encodeHeaderInfo, encodeMetaData, encodeTypeInfo, type MetaData } from "./headers";
import { formatManifest, type ManifestEntry } from "./manifest";
import { signManifest } from "./signature";
import { tarBytes, TarWriter } from "./tar-writer";
import type { TarEntryHeader } from "./tar-header";

export interface FileSpec {
  /** The file to read. */
  path: string;
  /** Its name in the Artifact (default: the basename of `path`). */
  name?: string;
  /** Default 0644 for payload files, 0755 for scripts. */
  mode?: number;
  /** Seconds since the epoch; default: the spec's `mtime`. */
  mtime?: number;
}

export interface PayloadSpec {
  /** Payload type: "rootfs-image" or an Update Module name such as "mender-binary-delta". */
  type: string;
  /**
   * The `type` written in type-info. Default: "" for rootfs-image (what mender-artifact 3.9
   * writes and every client reads), the payload type otherwise.
   */
  typeInfoType?: string;
  /** type-info `artifact_provides`; nothing is added by default (unlike mender-artifact's CLI). */
  provides?: Record<string, string>;
  /** type-info `artifact_depends`. */
  depends?: Record<string, string | string[]>;
  /** type-info `clears_artifact_provides`; omitted when undefined or empty. */
  clearsProvides?: string[];
  /** meta-data. Written when given; rootfs-image always gets the member (empty when not given). */
  metaData?: MetaData;
  /** Payload files, in order. Names must match [A-Za-z0-9_\-.,]+. */
  files: FileSpec[];
}

export interface ArtifactSpec {
  artifactName: string;
  artifactGroup?: string;
  /** Device types the Artifact is for (`artifact_depends.device_type`); at least one. */
  deviceTypes: string[];
  /** Install only over one of these Artifact names. */
  dependsArtifactNames?: string[];
  /** Install only on devices in one of these groups. */
  dependsGroups?: string[];
  payload: PayloadSpec;
  /** State scripts, named `<State>_<Enter|Leave|Error>_<NN>[_<description>]`. */
  scripts?: FileSpec[];
  /**
   * gzip (default; every Mender client), xz (every Mender client; the smallest), none, or zstd
   * (only on a runtime with zstd: Node 22.15+; Mender clients older than 3.5 and mender-artifact
   * older than 3.10 cannot read zstd).
   */
  compression?: Compression;
  /** Compressor level (gzip 0-9, default 6; zstd 1-19, default 3; xz 0-9, default 9: the dictionary size as xz -0..-9). */
  compressionLevel?: number;
  /** Threads and block size of the payload's compressor (xz); the output does not depend on threads. */
  compressionTuning?: CompressionTuning;
  /** PEM private key (RSA, or ECDSA P-256) to sign the manifest with. */
  signingKey?: string | Buffer;
  /** Modification time (seconds since the epoch) of header.tar, data/0000.tar and, by default, of files. Default 0. */
  mtime?: number;
  /** Owner name written for header.tar, data/0000.tar and files (as mender-artifact looks it up). Default "root". */
  owner?: string;
}

export interface WriteOptions {
  /**
   * Called as the payload files' bytes are taken by the compressor (the bytes just consumed): the
   * compressing is most of the writing, so the sum of the payload sizes is its 100 %.
   */
  onPayloadProgress?(bytes: number): void;
}

export interface WrittenArtifact {
  path: string;
  size: number;
  manifest: ManifestEntry[];
  /** The payload files as written: name, size and SHA-256 of their content. */
  payloadFiles: { name: string; size: number; sha256: string }[];
}

const PAYLOAD_NAME = /^[\w\-.,]+$/;
const SCRIPT_NAME = /^(ArtifactInstall|ArtifactReboot|ArtifactCommit|ArtifactRollback|ArtifactRollbackReboot|ArtifactFailure)_(Enter|Leave|Error)_\d\d(_\S+)?$/;
const VERSION_JSON = new TextEncoder().encode('{"format":"mender","version":3}');
/** Header fields of version, manifest, manifest.sig and the JSON members of header.tar (as Go writes them). */
const SMALL_MEMBER: Omit<TarEntryHeader, "name" | "size"> = { mode: 0o600, uid: 0, gid: 0, mtime: 0, uname: "", gname: "" };

/** Why an Artifact cannot carry a state script of this name, or undefined when it can. */
export function stateScriptNameProblem(name: string): string | undefined {
  if (SCRIPT_NAME.test(name)) return undefined;
  return `state script name '${name}' is not <ArtifactInstall|ArtifactReboot|ArtifactCommit|ArtifactRollback|ArtifactRollbackReboot|ArtifactFailure>_<Enter|Leave|Error>_<NN>[_<description>]`;
}

/** Writes the Artifact described by `spec` to `outPath` (atomically: temp file + rename). */
export async function writeArtifact(outPath: string, spec: ArtifactSpec, options: WriteOptions = {}): Promise<WrittenArtifact> {
  const compression = spec.compression ?? DEFAULT_ARTIFACT_COMPRESSION;
  checkSpec(spec, compression);
  const dir = path.dirname(path.resolve(outPath));
  if (!(await fsp.stat(dir).then((st) => st.isDirectory(), () => false))) {
    throw new MenderDeltaError(`cannot write Artifact ${outPath}: directory ${dir} does not exist`);
  }
  const suffix = `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const tmpOut = outPath + suffix;
  const tmpData = `${outPath}.data${suffix}`;
  try {
    const result = await writeTo(outPath, tmpOut, tmpData, spec, compression, options);
    await fsp.rename(tmpOut, outPath);
    return result;
  } catch (err) {
    await fsp.rm(tmpOut, { force: true });
    throw fsError(err, outPath);
  } finally {
    await fsp.rm(tmpData, { force: true });
  }
}

async function writeTo(
  outPath: string, tmpOut: string, tmpData: string, spec: ArtifactSpec, compression: Compression, options: WriteOptions,
): Promise<WrittenArtifact> {
  const mtime = spec.mtime ?? 0;
  const owner = spec.owner ?? "root";
  const ext = compressionSuffix(compression);

  // The payload goes to a compressed temporary tar first: the manifest (which precedes it in the
  // Artifact) needs the files' checksums, and each file is read only once.
  const payloadFiles = await writeDataTar(tmpData, spec, compression, owner, options.onPayloadProgress);
  const headerTar = tarBytes(await headerMembers(spec, owner));
  const headerStored = await compressBytes(headerTar, compression, spec.compressionLevel);

  const manifest: ManifestEntry[] = [
    ...payloadFiles.map((f) => ({ name: `data/0000/${f.name}`, sha256: f.sha256 })),
    { name: `header.tar${ext}`, sha256: sha256(headerStored) },
    { name: "version", sha256: sha256(VERSION_JSON) },
  ];
  const manifestBytes = formatManifest(manifest);
  const signature = spec.signingKey !== undefined ? new TextEncoder().encode(signManifest(manifestBytes, spec.signingKey)) : undefined;

  const out = createWriteStream(tmpOut, { mode: 0o644 });
  const size = await writeTar(out, finished(out), async (tar) => {
    await tar.addBytes({ ...SMALL_MEMBER, name: "version" }, VERSION_JSON);
    await tar.addBytes({ ...SMALL_MEMBER, name: "manifest" }, manifestBytes);
    if (signature) await tar.addBytes({ ...SMALL_MEMBER, name: "manifest.sig" }, signature);
    const member = { mode: 0o600, uid: 0, gid: 0, mtime, uname: owner, gname: owner };
    await tar.addBytes({ ...member, name: `header.tar${ext}` }, headerStored);
    const dataSize = (await fsp.stat(tmpData)).size;
    await tar.addStream({ ...member, name: `data/0000.tar${ext}`, size: dataSize }, createReadStream(tmpData, { highWaterMark: 1 << 20 }));
  });
  return { path: outPath, size, manifest, payloadFiles };
}

async function writeDataTar(
  tmpData: string, spec: ArtifactSpec, compression: Compression, owner: string, consumed?: (bytes: number) => void,
): Promise<WrittenArtifact["payloadFiles"]> {
  const files: WrittenArtifact["payloadFiles"] = [];
  const sizes: number[] = [];
  for (const f of spec.payload.files) sizes.push(await regularFileSize(f.path, "payload file"));
  // The inner tar's size (headers and padding included) lets xz size its dictionary to the payload.
  const tarSize = sizes.reduce((sum, size) => sum + 1024 + size, 1024);
  const compressor = createCompressor(compression, spec.compressionLevel, tarSize, spec.compressionTuning);
  await writeTar(compressor, pipeline(compressor, createWriteStream(tmpData, { mode: 0o600 })), async (tar) => {
    for (const [k, f] of spec.payload.files.entries()) {
      const name = f.name ?? path.basename(f.path);
      const size = sizes[k]!;
      const hash = createHash("sha256");
      await tar.addStream(fileHeader(f, name, size, 0o644, spec, owner), hashing(createReadStream(f.path, { highWaterMark: 1 << 20 }), hash, consumed));
      files.push({ name, size, sha256: hash.digest("hex") });
    }
  });
  return files;
}

/**
 * Writes a tar into `out` through `body`, ends `out` and waits for `done` (the file is complete).
 * On failure both are torn down; `done` rejecting early (a full disk) is never left unhandled.
 */
async function writeTar(out: Writable, done: Promise<unknown>, body: (tar: TarWriter) => Promise<void>): Promise<number> {
  done.catch(() => undefined);
  const tar = new TarWriter(out);
  try {
    await body(tar);
    await tar.finish();
    out.end();
    await done;
  } catch (err) {
    out.destroy();
    await done.catch(() => undefined);
    throw err;
  }
  return tar.written;
}

async function headerMembers(spec: ArtifactSpec, owner: string): Promise<{ header: Omit<TarEntryHeader, "size">; data: Uint8Array }[]> {
  const p = spec.payload;
  const members = [
    {
      header: { ...SMALL_MEMBER, name: "header-info" },
      data: encodeHeaderInfo({
        payloadTypes: [p.type],
        artifactName: spec.artifactName,
        artifactGroup: spec.artifactGroup,
        deviceTypes: spec.deviceTypes,
        dependsArtifactNames: spec.dependsArtifactNames,
        dependsGroups: spec.dependsGroups,
      }),
    },
  ];
  // mender-artifact emits scripts in Go map order (random); sorted keeps the output reproducible.
  const scripts = [...(spec.scripts ?? [])].sort((a, b) => scriptName(a).localeCompare(scriptName(b)));
  for (const s of scripts) {
    const name = scriptName(s);
    await regularFileSize(s.path, "state script");
    const data = await fsp.readFile(s.path);
    members.push({ header: { ...fileHeader(s, name, data.length, 0o755, spec, owner), name: `scripts/${name}` }, data });
  }
  const typeInfo = encodeTypeInfo({
    type: p.typeInfoType ?? (p.type === "rootfs-image" ? "" : p.type),
    depends: p.depends ?? {},
    provides: p.provides ?? {},
    clearsProvides: p.clearsProvides,
  });
  members.push({ header: { ...SMALL_MEMBER, name: "headers/0000/type-info" }, data: typeInfo });
  if (p.metaData !== undefined) members.push({ header: { ...SMALL_MEMBER, name: "headers/0000/meta-data" }, data: encodeMetaData(p.metaData) });
  else if (p.type === "rootfs-image") members.push({ header: { ...SMALL_MEMBER, name: "headers/0000/meta-data" }, data: new Uint8Array(0) });
  return members;
}

function fileHeader(f: FileSpec, name: string, size: number, defaultMode: number, spec: ArtifactSpec, owner: string): TarEntryHeader {
  return { name, size, mode: f.mode ?? defaultMode, uid: 0, gid: 0, mtime: f.mtime ?? spec.mtime ?? 0, uname: owner, gname: owner };
}

function scriptName(s: FileSpec): string {
  return s.name ?? path.basename(s.path);
}

function checkSpec(spec: ArtifactSpec, compression: Compression): void {
  const bad = (why: string): never => {
    throw new MenderDeltaError(`cannot write Artifact: ${why}`);
  };
  if (!spec.artifactName) bad("the Artifact name is empty");
  if (spec.deviceTypes.length === 0 || spec.deviceTypes.some((d) => d === "")) bad("at least one (non-empty) device type is required");
  if (!spec.payload.type) bad("the payload type is empty");
  if (!isCompression(compression)) {
    const ids = COMPRESSIONS.map((c) => c.id);
    bad(`compression '${compression}' is not supported for writing (use ${ids.slice(0, -1).join(", ")} or ${ids.at(-1)})`);
  }
  const names = new Set<string>();
  for (const f of spec.payload.files) {
    const name = f.name ?? path.basename(f.path);
    if (!PAYLOAD_NAME.test(name)) bad(`payload file name '${name}' may only contain letters, digits, '_', '-', '.' and ','`);
    if (names.has(name)) bad(`two payload files are named '${name}'`);
    names.add(name);
  }
  for (const s of spec.scripts ?? []) {
    const problem = stateScriptNameProblem(scriptName(s));
    if (problem !== undefined) bad(problem);
  }
  // Fails early (before reading gigabytes) when the runtime lacks the compressor.
  createCompressor(compression, spec.compressionLevel).destroy();
}

async function regularFileSize(file: string, what: string): Promise<number> {
  let st;
  try {
    st = await fsp.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MenderDeltaError(`cannot read ${what} ${file}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  if (!st.isFile()) throw new MenderDeltaError(`${what} ${file} is not a regular file`);
  return st.size;
}

/**
 * Hashes what passes through. `consumed` hears of a chunk once the consumer asks for the next one:
 * the tar writer has then written it and waited for the compressor to drain, so it counts bytes
 * compressed, not bytes read ahead.
 */
async function* hashing(
  source: AsyncIterable<Uint8Array>, hash: ReturnType<typeof createHash>, consumed?: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
    consumed?.(chunk.length);
  }
}

async function compressBytes(data: Uint8Array, compression: Compression, level: number | undefined): Promise<Uint8Array> {
  const c = createCompressor(compression, level, data.length);
  const chunks: Uint8Array[] = [];
  c.on("data", (chunk: Uint8Array) => chunks.push(chunk));
  c.end(data);
  await new Promise<void>((resolve, reject) => {
    c.once("end", resolve);
    c.once("error", reject);
  });
  return Buffer.concat(chunks);
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** File-system failures (no space, no permission, missing directory) are expected: say where. */
function fsError(err: unknown, outPath: string): unknown {
  if (err instanceof MenderDeltaError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) {
    return new MenderDeltaError(`cannot write Artifact ${outPath}: ${(err as Error).message} (check the directory exists, is writable and has space)`);
  }
  return err;
}
