/**
 * `mender-binary-delta-generator`: runs offline on a build host and turns two full rootfs-image
 * Artifacts into one mender-binary-delta Artifact.
 */
import { VERSION } from "../version";
import { runCli } from "./run";
import { createParser, dispatch } from "./parse";
import { selfTest } from "./selftest";

const PROGRAM = "mender-binary-delta-generator";

const HELP = `${PROGRAM} ${VERSION}
Makes mender-binary-delta Artifacts from two full rootfs-image Artifacts.

Usage:
  ${PROGRAM} selftest      check that this binary runs on this machine (worker threads too)
  ${PROGRAM} --version     print "${PROGRAM} <version>"
  ${PROGRAM} --help        print this help

Exit codes: 0 success, 1 failure (one line on stderr says why), 2 wrong command line.
`;

async function main(argv: string[]): Promise<number | void> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write(`${PROGRAM} ${VERSION}\n`);
    return 0;
  }
  if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h")) {
    process.stdout.write(HELP);
    return 0;
  }
  const cli = createParser(PROGRAM);
  cli.command("selftest", "check that this binary runs here").action(() => selfTest(PROGRAM, VERSION));
  return dispatch(cli, argv);
}

runCli(PROGRAM, main);
