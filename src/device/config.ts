/**
 * Configuration of the Update Module: `/etc/mender/mender-binary-delta.conf` (JSON: RootfsPartA,
 * RootfsPartB, FlashTool), with the client's own `mender.conf` files as fallback for keys the
 * module's file does not set. Keys match case-insensitively, as Go's encoding/json does for the
 * client. MENDER_BINARY_DELTA_CONF names another file to use instead of the module's default one.
 */
import fs from "node:fs";
import { MenderDeltaError } from "../errors";

export const DEFAULT_CONFIG_PATH = "/etc/mender/mender-binary-delta.conf";
/** mender.conf locations in the client's order of precedence (main file first). */
export const MENDER_CONFIG_PATHS = ["/etc/mender/mender.conf", "/var/lib/mender/mender.conf"];
export const CONFIG_ENV = "MENDER_BINARY_DELTA_CONF";

export interface ModuleConfig {
  rootfsPartA: string;
  rootfsPartB: string;
  /** Only recorded: the module writes partitions itself (see docs/device.md). */
  flashTool?: string;
  /** Where each value came from, for messages. */
  sources: string[];
}

type Json = Record<string, unknown>;

function readJsonFile(path: string): Json | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MenderDeltaError(`cannot read configuration file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new MenderDeltaError(`configuration file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new MenderDeltaError(`configuration file ${path} must hold a JSON object`);
  }
  return parsed as Json;
}

/** The value of `key` in `obj`, matched case-insensitively; an exact match wins. */
export function lookupKey(obj: Json, key: string): unknown {
  if (key in obj) return obj[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

function stringKey(obj: Json, key: string, path: string): string | undefined {
  const value = lookupKey(obj, key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new MenderDeltaError(`${key} in ${path} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

/** `menderConfigPaths` is for tests; the device uses the client's locations. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, menderConfigPaths = MENDER_CONFIG_PATHS): ModuleConfig {
  const ownPath = env[CONFIG_ENV] || DEFAULT_CONFIG_PATH;
  const own = readJsonFile(ownPath);
  if (!own && env[CONFIG_ENV]) {
    throw new MenderDeltaError(`${CONFIG_ENV} names ${ownPath}, which does not exist`);
  }
  const layers: [string, Json][] = [];
  if (own) layers.push([ownPath, own]);
  for (const p of menderConfigPaths) {
    const obj = readJsonFile(p);
    if (obj) layers.push([p, obj]);
  }
  const sources: string[] = [];
  const pick = (key: string): string | undefined => {
    for (const [path, obj] of layers) {
      const v = stringKey(obj, key, path);
      if (v !== undefined) {
        sources.push(`${key} from ${path}`);
        return v;
      }
    }
    return undefined;
  };
  const rootfsPartA = pick("RootfsPartA");
  const rootfsPartB = pick("RootfsPartB");
  const flashTool = pick("FlashTool");
  if (!rootfsPartA || !rootfsPartB) {
    const looked = [ownPath, ...menderConfigPaths].join(", ");
    throw new MenderDeltaError(
      `RootfsPartA and RootfsPartB are not both set (looked in ${looked}). ` +
        `Write them to ${DEFAULT_CONFIG_PATH}, e.g. {"RootfsPartA": "/dev/mmcblk0p2", "RootfsPartB": "/dev/mmcblk0p3"}`,
    );
  }
  if (flashTool !== undefined && !["mender-flash", "cat", "dd"].includes(flashTool)) {
    throw new MenderDeltaError(
      `FlashTool "${flashTool}" is not supported: this module writes block devices itself (UBI volumes are not supported). ` +
        `Remove FlashTool from the configuration or set it to "mender-flash".`,
    );
  }
  return { rootfsPartA, rootfsPartB, flashTool, sources };
}
