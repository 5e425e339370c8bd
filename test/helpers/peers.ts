/**
 * External tools the tests use as real peers (xdelta3, mender, mender-artifact, qemu, ...).
 * A test that needs one calls `needTool`: when the tool is missing it is skipped with a loud
 * message, except under REQUIRE_PEERS=1 (CI), where a missing peer is a failure.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
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
