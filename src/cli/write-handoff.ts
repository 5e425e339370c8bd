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
 * The variable is readable by this user's processes and root for the life of the process (as
 * /proc/PID/environ), so it never holds the signing key: the second start reads the key file
 * again and checks it is the one the first start read (its SHA-256). A value that is not this
 * process's own hand-off (another process id, a scratch directory that is not this user's
 * owner-only one beside the output, files outside it) is refused, and nothing is removed on its
 * word.
 */
import { createHash } from "node:crypto";
import { lstatSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { MenderDeltaError } from "../errors";
import { isPrivateDirectory, SCRATCH_PREFIX, type EncodedDelta } from "../generator";
import { inPlaceRestart } from "./allocator-tuning";

const VARIABLE = "MENDER_BINARY_DELTA_GENERATOR_HANDOFF";
/**
 * The writing is handed over only when the larger image is at least this large: below it the
 * encoding leaves too little allocated for a fresh start to pay for itself (the trial and the
 * second start cost about 0.4 s; a 64 MiB pair's whole run peaks at about 250 MiB either way).
 * The variable HANDOFF_FROM_VARIABLE sets another size in bytes (0: always).
 */
export const HANDOFF_FROM_BYTES = 128 << 20;
const HANDOFF_FROM_VARIABLE = "MENDER_BINARY_DELTA_GENERATOR_HANDOFF_FROM";

/** The image size from which the writing is handed over: HANDOFF_FROM_BYTES, or what `env` sets. */
export function handOffFromBytes(env: NodeJS.ProcessEnv = process.env): number {
  const value = env[HANDOFF_FROM_VARIABLE];
  if (value === undefined || value === "") return HANDOFF_FROM_BYTES;
  if (!/^\d+$/.test(value)) throw new MenderDeltaError(`${HANDOFF_FROM_VARIABLE} must be a number of bytes (0: always), got '${value}'`);
  return Number(value);
}
/** Linux takes environment strings up to 128 KiB; a larger hand-off is not attempted. */
const MAX_HANDOFF_BYTES = 100_000;

/** The signing key as the second start finds it again: the file, and the SHA-256 its bytes had. */
interface KeyReference {
  path: string;
  sha256: string;
}

/** What the variable holds: the encoded delta without its key, the key's reference, whose it is. */
interface HandOffValue extends EncodedDelta {
  pid: number;
  signingKey?: KeyReference;
}

/** What a second start takes over: the encoded delta, and how to read its signing key again. */
export interface HandedOver {
  encoded: EncodedDelta;
  /** The signing key, read again and checked (throws a MenderDeltaError if it changed); undefined: unsigned. */
  readSigningKey(): Buffer | undefined;
}

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

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** The variable's value for `encoded`; its signing key, if any, by the file it was read from, `keyFile`. */
export function serializeHandOff(encoded: EncodedDelta, keyFile?: string): string {
  const { signingKey, ...spec } = encoded.spec;
  if (signingKey !== undefined && keyFile === undefined) throw new Error("serializeHandOff: a signed delta needs its key's file");
  const key = signingKey === undefined ? undefined : { path: path.resolve(keyFile!), sha256: sha256(Buffer.from(signingKey)) };
  const value: HandOffValue = { ...encoded, spec, pid: process.pid, signingKey: key };
  return JSON.stringify(value);
}

/**
 * Hands the writing to a fresh process (never resolves) when this is the built program on Linux,
 * the larger image is at least `fromBytes`, and it can start itself again; resolves, for the
 * writing to go on in this process, otherwise: also
 * when the second start would refuse the scratch directory (a file system without owners and
 * modes, as a Windows drive under WSL), when the signing key came from something that cannot be
 * read twice (a pipe, `-k <(…)`), and when the program's file changed since it started.
 */
export async function handOffWriting(encoded: EncodedDelta, keyFile: string | undefined, fromBytes = handOffFromBytes()): Promise<void> {
  if (Math.max(encoded.summary.from.imageSize, encoded.summary.to.imageSize) < fromBytes) return;
  if (encoded.spec.signingKey !== undefined && (keyFile === undefined || !isRegularFile(keyFile))) return;
  const value = serializeHandOff(encoded, keyFile);
  if (Buffer.byteLength(value) > MAX_HANDOFF_BYTES || scratchProblem(encoded.workDir, encoded.summary.output) !== undefined) return;
  const restart = inPlaceRestart({ ...process.env, [VARIABLE]: value });
  if (restart === undefined) return;
  // A signal that came during the trial start waits in the event loop's signal pipe, read in a poll
  // phase: its handler (which ends the run and removes the scratch directory) must run before the
  // execve, which would drop it. The first immediate can come in this turn's check phase, after a
  // poll that ran before the trial; the second comes after the next turn's poll.
  for (let turn = 0; turn < 2; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
  if (startedFrom === undefined || fileIdentity(process.execPath) !== startedFrom) return;
  restart();
}

function isRegularFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Why `workDir` is not a scratch directory of this user's that only this user can read, beside
 * `output`; undefined when it is.
 */
function scratchProblem(workDir: string, output: string): string | undefined {
  if (!path.isAbsolute(workDir) || !path.basename(workDir).startsWith(SCRATCH_PREFIX) || path.dirname(workDir) !== path.dirname(path.resolve(output))) {
    return "not this run's scratch directory";
  }
  let stats;
  try {
    stats = lstatSync(workDir);
  } catch {
    return `its scratch directory ${workDir} does not exist`;
  }
  if (!isPrivateDirectory(stats)) return `${workDir} is not a scratch directory of this user's`;
  return undefined;
}

const inside = (dir: string, file: unknown): boolean =>
  typeof file === "string" && path.isAbsolute(file) && !path.relative(dir, file).startsWith("..");

/**
 * The encoded delta a previous start of this process handed over (the variable removed from `env`),
 * or undefined when there is none. `output` is this command line's: a hand-off is for the same run.
 */
export function takeHandOff(env: NodeJS.ProcessEnv, output: string): HandedOver | undefined {
  const value = env[VARIABLE];
  if (value === undefined) return undefined;
  delete env[VARIABLE];
  const refuse = (why: string): MenderDeltaError =>
    new MenderDeltaError(`${VARIABLE} is set (${why}): it is the generator's own, for the second half of a run; unset it and run again`);
  let parsed: HandOffValue;
  try {
    parsed = JSON.parse(value) as HandOffValue;
  } catch {
    throw refuse("not JSON");
  }
  if (parsed?.pid !== process.pid) throw refuse(`it is process ${String(parsed?.pid)}'s, this is ${process.pid}`);
  if (parsed.summary?.output !== output) throw refuse(`it writes ${String(parsed.summary?.output)}, this command line ${output}`);
  const workDir = typeof parsed.workDir === "string" ? parsed.workDir : "";
  const problem = scratchProblem(workDir, output);
  if (problem !== undefined) throw refuse(problem);
  const files = [...(parsed.spec?.payload?.files ?? []), ...(parsed.spec?.scripts ?? [])];
  if (!files.every((f) => inside(workDir, f?.path))) throw refuse(`it names files outside ${workDir}`);
  const { signingKey: key, pid: _pid, ...encoded } = parsed;
  return {
    encoded,
    readSigningKey() {
      if (key === undefined) return undefined;
      let bytes: Buffer;
      try {
        bytes = readFileSync(key.path);
      } catch (err) {
        throw new MenderDeltaError(`cannot read the signing key ${key.path} again to sign the Artifact: ${(err as Error).message}; keep it in place until the run ends`);
      }
      if (sha256(bytes) !== key.sha256) {
        throw new MenderDeltaError(`the signing key ${key.path} changed while the delta was encoded; keep it in place until the run ends, and run again`);
      }
      return bytes;
    },
  };
}
