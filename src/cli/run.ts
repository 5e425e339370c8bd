import { MenderDeltaError, UsageError } from "../errors";

export interface CliOptions {
  /**
   * True when the command line asks for machine-readable output (the generator's --json): a
   * failure is then also written to stdout, as one JSON object `{"error": ..., "exitCode": ...}`,
   * so that stdout holds JSON whatever happens.
   */
  jsonOutput?(argv: string[]): boolean;
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
 * `--help` and exit 2; anything else is a bug and prints its stack.
 */
export function runCli(program: string, main: (argv: string[]) => Promise<number | void>, options: CliOptions = {}): void {
  // A closed stdout (`program ... | head`) must not turn into a stack trace.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
  const argv = process.argv.slice(2);
  main(argv).then(
    (code) => {
      if (typeof code === "number") process.exitCode = code;
    },
    (err: unknown) => {
      let message: string;
      let exitCode: number;
      if (err instanceof UsageError) {
        message = err.message;
        exitCode = err.exitCode;
        process.stderr.write(`${program}: ${message}\nRun '${program} --help' for usage.\n`);
      } else if (err instanceof MenderDeltaError) {
        message = err.message;
        exitCode = err.exitCode;
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
