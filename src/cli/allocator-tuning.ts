/**
 * The generator's memory on a glibc host: glibc raises its mmap threshold each time a block it
 * had mapped is freed (up to 32 MiB), after which buffers of up to that size come from its heaps,
 * and the heaps of worker threads that have ended keep what was freed in them (docs/encoder.md,
 * "Memory (A)": pair A's generator peaked at 656-709 MiB, 555-599 MiB with the threshold fixed).
 * The threshold can only be fixed before the process starts (GLIBC_TUNABLES), so the generator
 * starts itself once more with it, in place (execve: the same process id, the same standard
 * streams), before any work. It does so only as the built program and only when a trial start of
 * its own binary with that environment succeeds: the Node it embeds aborts on a failed execve
 * (as under qemu-user without binfmt), and a failed trial leaves the run as it is. A
 * GLIBC_TUNABLES that already sets the threshold is left alone (that is also how the second
 * start knows it is one); other tunables in it are kept. Other C libraries ignore the variable.
 */
import { spawnSync } from "node:child_process";

const TUNABLE = "glibc.malloc.mmap_threshold";
/** glibc's own initial threshold, kept from rising. */
export const MMAP_THRESHOLD = 128 * 1024;

/** `env` with the threshold added to GLIBC_TUNABLES, or undefined when it sets one already. */
export function tunedEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | undefined {
  const current = env.GLIBC_TUNABLES ?? "";
  if (current.split(":").some((t) => t.startsWith(`${TUNABLE}=`))) return undefined;
  const setting = `${TUNABLE}=${MMAP_THRESHOLD}`;
  return { ...env, GLIBC_TUNABLES: current === "" ? setting : `${current}:${setting}` };
}

/** True when this is the built single-file program (not node running a script, as in the tests). */
function isBuiltProgram(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require("node:sea") as { isSea(): boolean }).isSea();
  } catch {
    return false;
  }
}

/**
 * Linux takes at most 2 MiB of arguments and environment together (a quarter of the default
 * stack), each string at most 128 KiB; a start that would not fit is not attempted (the embedded
 * Node aborts on a failed execve), with room to spare. The strings this process started with fit
 * one by one; the one a restart adds is kept under 100 KB (write-handoff.ts).
 */
const EXEC_BYTES = 1 << 20;

/** The bytes execve copies for `args` and `env`: each string, its NUL and its pointer. */
function execBytes(args: string[], env: NodeJS.ProcessEnv): number {
  let bytes = 0;
  for (const a of args) bytes += Buffer.byteLength(a) + 9;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 10;
  return bytes;
}

/**
 * How this process starts itself again in place (execve: the same program, arguments, process id
 * and standard streams) under `env`: a function that does it (and never returns), or undefined
 * when that is not possible or not safe: not the built program on Linux, too much to pass, or a
 * trial start of its binary with `env` fails. Also how the generator hands its writing to a fresh
 * process (write-handoff.ts).
 */
export function inPlaceRestart(env: NodeJS.ProcessEnv): (() => never) | undefined {
  // Node 22.15 and later (the built programs embed 24); the typings of the oldest supported Node lack it.
  const { execve } = process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never };
  if (process.platform !== "linux" || execve === undefined || !isBuiltProgram()) return undefined;
  // A built program's process.argv is [program, program, ...arguments].
  const args = [process.argv[0]!, ...process.argv.slice(2)];
  if (execBytes(args, env) > EXEC_BYTES) return undefined;
  const trial = spawnSync(process.execPath, ["--version"], { env, stdio: "ignore", timeout: 60_000 });
  if (trial.status !== 0) return undefined;
  return () => execve.call(process, process.execPath, args, env);
}

/** Starts this process again in place under the tuned environment (above), unless it runs under it already. */
export function restartWithFixedMmapThreshold(): void {
  const env = tunedEnvironment(process.env);
  if (env !== undefined) inPlaceRestart(env)?.();
}
