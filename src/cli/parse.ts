import { cac, type CAC } from "cac";
import { UsageError } from "../errors";

export { cac as createParser };

const camelCase = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * cac reports options by their camelCased name (`--noSuchOption`); a person typed `--no-such-option`.
 * Finds the token on the command line that cac parsed into `name`.
 */
function typedOption(argv: string[], name: string): string {
  for (const token of argv) {
    if (token === "--") break;
    if (!token.startsWith("-")) continue;
    const bare = token.replace(/^-+/, "").split("=")[0]!;
    if (camelCase(bare) === name || camelCase(bare.replace(/^no-/, "")) === name) return token.split("=")[0]!;
  }
  return name.length > 1 ? `--${name}` : `-${name}`;
}

/** Runs `check`, turning whatever it throws (cac's own errors) into a UsageError in the user's words. */
function asUsage<T>(argv: string[], check: () => T): T {
  try {
    return check();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const unknown = /^Unknown option `-{1,2}([^`]+)`$/.exec(message);
    throw new UsageError(unknown ? `unknown option '${typedOption(argv, unknown[1]!)}'` : message);
  }
}

/**
 * Parses argv with the commands registered on `cli` and runs the matched one. What cac would
 * silently accept (a word that is no command, an extra argument) and what it rejects (an unknown
 * option, a missing argument) both become UsageErrors, so every program reports them the same way.
 */
export async function dispatch(cli: CAC, argv: string[]): Promise<number | void> {
  const parsed = asUsage(argv, () => cli.parse(["node", cli.name, ...argv], { run: false }));
  const command = cli.matchedCommand;
  if (!command) {
    const option = Object.keys(parsed.options).find((name) => name !== "--");
    const first = parsed.args[0];
    if (option !== undefined) throw new UsageError(`unknown option '${typedOption(argv, option)}'`);
    throw new UsageError(first === undefined ? "no command given" : `unknown command '${first}'`);
  }
  asUsage(argv, () => {
    command.checkUnknownOptions();
    command.checkOptionValue();
    command.checkRequiredArgs();
  });
  if (!command.args.some((a) => a.variadic) && parsed.args.length > command.args.length) {
    throw new UsageError(`unexpected argument '${parsed.args[command.args.length]}'`);
  }
  return (await cli.runMatchedCommand()) as number | void;
}
