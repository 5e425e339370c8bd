/**
 * Every failure the programs expect (bad input, a peer tool failing, a check not passing) is a
 * MenderDeltaError. Anything else that escapes is a bug: the CLIs print a stack trace for those
 * and a single line for these.
 */
export class MenderDeltaError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** The command line itself is wrong: the CLI prints usage and exits with 2. */
export class UsageError extends MenderDeltaError {
  constructor(message: string) {
    super(message, 2);
  }
}
