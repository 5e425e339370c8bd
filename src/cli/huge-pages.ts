/**
 * Transparent huge pages for the generator. Its xz encoder walks match-finder tables of hundreds of
 * MiB at random positions, and with 4 KiB pages most of those steps also miss the TLB. Linux hosts
 * whose transparent huge pages are in "madvise" mode (the default of many distributions, Ubuntu's
 * among them) give a process huge pages only where it asks for them, and glibc (2.35 and later)
 * asks for its large malloc blocks, where Node keeps typed arrays, only when the
 * `glibc.malloc.hugetlb=1` tunable is set when the process starts. So the built generator starts
 * itself again once with it (execve: the same process id, standard streams and arguments).
 * Measured on a 2-core machine, alternating runs: the xz encoder alone 6-8 % less CPU, pair A's
 * generator 28.8 -> 26.4 s (mean of three runs each), pair B's within its noise; the same Artifact
 * bytes. A tunable the caller already set for it (GLIBC_TUNABLES=glibc.malloc.hugetlb=0, say) is
 * kept as it is, which is also how to turn this off.
 */
import fs from "node:fs";

const TUNABLE = "glibc.malloc.hugetlb";
const THP_MODE = "/sys/kernel/mm/transparent_hugepage/enabled";

export interface HugePagesHost {
  platform: NodeJS.Platform;
  /** The program is a built single executable (a source run has Node flags and a script to keep). */
  builtProgram: boolean;
  /** The runtime can replace the process (process.execve: Node 22.15 / 23.11 and later). */
  canExec: boolean;
  env: NodeJS.ProcessEnv;
  /** The selected mode in THP_MODE ("always", "madvise", "never"), or undefined. */
  thpMode: string | undefined;
  /** The C library's glibc version ("2.36"), undefined for another C library. */
  glibc: string | undefined;
}

/** glibc 2.35 brought the tunable; older ones ignore it (a restart would only cost time). */
function hasHugetlbTunable(glibc: string | undefined): boolean {
  const [major, minor] = (glibc ?? "").split(".").map(Number);
  return major !== undefined && minor !== undefined && (major > 2 || (major === 2 && minor >= 35));
}

/** The environment to start again with, or undefined when nothing would change. */
export function hugePagesEnvironment(host: HugePagesHost): NodeJS.ProcessEnv | undefined {
  if (host.platform !== "linux" || !host.builtProgram || !host.canExec || host.thpMode !== "madvise" || !hasHugetlbTunable(host.glibc)) return undefined;
  const tunables = host.env.GLIBC_TUNABLES ?? "";
  if (tunables.split(":").some((t) => t.split("=")[0] === TUNABLE)) return undefined;
  return { ...host.env, GLIBC_TUNABLES: tunables === "" ? `${TUNABLE}=1` : `${tunables}:${TUNABLE}=1` };
}

/** What the huge-page setting of this process is, for --debug. */
export function hugePagesState(env: NodeJS.ProcessEnv = process.env): string {
  const set = (env.GLIBC_TUNABLES ?? "").split(":").find((t) => t.split("=")[0] === TUNABLE);
  return `transparent huge pages: ${readThpMode() ?? "unknown"}; ${set ?? `${TUNABLE} not set`}`;
}

function readThpMode(): string | undefined {
  try {
    return /\[(\w+)\]/.exec(fs.readFileSync(THP_MODE, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

function glibcVersion(): string | undefined {
  try {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return report?.header?.glibcVersionRuntime;
  } catch {
    return undefined;
  }
}

function isBuiltProgram(): boolean {
  try {
    // node:sea's isSea() (Node 20.12 and later); older runtimes cannot execve anyway.
    return (require("node:sea") as { isSea?: () => boolean }).isSea?.() === true;
  } catch {
    return false;
  }
}

/**
 * Starts this built program again with the huge-page tunable when that helps (see above); returns
 * only when it does not (or the restart failed: the run goes on without huge pages).
 */
export function restartWithHugePages(): void {
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  const env = hugePagesEnvironment({
    platform: process.platform, builtProgram: isBuiltProgram(), canExec: typeof execve === "function", env: process.env, thpMode: readThpMode(),
    glibc: glibcVersion(),
  });
  if (env === undefined || execve === undefined) return;
  try {
    // A built program's argv[1] repeats argv[0]; the runtime puts it back when the program starts.
    execve.call(process, process.execPath, [process.argv[0]!, ...process.argv.slice(2)], env);
  } catch {
    // E.g. E2BIG: the same run, with 4 KiB pages.
  }
}
