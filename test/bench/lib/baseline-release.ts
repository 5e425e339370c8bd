/**
 * The release issue #22 calls "today's": mender-binary-delta 0.1.0 as it stood when the issue was
 * filed, commit 71d2de1, the last before the file-aware format (its generator makes the issue's
 * VCDIFF sizes to the byte: U 1,170,944, A 5,266,432, B 10,466,304 bytes). The time goals,
 * "apply wall time no worse than today's; generator time at most 2x today's", are judged against
 * that release's own programs making and installing its own Artifact; the same build's VCDIFF path,
 * which the work since has made faster too, is shown beside it.
 *
 * Its x86_64 programs are looked for, in this order:
 *   1. $BASELINE_DIST, a build's output directory (with x86_64/mender-binary-delta and the
 *      generator); BASELINE_DIST=none: not measured;
 *   2. an earlier build in ~/.cache/mbd-peers/mender-binary-delta-71d2de1/dist;
 *   3. built there from this repository's own history: a local clone checked out at the commit,
 *      `npm ci`, `node build.mjs --no-archive --quiet --arch x86_64` (about 2 minutes, once; the
 *      npm registry must be reachable). A clone without the commit (a shallow one) says so.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "./pairs";

export const BASELINE_COMMIT = "71d2de1";
export const BASELINE_LABEL = `release 0.1.0 (${BASELINE_COMMIT})`;
const BUILT = path.join(os.homedir(), ".cache", "mbd-peers", `mender-binary-delta-${BASELINE_COMMIT}`);

/** The baseline's x86_64 programs and how they were found; or none, and why, with what to do. */
export interface Baseline {
  generator: string | null;
  module: string | null;
  how: string;
}

const programs = (dist: string): { generator: string; module: string } => ({
  generator: path.join(dist, "x86_64", "mender-binary-delta-generator"),
  module: path.join(dist, "x86_64", "mender-binary-delta"),
});

const built = (dist: string): boolean => Object.values(programs(dist)).every((p) => fs.existsSync(p));

function found(dist: string, how: string): Baseline {
  return { ...programs(dist), how };
}

const none = (how: string): Baseline => ({ generator: null, module: null, how });

export function findBaseline(): Baseline {
  const given = process.env.BASELINE_DIST;
  if (given === "none") return none("BASELINE_DIST=none");
  if (given) return built(given) ? found(given, "$BASELINE_DIST") : none(`$BASELINE_DIST names ${given}, which holds no x86_64/mender-binary-delta and generator`);
  const cachedDist = path.join(BUILT, "dist");
  if (built(cachedDist)) return found(cachedDist, `built earlier in ${BUILT}`);
  const has = spawnSync("git", ["-C", ROOT, "cat-file", "-e", `${BASELINE_COMMIT}^{commit}`], { stdio: "ignore" });
  if (has.status !== 0) {
    return none(`commit ${BASELINE_COMMIT} is not in ${ROOT}'s history (a shallow clone?): fetch it, or set BASELINE_DIST to a build of it`);
  }
  // Built beside the cache and renamed when complete: a failed build is never taken for a build.
  const work = `${BUILT}.partial-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(work), { recursive: true });
  process.stdout.write(`building ${BASELINE_LABEL} into ${BUILT} (about 2 minutes, once)\n`);
  const steps: [string, string[], string][] = [
    ["git", ["clone", "--quiet", "--no-checkout", ROOT, work], ROOT],
    ["git", ["-c", "advice.detachedHead=false", "checkout", "--quiet", BASELINE_COMMIT], work],
    ["npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], work],
    [process.execPath, ["build.mjs", "--no-archive", "--quiet", "--arch", "x86_64"], work],
  ];
  for (const [cmd, args, cwd] of steps) {
    const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0) {
      fs.rmSync(work, { recursive: true, force: true });
      return none(`building ${BASELINE_LABEL} failed at \`${cmd} ${args.join(" ")}\`: ${(r.stderr || r.stdout || String(r.error)).trim().split("\n").slice(-3).join(" / ")}`);
    }
  }
  fs.rmSync(BUILT, { recursive: true, force: true });
  fs.renameSync(work, BUILT);
  return found(cachedDist, `built now from this repository's history into ${BUILT}`);
}
