/**
 * HDiffPatch, the smallest byte-level peer issue #22 measures against: its native diff
 * (`hdiffz -m-6 OLD NEW OUT`, uncompressed) then `xz -9`, as the table was measured.
 *
 * Debian does not package HDiffPatch, so hdiffz is looked for, in this order:
 *   1. $HDIFFZ (a path to the program);
 *   2. `hdiffz` on PATH;
 *   3. an earlier build in ~/.cache/mbd-peers/hdiffpatch-4.12.0/bin;
 *   4. built there by the peer kit's build.sh (about 20 s; it apt-installs its compiler as root):
 *      the kit is $HDIFFPATCH_KIT, else shared/peers/hdiffpatch-4.12.0 beside the repository.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, sequence, timed, type Timed } from "./pairs";

const BUILT = path.join(os.homedir(), ".cache", "mbd-peers", "hdiffpatch-4.12.0");

/** hdiffz's path and how it was found; or no path and why not, with what to do. */
export interface Hdiffz {
  path: string | null;
  how: string;
}

function onPath(name: string): string | null {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function findHdiffz(): Hdiffz {
  const given = process.env.HDIFFZ;
  if (given) return fs.existsSync(given) ? { path: given, how: "$HDIFFZ" } : { path: null, how: `$HDIFFZ names ${given}, which does not exist` };
  const found = onPath("hdiffz");
  if (found) return { path: found, how: "on PATH" };
  const cached = path.join(BUILT, "bin", "hdiffz");
  if (fs.existsSync(cached)) return { path: cached, how: `built earlier in ${BUILT}` };
  const kit = process.env.HDIFFPATCH_KIT ?? path.resolve(ROOT, "..", "shared", "peers", "hdiffpatch-4.12.0");
  const script = path.join(kit, "build.sh");
  if (!fs.existsSync(script)) {
    return { path: null, how: `no hdiffz: set HDIFFZ to the program, or HDIFFPATCH_KIT to the peer kit (hdiffpatch-4.12.0 with build.sh; not found at ${kit})` };
  }
  process.stdout.write(`building hdiffz: bash ${script} ${BUILT} (about 20 s, once)\n`);
  const r = spawnSync("bash", [script, BUILT], { encoding: "utf8" });
  if (r.status !== 0 || !fs.existsSync(cached)) return { path: null, how: `building hdiffz with ${script} failed: ${(r.stderr || r.stdout).trim()}` };
  return { path: cached, how: `built now from ${kit} into ${BUILT}` };
}

/** The program's own version line (e.g. "HDiffPatch::hdiffz v4.12.0"). */
export function hdiffzVersion(hdiffz: string): string {
  return spawnSync(hdiffz, ["-v"], { encoding: "utf8" }).stdout.trim().split("\n")[0] ?? "hdiffz";
}

/** `hdiffz -m-6 FROM TO` then `xz -9` in `dir` (created): the compressed diff and both steps' time as one. */
export function hdiffzNativeXz(hdiffz: string, fromImage: string, toImage: string, dir: string): { file: string; time: Timed } {
  fs.mkdirSync(dir, { recursive: true });
  const diff = path.join(dir, "native.hdiff");
  const diffTime = timed(hdiffz, ["-m-6", fromImage, toImage, diff], [fromImage, toImage]);
  const xzTime = timed("xz", ["-9", "-f", diff], [diff]);
  return { file: `${diff}.xz`, time: sequence([diffTime, xzTime]) };
}
