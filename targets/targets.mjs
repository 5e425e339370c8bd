// The build targets: targets/<arch>.json, read once for build.mjs, deb.mjs and archive.mjs.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(DIR);

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

/** The last commit's time (the release outputs' timestamp), or 0 outside a git checkout. */
export function commitTime(root = ROOT) {
  try {
    return Number(execFileSync("git", ["log", "-1", "--format=%ct"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || 0);
  } catch {
    return 0;
  }
}

/**
 * The command line of a packer of built binaries (targets/archive.mjs, targets/deb.mjs):
 *   [--dist DIR] [--out DIR] [--arch LIST]; SOURCE_DATE_EPOCH or the last commit's time.
 * `pack` returns the files it wrote; they are printed one a line. Errors are one line.
 */
export function runPacker(name, pack) {
  const { values: opts } = parseArgs({
    options: {
      dist: { type: "string", default: path.join(ROOT, "dist") },
      out: { type: "string" },
      arch: { type: "string" },
    },
  });
  let targets;
  try {
    targets = selectTargets(opts.arch);
  } catch (e) {
    process.stderr.write(`${name}: ${e.message}\n`);
    process.exit(2);
  }
  const { version } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? commitTime());
  try {
    for (const f of pack({ targets, dist: path.resolve(opts.dist), outDir: path.resolve(opts.out ?? opts.dist), version, epoch })) process.stdout.write(`${f}\n`);
  } catch (e) {
    process.stderr.write(`${name}: ${e.message}\n`);
    process.exit(1);
  }
}
