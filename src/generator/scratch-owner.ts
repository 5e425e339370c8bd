/**
 * Who made a scratch directory: the process's id and its start time (both survive the hand-off's
 * execve; the start time tells a process from a later one that reuses its id). A run that ends
 * where no handler can remove its scratch directory (SIGKILL, a power cut, a signal while the
 * hand-off's second start starts) leaves it beside the output; the next run writing there removes
 * it, and only such a one: this user's, owner-only, with an owner record whose process is gone.
 */
import { lstatSync, readdirSync, readFileSync, rmSync, writeFileSync, type Stats } from "node:fs";
import path from "node:path";

const OWNER_FILE = "owner.json";

interface Owner {
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot); undefined where there is no /proc. */
  start?: string;
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After "pid (comm) ", whose comm may hold spaces and parentheses, the state is field 3.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[22 - 3];
  } catch {
    return undefined;
  }
}

/** Whether `stats` are of a directory of this user's that no one else may read (as mkdtemp makes them). */
export function isPrivateDirectory(stats: Stats): boolean {
  return stats.isDirectory() && stats.uid === process.getuid?.() && (stats.mode & 0o077) === 0;
}

/** Records this process as the owner of `dir`, a scratch directory it has just made. */
export function recordScratchOwner(dir: string): void {
  const owner: Owner = { pid: process.pid, start: startTime(process.pid) };
  writeFileSync(path.join(dir, OWNER_FILE), JSON.stringify(owner), { mode: 0o600 });
}

/** True unless the record says, for sure, that its process is gone. */
function ownerMayRun(dir: string): boolean {
  let owner: Owner;
  try {
    owner = JSON.parse(readFileSync(path.join(dir, OWNER_FILE), "utf8")) as Owner;
  } catch {
    return true; // no record (yet, or an older version's directory): not ours to judge
  }
  if (!Number.isSafeInteger(owner?.pid) || typeof owner.start !== "string") return true;
  const now = startTime(owner.pid);
  return now !== undefined && now === owner.start;
}

/**
 * Removes the scratch directories (`prefix*` in `parent`) that runs of this user left behind, and
 * says so through `warn`; anything it cannot judge or remove is left as it is.
 */
export function removeStaleScratch(parent: string, prefix: string, warn: (message: string) => void): void {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(parent, name);
    try {
      const st = lstatSync(dir);
      if (!isPrivateDirectory(st) || ownerMayRun(dir)) continue;
      rmSync(dir, { recursive: true, force: true });
      warn(`removed ${dir}, the scratch directory an earlier run left behind when it was stopped before it could remove it`);
    } catch {
      // Best effort: a directory that cannot be read or removed stays for its owner.
    }
  }
}
