/**
 * Help and version requests, recognised the same way by both programs before cac parses anything:
 * cac has no help option registered, so `apply --help` would otherwise be an unknown option.
 */

/** Help texts must fit a standard 80-column terminal (test/cli/help.test.ts holds them to it). */
export const HELP_WIDTH = 80;

/**
 * `--help`/`-h` anywhere before a `--` (what follows belongs to the encoder), or `help [COMMAND]`
 * as the first word. Returns the command help was asked for ("" for none), or undefined.
 */
export function helpTopic(argv: string[]): string | undefined {
  if (argv[0] === "help") return argv[1] ?? "";
  const end = argv.indexOf("--");
  const head = end < 0 ? argv : argv.slice(0, end);
  if (!head.some((a) => a === "--help" || a === "-h")) return undefined;
  const first = head[0]!;
  return first.startsWith("-") ? "" : first;
}

/** `--version`, and mender-artifact's `-v`; `-V` stays for those who use it already. */
export function wantsVersion(argv: string[]): boolean {
  return argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v" || argv[0] === "-V");
}
