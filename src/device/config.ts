/**
 * Configuration of the Update Module: `mender-binary-delta.conf` in the client's configuration
 * directory (JSON: RootfsPartA, RootfsPartB, FlashTool), with the client's own `mender.conf` files as
 * fallback for keys the module's file does not set. Keys match case-insensitively, as Go's
 * encoding/json does for the client. MENDER_BINARY_DELTA_CONF names another file to use instead of
 * the module's default one.
 *
 * The directories are the client's: the 4.x/5.x client takes them from MENDER_CONF_DIR and
 * MENDER_DATASTORE_DIR (and passes its environment on to the module), so the module looks where the
 * client that runs it looks, in the order of Mender's own rootfs-image module: the main mender.conf
 * wins over the data store's fallback copy. An empty variable counts as unset, as in that module.
 */
import fs from "node:fs";
import path from "node:path";
import { MenderDeltaError } from "../errors";

export const CONFIG_ENV = "MENDER_BINARY_DELTA_CONF";
const CONF_DIR_ENV = "MENDER_CONF_DIR";
const DATASTORE_DIR_ENV = "MENDER_DATASTORE_DIR";
const DEFAULT_CONF_DIR = "/etc/mender";
const DEFAULT_DATASTORE_DIR = "/var/lib/mender";
const OWN_FILE = "mender-binary-delta.conf";

export interface ConfigPaths {
  /** The module's own file. */
  own: string;
  /** mender.conf locations in the client's order of precedence (main file first). */
  menderConf: string[];
}

/** Where the module and the client that runs it keep their configuration, given the environment. */
export function configPaths(env: NodeJS.ProcessEnv = process.env): ConfigPaths {
  const confDir = env[CONF_DIR_ENV] || DEFAULT_CONF_DIR;
  const storeDir = env[DATASTORE_DIR_ENV] || DEFAULT_DATASTORE_DIR;
  return {
    own: env[CONFIG_ENV] || path.join(confDir, OWN_FILE),
    menderConf: [path.join(confDir, "mender.conf"), path.join(storeDir, "mender.conf")],
  };
}

export interface ModuleConfig {
  rootfsPartA: string;
  rootfsPartB: string;
  /** Only recorded: the module writes partitions itself (see docs/device.md). */
  flashTool?: string;
  /** Where each value came from, for messages. */
  sources: string[];
}

type Json = Record<string, unknown>;

function readJsonFile(file: string): Json | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MenderDeltaError(`cannot read configuration file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new MenderDeltaError(`configuration file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new MenderDeltaError(`configuration file ${file} must hold a JSON object`);
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

function stringKey(obj: Json, key: string, file: string): string | undefined {
  const value = lookupKey(obj, key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new MenderDeltaError(`${key} in ${file} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

/** `menderConfigPaths` is for tests; the device uses the client's locations (configPaths). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, menderConfigPaths?: string[]): ModuleConfig {
  const paths = configPaths(env);
  const ownPath = paths.own;
  const own = readJsonFile(ownPath);
  if (!own && env[CONFIG_ENV]) {
    throw new MenderDeltaError(`${CONFIG_ENV} names ${ownPath}, which does not exist`);
  }
  const looked: [string, Json | undefined][] = [[ownPath, own], ...(menderConfigPaths ?? paths.menderConf).map((p): [string, Json | undefined] => [p, readJsonFile(p)])];
  const layers = looked.filter((l): l is [string, Json] => l[1] !== undefined);
  const sources: string[] = [];
  const pick = (key: string): string | undefined => {
    for (const [file, obj] of layers) {
      const v = stringKey(obj, key, file);
      if (v !== undefined) {
        sources.push(`${key} from ${file}`);
        return v;
      }
    }
    return undefined;
  };
  const rootfsPartA = pick("RootfsPartA");
  const rootfsPartB = pick("RootfsPartB");
  const flashTool = pick("FlashTool");
  if (!rootfsPartA || !rootfsPartB) {
    const found = (file: string, obj: Json | undefined): string => {
      if (!obj) return "not found";
      const keys = ["RootfsPartA", "RootfsPartB"].filter((k) => stringKey(obj, k, file) !== undefined);
      return keys.length === 0 ? "sets neither" : `sets ${keys[0]} only`;
    };
    throw new MenderDeltaError(
      `RootfsPartA and RootfsPartB are not both set (looked in ${looked.map(([file, obj]) => `${file}: ${found(file, obj)}`).join(", ")}). ` +
        `Write them to ${ownPath}, e.g. {"RootfsPartA": "/dev/mmcblk0p2", "RootfsPartB": "/dev/mmcblk0p3"}`,
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
