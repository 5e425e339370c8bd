import { MenderDeltaError, UsageError } from "../errors";
import { hasPendingCleanup, runPendingCleanups } from "../pending-cleanup";

/** 128 + SIGPIPE: what a shell reports for a process its closed pipe killed. */
const BROKEN_PIPE_EXIT = 141;

export interface CliOptions {
  /**
   * True when the command line asks for machine-readable output (the generator's --json): a
   * failure is then also written to stdout, as one JSON object `{"error": ..., "exitCode": ...}`,
   * so that stdout holds JSON whatever happens.
   */
  jsonOutput?(argv: string[]): boolean;
}

/**
 * What to do about a system call's error that is the machine's condition, not a bug (a full or
 * read-only file system, a permission, failing storage): such an error that no check turned into a
 * MenderDeltaError is still one line, with this advice, and exit 1.
 */
const SYSTEM_CONDITIONS: Record<string, string> = {
  ENOSPC: "the file system is full: free some space and run again",
  EDQUOT: "the disk quota is used up: free some space and run again",
  EROFS: "the file system is read-only: make it writable or use another directory",
  EACCES: "permission denied: run as a user who may do this (the Update Module runs as root)",
  EPERM: "operation not permitted: run as a user who may do this (the Update Module runs as root)",
  EIO: "the storage reported an I/O error: it may be failing",
  EMFILE: "too many open files: raise the limit (ulimit -n) and run again",
  ENFILE: "too many open files on the system: run again when fewer are open",
};

/** The one-line message for a system error of SYSTEM_CONDITIONS, or undefined for anything else. */
export function systemConditionMessage(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (!(err instanceof Error) || typeof code !== "string" || !Object.hasOwn(SYSTEM_CONDITIONS, code)) return undefined;
  return `${err.message.replace(/\s+/g, " ")}; ${SYSTEM_CONDITIONS[code]}`;
}

/** The JSON a failure is reported as on stdout when the output is machine-readable. */
export function formatErrorJson(message: string, exitCode: number): string {
  return `${JSON.stringify({ error: message, exitCode }, null, 2)}\n`;
}

/** True when `flag` appears among the options (before a `--`, after which come pass-through flags). */
export function hasFlag(argv: string[], flag: string): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes(flag);
}

/**
 * Runs a CLI main function and turns its outcome into an exit code and at most one line on stderr:
 * expected failures (MenderDeltaError) print `<program>: <message>`; usage errors add a hint to
 * `--help` and exit 2; a system error that is the machine's condition (SYSTEM_CONDITIONS) prints
 * its message and what to do, exit 1; anything else is a bug and prints its stack.
 */
export function runCli(program: string, main: (argv: string[]) => Promise<number | void>, options: CliOptions = {}): void {
  // A closed stdout or stderr (`program ... | head`, a log reader that went away) must not turn into
  // a stack trace, nor into success or leftovers when the run is not done: the run's scratch files
  // are removed and the exit code is a shell's for a process killed by SIGPIPE.
  let settled = false;
  const onOutputError = (stream: "stdout" | "stderr") => (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
    if (settled && !hasPendingCleanup()) process.exit(process.exitCode ?? 0);
    runPendingCleanups();
    if (stream === "stdout") {
      process.stderr.write(`${program}: error: standard output was closed before the run finished; stopped here (exit 141) and removed its temporary files\n`);
    }
    process.exit(BROKEN_PIPE_EXIT);
  };
  process.stdout.on("error", onOutputError("stdout"));
  process.stderr.on("error", onOutputError("stderr"));
  const argv = process.argv.slice(2);
  main(argv).then(
    (code) => {
      settled = true;
      if (typeof code === "number") process.exitCode = code;
    },
    (err: unknown) => {
      settled = true;
      let message: string;
      let exitCode: number;
      if (err instanceof UsageError) {
        message = err.message;
        exitCode = err.exitCode;
        process.stderr.write(`${program}: ${message}\nRun '${program} --help' for usage.\n`);
      } else if (err instanceof MenderDeltaError) {
        // One line, also when the message quotes a tool's several lines (fw_printenv's stderr).
        message = err.message.trim().replace(/\s*\n\s*/g, " / ");
        exitCode = err.exitCode;
        process.stderr.write(`${program}: error: ${message}\n`);
      } else if (systemConditionMessage(err) !== undefined) {
        message = systemConditionMessage(err)!;
        exitCode = 1;
        process.stderr.write(`${program}: error: ${message}\n`);
      } else {
        message = `internal error (please report it): ${err instanceof Error ? err.message : String(err)}`;
        exitCode = 70;
        process.stderr.write(`${program}: internal error (please report it): ${err instanceof Error ? err.stack : String(err)}\n`);
      }
      process.exitCode = exitCode;
      if (options.jsonOutput?.(argv)) process.stdout.write(formatErrorJson(message, exitCode));
    },
  );
}
