/** The build targets (targets/*.json) and how to run their binaries on this host. */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");
export const DIST = process.env.DIST ?? path.join(ROOT, "dist");

export interface Target {
  arch: string;
  releaseDir: string;
  nodePackage: string;
  nodeVersion: string;
  integrity: string;
  run: string[];
  strip: string;
  programs: string[];
}

export const TARGETS: Target[] = readdirSync(path.join(ROOT, "targets"))
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(ROOT, "targets", f), "utf8")) as Target);

export const HOST_TARGET = TARGETS.find((t) => t.run.length === 0)!;

export function binaryPath(t: Target, program: string, dist = DIST): string {
  return path.join(dist, t.arch, program);
}

/** The Node runtime the build downloaded for a target (build.mjs's cache, `.cache/node`). */
export function cachedNodePath(t: Target): string {
  return path.join(ROOT, ".cache", "node", `${t.nodePackage}-${t.nodeVersion}`, "package", "bin", "node");
}

/** Runs a built binary (under qemu-user for a foreign arch) and returns its outcome as text. */
export function runBinary(
  t: Target,
  program: string,
  args: string[],
  opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {},
): SpawnSyncReturns<string> {
  const exe = binaryPath(t, program);
  const [cmd, ...pre] = [...t.run, exe];
  return spawnSync(cmd!, [...pre, ...args], {
    encoding: "utf8",
    input: opts.input,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    timeout: opts.timeout ?? 180_000,
  });
}
