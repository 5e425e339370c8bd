/**
 * External tools the tests use as real peers (xdelta3, mender, mender-artifact, qemu, ...).
 * A test that needs one calls `needTool`: when the tool is missing it is skipped with a loud
 * message, except under REQUIRE_PEERS=1 (CI), where a missing peer is a failure.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import type { TestContext } from "node:test";

export const REQUIRE_PEERS = process.env.REQUIRE_PEERS === "1";

const found = new Map<string, boolean>();

export function hasTool(name: string): boolean {
  let ok = found.get(name);
  if (ok === undefined) {
    ok = spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
    found.set(name, ok);
  }
  return ok;
}

/** Skips the test loudly, or fails it under REQUIRE_PEERS=1; the caller returns at once. */
function skipOrFail(t: TestContext, msg: string): false {
  if (REQUIRE_PEERS) throw new Error(`${msg}; REQUIRE_PEERS=1 forbids skipping`);
  process.stderr.write(`SKIPPED: ${msg}\n`);
  t.skip(msg);
  return false;
}

/**
 * Returns true when every tool is present. Otherwise skips the test (or fails it under
 * REQUIRE_PEERS=1) and returns false; the caller returns at once.
 */
export function needTools(t: TestContext, ...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length === 0) return true;
  return skipOrFail(t, `missing peer tool(s): ${missing.join(", ")} (.ci/run installs them)`);
}

/** Like needTools, for files that `node build.mjs` makes (binaries, the release archive, packages). */
export function needBuilt(t: TestContext, ...files: string[]): boolean {
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length === 0) return true;
  return skipOrFail(t, `not built: ${missing.join(", ")} (run node build.mjs)`);
}

/** Skip (or fail under REQUIRE_PEERS=1) unless running as root: loop devices, mounts. */
export function needRoot(t: TestContext, why: string): boolean {
  if (process.getuid?.() === 0) return true;
  return skipOrFail(t, `needs root: ${why}`);
}

/**
 * The Mender C++ client `mender-update` (4.x/5.x) the real-client tests run: the file named by
 * MENDER_UPDATE, else the prebuilt 5.1 binary of the shared peer kit beside the repository (CI
 * clones the repository next to `shared/`).
 */
export function menderUpdatePath(): string {
  return process.env.MENDER_UPDATE || path.resolve(__dirname, "..", "..", "..", "shared", "peers", "mender-5.1.0", "bin", "mender-update");
}

let menderUpdateProblem: string | null | undefined;

/** Why `mender-update` cannot run here (missing, or its runtime libraries are), or null. */
function menderUpdateUnusable(): string | null {
  if (menderUpdateProblem !== undefined) return menderUpdateProblem;
  const bin = menderUpdatePath();
  if (!existsSync(bin)) {
    menderUpdateProblem = `mender-update not found at ${bin} (set MENDER_UPDATE to the binary, or put the peer kit at ../shared/peers/mender-5.1.0)`;
  } else {
    const r = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 30_000 });
    menderUpdateProblem =
      r.status === 0
        ? null
        : `mender-update at ${bin} does not run (${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split("\n")[0]}); ` +
          `install its runtime packages (runtime-packages.txt of the peer kit)`;
  }
  return menderUpdateProblem;
}

/** Skip (or fail under REQUIRE_PEERS=1) unless `mender-update` runs here; the caller returns at once. */
export function needMenderUpdate(t: TestContext): boolean {
  const problem = menderUpdateUnusable();
  return problem === null ? true : skipOrFail(t, problem);
}
