/**
 * A private copy of the built host program, so a rebuild of dist/ while a long test runs (other
 * work in the same tree) cannot swap or truncate the binary under it. Null when there is no
 * working build; callers then run the source through tsx.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { binaryPath, HOST_TARGET } from "../helpers/targets";

export function copyOfBuiltProgram(dir: string, program = "mender-binary-delta"): string | null {
  const built = binaryPath(HOST_TARGET, program);
  if (!fs.existsSync(built)) return null;
  const copy = path.join(dir, program);
  fs.copyFileSync(built, copy);
  fs.chmodSync(copy, 0o755);
  // A copy taken in the middle of a rebuild does not run: then do without it.
  const r = spawnSync(copy, ["--version"], { encoding: "utf8", timeout: 60_000 });
  return r.status === 0 && r.stdout.startsWith(program) ? copy : null;
}
