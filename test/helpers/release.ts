/**
 * The release archive for the tests that check it (test/shipping/): `npm test` builds only the
 * binaries, so the first test file that asks packs dist/mender-binary-delta-<version>.tar.xz from
 * them (targets/archive.mjs, no rebuild) and the others reuse it. Test files run concurrently: a
 * lock directory makes one of them pack while the others wait.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { DIST, ROOT, TARGETS, binaryPath } from "./targets";

export const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
export const ARCHIVE = path.join(DIST, `mender-binary-delta-${VERSION}.tar.xz`);

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** True when the lock's owner no longer runs (killed test run): the lock may be taken over. */
function stale(lock: string): boolean {
  const pid = Number(fs.readFileSync(path.join(lock, "pid"), { encoding: "utf8", flag: "a+" }) || 0);
  if (pid === 0) return false; // just created, pid not written yet
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * The path of the archive of the built binaries, packed now when it is missing or older than a
 * binary; or why there is none: a binary is not built (the caller skips). Packing failures throw.
 */
export function releaseArchive(): { file: string } | { problem: string } {
  const binaries = TARGETS.flatMap((t) => t.programs.map((p) => binaryPath(t, p)));
  const missing = binaries.filter((f) => !fs.existsSync(f));
  if (missing.length > 0) return { problem: `not built: ${missing.join(", ")} (run node build.mjs)` };
  const fresh = () => fs.existsSync(ARCHIVE) && binaries.every((b) => fs.statSync(b).mtimeMs <= fs.statSync(ARCHIVE).mtimeMs);
  const lock = path.join(DIST, ".archive.lock");
  for (;;) {
    if (fresh()) return { file: ARCHIVE };
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (stale(lock)) fs.rmSync(lock, { recursive: true, force: true });
      else sleep(500);
    }
  }
  try {
    fs.writeFileSync(path.join(lock, "pid"), String(process.pid));
    if (fresh()) return { file: ARCHIVE };
    // Packed next to the lock and renamed: a reader never sees half an archive.
    // xz -0: the tests check what the archive holds, not how well it is compressed.
    const r = spawnSync(process.execPath, ["targets/archive.mjs", "--dist", DIST, "--out", lock],
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, ARCHIVE_XZ_LEVEL: "0" } });
    if (r.status !== 0) throw new Error(`targets/archive.mjs failed: ${r.stderr.trim()}`);
    fs.renameSync(path.join(lock, path.basename(ARCHIVE)), ARCHIVE);
    // Its mtime is the release epoch: newer than the binaries is what "fresh" means here.
    fs.utimesSync(ARCHIVE, new Date(), new Date());
    return { file: ARCHIVE };
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
