/**
 * The generator writes its Artifact in a fresh process. The encoding leaves hundreds of MiB
 * allocated that glibc does not give back (the heaps of the encoder's ended worker threads, its
 * main heap: docs/encoder.md, "Memory (B)"), and the writing's xz compressor then comes on top of
 * them: pair B peaked at 692-765 MiB in the writing, against 574 MiB in the encoding and 546 MiB
 * for the same writing alone. So the built program, once the delta is encoded, starts itself
 * again in place (execve: the same process id, standard streams and arguments; the kernel's peak
 * RSS of the process spans both) with what the writing needs in one environment variable, and the
 * new process writes. The Artifact is the same bytes either way.
 *
 * The variable holds the signing key, if any (base64): passed in memory, never written to disk,
 * and removed from the environment as the new process reads it. A value that does not describe
 * this run's own scratch directory is refused, and nothing is removed on its word.
 */
import { lstatSync, statSync } from "node:fs";
import path from "node:path";
import { MenderDeltaError } from "../errors";
import type { EncodedDelta } from "../generator";
import { restartInPlace } from "./allocator-tuning";

const VARIABLE = "MENDER_BINARY_DELTA_GENERATOR_HANDOFF";
/** Linux takes environment strings up to 128 KiB; a larger hand-off is not attempted. */
const MAX_HANDOFF_CHARS = 100_000;
/** generateDelta's scratch directories (mkdtemp: owner-only). */
const SCRATCH_PREFIX = ".mender-delta-work-";

/**
 * The program's file as this start found it: a binary replaced during the run (a package upgrade)
 * must not write this run's Artifact, so the writing then stays in this process.
 */
const startedFrom = fileIdentity(process.execPath);

function fileIdentity(file: string): string | undefined {
  try {
    const s = statSync(file);
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** The variable's value: the encoded delta, its signing key as base64. */
export function serializeHandOff(encoded: EncodedDelta): string {
  const { signingKey, ...spec } = encoded.spec;
  const key = signingKey === undefined ? undefined : Buffer.from(signingKey).toString("base64");
  return JSON.stringify({ ...encoded, spec, signingKey: key });
}

/**
 * Hands the writing to a fresh process (never returns) when this is the built program on Linux and
 * it can start itself again; returns, for the writing to go on in this process, otherwise (also
 * when the scratch directory would not pass the second start's check, as on a file system without
 * owners and modes (a Windows drive under WSL), and when the program's file changed since it started).
 */
export function handOffWriting(encoded: EncodedDelta): void {
  const value = serializeHandOff(encoded);
  if (value.length > MAX_HANDOFF_CHARS || scratchProblem(encoded.workDir) !== undefined) return;
  if (startedFrom === undefined || fileIdentity(process.execPath) !== startedFrom) return;
  restartInPlace({ ...process.env, [VARIABLE]: value });
}

/** Why `workDir` is not a scratch directory of this user's that only this user can read; undefined when it is. */
function scratchProblem(workDir: string): string | undefined {
  if (!path.isAbsolute(workDir) || !path.basename(workDir).startsWith(SCRATCH_PREFIX)) return "not a generator's scratch directory";
  let stats;
  try {
    stats = lstatSync(workDir);
  } catch {
    return `its scratch directory ${workDir} does not exist`;
  }
  if (!stats.isDirectory() || stats.uid !== process.getuid?.() || (stats.mode & 0o077) !== 0) return `${workDir} is not a scratch directory of this user's`;
  return undefined;
}

/**
 * The encoded delta a previous start of this program handed over (removed from `env`), or
 * undefined when there is none. `output` is this command line's: a hand-off is for the same run.
 */
export function takeHandOff(env: NodeJS.ProcessEnv, output: string): EncodedDelta | undefined {
  const value = env[VARIABLE];
  if (value === undefined) return undefined;
  delete env[VARIABLE];
  const refuse = (why: string): MenderDeltaError =>
    new MenderDeltaError(`${VARIABLE} is set (${why}): it is the generator's own, for the second half of a run; unset it and run again`);
  let parsed: EncodedDelta & { signingKey?: string };
  try {
    parsed = JSON.parse(value) as EncodedDelta & { signingKey?: string };
  } catch {
    throw refuse("not JSON");
  }
  const problem = scratchProblem(typeof parsed?.workDir === "string" ? parsed.workDir : "");
  if (problem !== undefined) throw refuse(problem);
  if (parsed.summary?.output !== output) throw refuse(`it writes ${String(parsed.summary?.output)}, this command line ${output}`);
  const { signingKey, ...encoded } = parsed;
  return { ...encoded, spec: { ...encoded.spec, ...(signingKey === undefined ? {} : { signingKey: Buffer.from(signingKey, "base64") }) } };
}
