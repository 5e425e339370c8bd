// The build targets: targets/<arch>.json, read once for build.mjs, deb.mjs and archive.mjs.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const DIR = path.dirname(fileURLToPath(import.meta.url));

/** Every target, sorted by arch. */
export const TARGETS = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort()
  .map((f) => JSON.parse(readFileSync(path.join(DIR, f), "utf8")));

/** The targets named in a comma-separated list (all when it is empty); throws naming an unknown one. */
export function selectTargets(list) {
  const wanted = (list ?? "").split(",").filter(Boolean);
  const unknown = wanted.filter((a) => !TARGETS.some((t) => t.arch === a));
  if (unknown.length > 0) throw new Error(`unknown arch '${unknown.join(", ")}' (known: ${TARGETS.map((t) => t.arch).join(", ")})`);
  return wanted.length === 0 ? TARGETS : TARGETS.filter((t) => wanted.includes(t.arch));
}
