/**
 * The per-payload file tree the Mender client gives the module (protocol v3): header files,
 * the streaming FIFOs (stream-next, streams/) or the files/ fallback, and tmp/ for the module's
 * own state. Header JSON is parsed, never compared as bytes: 3.x and 4.x clients format it
 * differently.
 */
import fs from "node:fs";
import path from "node:path";
import { MenderDeltaError } from "../errors";

export type JsonObject = Record<string, unknown>;

export interface PayloadHeader {
  artifactName: string;
  payloadType: string;
  currentDeviceType: string;
  headerInfo: JsonObject;
  typeInfo: JsonObject;
  /** {} when the Artifact has none (the file holds "null" then). */
  metaData: JsonObject;
}

function readText(tree: string, rel: string): string {
  try {
    return fs.readFileSync(path.join(tree, rel), "utf8").trim();
  } catch (err) {
    throw new MenderDeltaError(`cannot read ${rel} in the module's file tree ${tree}: ${(err as Error).message}`);
  }
}

function readJson(tree: string, rel: string, optional: boolean): JsonObject {
  let text: string;
  try {
    text = fs.readFileSync(path.join(tree, rel), "utf8").trim();
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new MenderDeltaError(`cannot read ${rel} in the module's file tree ${tree}: ${(err as Error).message}`);
  }
  if (text === "" || text === "null") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MenderDeltaError(`${rel} in ${tree} is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new MenderDeltaError(`${rel} in ${tree} must be a JSON object`);
  }
  return value as JsonObject;
}

export function readPayloadHeader(tree: string): PayloadHeader {
  return {
    artifactName: readText(tree, "header/artifact_name"),
    payloadType: readText(tree, "header/payload_type"),
    currentDeviceType: readText(tree, "current_device_type"),
    headerInfo: readJson(tree, "header/header-info", false),
    typeInfo: readJson(tree, "header/type-info", false),
    metaData: readJson(tree, "header/meta-data", true),
  };
}

/** The module's private directory in the tree; it lives until Cleanup, across install/commit/rollback. */
export function tmpDir(tree: string): string {
  const dir = path.join(tree, "tmp");
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw stateWriteError(tree, "tmp/", err);
  }
  return dir;
}

function stateWriteError(tree: string, what: string, err: unknown): MenderDeltaError {
  return new MenderDeltaError(
    `cannot write the module's state ${what} in its file tree ${tree}: ${(err as Error).message}; ` +
      `the client's data directory (/var/lib/mender) must be writable and have free space`,
  );
}

/** Reads a JSON state file of ours from tmp/, or undefined. */
export function readState<T>(tree: string, name: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(tree, "tmp", name), "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MenderDeltaError(`the module's state file tmp/${name} in ${tree} is unreadable: ${(err as Error).message}`);
  }
}

/** Writes a JSON state file to tmp/ durably (temp file, fsync, rename); nothing half-written is left. */
export function writeState(tree: string, name: string, value: unknown): void {
  const dir = tmpDir(tree);
  const final = path.join(dir, name);
  const temp = `${final}.new`;
  try {
    const fd = fs.openSync(temp, "w", 0o600);
    try {
      const text = Buffer.from(JSON.stringify(value));
      for (let done = 0; done < text.length; ) done += fs.writeSync(fd, text, done);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, final);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw stateWriteError(tree, `file tmp/${name}`, err);
  }
}

/**
 * Fails, as writeState would, when the tree cannot take a state file: checked before a Download
 * reads its stream, so that a full or read-only data directory costs no download and no write.
 */
export function checkStateWritable(tree: string): void {
  writeState(tree, "write-check", {});
  removeState(tree, "write-check");
}

export function removeState(tree: string, name: string): void {
  fs.rmSync(path.join(tree, "tmp", name), { force: true });
}

export interface StreamEntry {
  /** Absolute path of the FIFO (streams/<name>). */
  path: string;
  name: string;
  /** Given by 4.x clients in DownloadWithFileSizes. */
  size?: number;
}

/**
 * Reads the next line of stream-next: a payload file to read now, or undefined at the end
 * (the client closes stream-next without writing). After undefined it must not be read again.
 */
export async function nextStream(tree: string): Promise<StreamEntry | undefined> {
  const text = (await fs.promises.readFile(path.join(tree, "stream-next"), "utf8")).trim();
  if (text === "") return undefined;
  // The file name comes from the Artifact: exactly one path component, so the FIFO we open is
  // always inside the tree ("streams/../../x" would make us read, and apply, any file).
  const m = /^streams\/([^/\s]+)(?:\s+(\d+))?$/.exec(text);
  if (!m || m[1] === "." || m[1] === "..") {
    throw new MenderDeltaError(`unexpected line from stream-next: ${JSON.stringify(text)} (expected "streams/<file> [size]", one file name without '/' or '..')`);
  }
  const name = m[1]!;
  return { path: path.join(tree, "streams", name), name, size: m[2] === undefined ? undefined : Number(m[2]) };
}

export function hasStreamNext(tree: string): boolean {
  return fs.existsSync(path.join(tree, "stream-next"));
}

/** Payload files the client wrote to files/ (when the module did not stream). */
export function listPayloadFiles(tree: string): string[] {
  const dir = path.join(tree, "files");
  try {
    return fs
      .readdirSync(dir)
      .sort()
      .map((f) => path.join(dir, f));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}
