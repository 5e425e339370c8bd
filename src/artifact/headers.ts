/**
 * The JSON members of `header.tar`: `header-info`, `headers/NNNN/type-info`, `headers/NNNN/meta-data`.
 * Encoding matches mender-artifact (Go `json.Marshal`): compact, struct fields in declaration
 * order, map keys sorted, `<>&` escaped. Decoding validates what Mender clients require.
 */
import { MenderDeltaError } from "../errors";

/** `header-info`: what the Artifact is and which devices/releases it applies to. */
export interface HeaderInfo {
  /** One entry per payload: its type, or null for an empty (bootstrap) payload. */
  payloadTypes: (string | null)[];
  artifactName: string;
  artifactGroup?: string;
  /** `artifact_depends.device_type`: never empty. */
  deviceTypes: string[];
  /** `artifact_depends.artifact_name`: the Artifact installs only over one of these. */
  dependsArtifactNames?: string[];
  /** `artifact_depends.artifact_group`. */
  dependsGroups?: string[];
}

/** `headers/NNNN/type-info`. */
export interface TypeInfo {
  /** `type`: the payload type; mender-artifact 3.9 writes "" for rootfs-image, null for bootstrap. */
  type: string | null;
  depends: Record<string, string | string[]>;
  provides: Record<string, string>;
  /** `clears_artifact_provides`; undefined when absent (a client then clears every provide). */
  clearsProvides?: string[];
}

export type MetaData = Record<string, unknown>;

/** Go's json.Marshal for plain data: sorted object keys, HTML-safe escapes. */
export function goJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/** A JSON object with keys in the given (struct) order; fields whose JSON is undefined are left out. */
function structJson(fields: [string, string | undefined][]): string {
  return `{${fields.filter(([, json]) => json !== undefined).map(([k, json]) => `${JSON.stringify(k)}:${json}`).join(",")}}`;
}

/** goJson, or undefined for undefined (an omitted field). */
function field(value: unknown): string | undefined {
  return value === undefined ? undefined : goJson(value);
}

function nonEmpty<T>(list: T[] | undefined): T[] | undefined {
  return list && list.length > 0 ? list : undefined;
}

function nonEmptyMap<T>(map: Record<string, T> | undefined): Record<string, T> | undefined {
  return map && Object.keys(map).length > 0 ? map : undefined;
}

export function encodeHeaderInfo(h: HeaderInfo): Uint8Array {
  const provides = structJson([
    ["artifact_name", field(h.artifactName)],
    ["artifact_group", field(h.artifactGroup || undefined)],
  ]);
  const depends = structJson([
    ["artifact_name", field(nonEmpty(h.dependsArtifactNames))],
    ["device_type", field(h.deviceTypes)],
    ["artifact_group", field(nonEmpty(h.dependsGroups))],
  ]);
  const json = structJson([
    ["payloads", goJson(h.payloadTypes.map((type) => ({ type })))],
    ["artifact_provides", provides],
    ["artifact_depends", depends],
  ]);
  return new TextEncoder().encode(json);
}

export function encodeTypeInfo(t: TypeInfo): Uint8Array {
  const json = structJson([
    ["type", goJson(t.type)],
    ["artifact_depends", field(nonEmptyMap(t.depends))],
    ["artifact_provides", field(nonEmptyMap(t.provides))],
    ["clears_artifact_provides", field(nonEmpty(t.clearsProvides))],
  ]);
  return new TextEncoder().encode(json);
}

export function encodeMetaData(m: MetaData): Uint8Array {
  return new TextEncoder().encode(goJson(m));
}

// ---- decoding ----

/**
 * Deepest nesting accepted in header JSON. Real headers nest a few levels; a deeply nested value
 * (a JSON bomb) would make every recursive consumer (JSON.stringify, goJson) overflow the stack.
 * mender-artifact (Go's encoding/json) refuses more than 10000 levels.
 */
const MAX_JSON_DEPTH = 1000;

/** Nesting depth of arrays/objects in JSON text (brackets inside strings do not count). */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function parseJsonObject(bytes: Uint8Array, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    const depth = jsonDepth(text);
    if (depth > MAX_JSON_DEPTH) {
      throw new MenderDeltaError(
        `${where} nests ${depth} levels deep (limit ${MAX_JSON_DEPTH}); the Artifact is corrupt or crafted to exhaust the reader`,
      );
    }
    value = JSON.parse(text);
  } catch (err) {
    if (err instanceof MenderDeltaError) throw err;
    throw new MenderDeltaError(`${where} is not valid JSON (${err instanceof Error ? err.message : String(err)}); the Artifact is corrupt`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new MenderDeltaError(`${where} must be a JSON object; the Artifact is corrupt`);
  }
  return value as Record<string, unknown>;
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

function optionalStringList(obj: Record<string, unknown>, key: string, where: string): string[] | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!isStringList(v)) throw new MenderDeltaError(`${where}: '${key}' must be a list of strings`);
  return v;
}

function optionalObject(obj: Record<string, unknown>, key: string, where: string): Record<string, unknown> {
  const v = obj[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new MenderDeltaError(`${where}: '${key}' must be a JSON object`);
  return v as Record<string, unknown>;
}

export function decodeHeaderInfo(bytes: Uint8Array, where: string): HeaderInfo {
  const obj = parseJsonObject(bytes, where);
  const payloads = obj.payloads;
  if (!Array.isArray(payloads) || payloads.length === 0) throw new MenderDeltaError(`${where}: 'payloads' must be a non-empty list`);
  const payloadTypes = payloads.map((p, i) => {
    const type = p !== null && typeof p === "object" ? (p as Record<string, unknown>).type : undefined;
    if (type !== null && typeof type !== "string") throw new MenderDeltaError(`${where}: payloads[${i}].type must be a string or null`);
    return type;
  });
  const provides = optionalObject(obj, "artifact_provides", where);
  const depends = optionalObject(obj, "artifact_depends", where);
  if (typeof provides.artifact_name !== "string" || provides.artifact_name === "") {
    throw new MenderDeltaError(`${where}: 'artifact_provides.artifact_name' is missing; every Artifact must have a name`);
  }
  if (provides.artifact_group !== undefined && typeof provides.artifact_group !== "string") {
    throw new MenderDeltaError(`${where}: 'artifact_provides.artifact_group' must be a string`);
  }
  const deviceTypes = optionalStringList(depends, "device_type", where);
  if (!deviceTypes || deviceTypes.length === 0) {
    throw new MenderDeltaError(`${where}: 'artifact_depends.device_type' is missing or empty; every Artifact must name the device types it is for`);
  }
  const info: HeaderInfo = { payloadTypes, artifactName: provides.artifact_name, deviceTypes };
  if (provides.artifact_group) info.artifactGroup = provides.artifact_group as string;
  const names = optionalStringList(depends, "artifact_name", where);
  if (names) info.dependsArtifactNames = names;
  const groups = optionalStringList(depends, "artifact_group", where);
  if (groups) info.dependsGroups = groups;
  return info;
}

export function decodeTypeInfo(bytes: Uint8Array, where: string): TypeInfo {
  const obj = parseJsonObject(bytes, where);
  const type = obj.type ?? null;
  if (type !== null && typeof type !== "string") throw new MenderDeltaError(`${where}: 'type' must be a string or null`);
  const provides: Record<string, string> = {};
  for (const [k, v] of Object.entries(optionalObject(obj, "artifact_provides", where))) {
    if (typeof v !== "string") throw new MenderDeltaError(`${where}: artifact_provides '${k}' must be a string`);
    provides[k] = v;
  }
  const depends: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(optionalObject(obj, "artifact_depends", where))) {
    if (typeof v !== "string" && !isStringList(v)) throw new MenderDeltaError(`${where}: artifact_depends '${k}' must be a string or a list of strings`);
    depends[k] = v;
  }
  const info: TypeInfo = { type, depends, provides };
  const clears = optionalStringList(obj, "clears_artifact_provides", where);
  if (clears) info.clearsProvides = clears;
  return info;
}

/** meta-data: a JSON object, or null for an absent or empty (0-byte, as rootfs-image writes) member. */
export function decodeMetaData(bytes: Uint8Array, where: string): MetaData | null {
  if (bytes.length === 0) return null;
  return parseJsonObject(bytes, where);
}
