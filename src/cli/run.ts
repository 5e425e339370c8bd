import { MenderDeltaError, UsageError } from "../errors";

/**
 * Runs a CLI main function and turns its outcome into an exit code and at most one line on stderr:
 * expected failures (MenderDeltaError) print `<program>: <message>`; usage errors add a hint to
 * `--help` and exit 2; anything else is a bug and prints its stack.
 */
export function runCli(program: string, main: (argv: string[]) => Promise<number | void>): void {
  // A closed stdout (`program ... | head`) must not turn into a stack trace.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      if (typeof code === "number") process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${program}: ${err.message}\nRun '${program} --help' for usage.\n`);
        process.exitCode = err.exitCode;
      } else if (err instanceof MenderDeltaError) {
        process.stderr.write(`${program}: error: ${err.message}\n`);
        process.exitCode = err.exitCode;
      } else {
        process.stderr.write(`${program}: internal error (please report it): ${err instanceof Error ? err.stack : String(err)}\n`);
        process.exitCode = 70;
      }
    },
  );
}
