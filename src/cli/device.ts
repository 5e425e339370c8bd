/**
 * `mender-binary-delta`: the Mender Update Module (protocol v3) that installs delta Artifacts onto
 * the inactive A/B rootfs partition. The Mender client runs it as `mender-binary-delta STATE TREE`;
 * people and scripts use its sub-commands.
 */
import { VERSION } from "../version";
import { runCli } from "./run";
import { createParser, dispatch } from "./parse";
import { selfTest } from "./selftest";
import { helpTopic, wantsVersion } from "./help";
import { APPLY_HELP, normalizeApplyArgv, registerApply } from "./apply";
import { isStateName, runUpdateModuleState } from "../device/update-module";

const PROGRAM = "mender-binary-delta";

const HELP = `${PROGRAM} ${VERSION}
Installs binary-delta rootfs updates for Mender on A/B partitioned devices.

Usage:
  ${PROGRAM} STATE FILE-TREE   run one Update Module state (the
                                        Mender client does this)
  ${PROGRAM} selftest          check that this binary runs here,
                                        worker threads too
  ${PROGRAM} apply --source OLD --delta FILE|- --target NEW
                                        apply a delta by hand (see below)
  ${PROGRAM} -v, --version     print the name and version
  ${PROGRAM} help [apply]      print this help (or apply's alone);
                                        also --help, apply --help

Install: copy this file to /usr/share/mender/modules/v3/${PROGRAM}
(mode 0755). Configuration: RootfsPartA/RootfsPartB in
/etc/mender/mender-binary-delta.conf (another file:
MENDER_BINARY_DELTA_CONF=path), else in the client's mender.conf. The root
filesystem may be mounted read-write if the delta was made for that (the
generator's default).

Exit codes: 0 success, 1 failure (one line on stderr says why), 2 wrong
command line, 70 internal error (a bug: please report it).

${APPLY_HELP}

More: man ${PROGRAM} (installed by the Debian package); docs/device.md
and docs/read-write-root.md in the source repository.
`;

/** `apply --help`: the apply section alone. */
const APPLY_USAGE = `${PROGRAM} ${VERSION}
${APPLY_HELP}
`;

async function main(argv: string[]): Promise<number | void> {
  if (wantsVersion(argv)) {
    process.stdout.write(`${PROGRAM} ${VERSION}\n`);
    return 0;
  }
  const topic = helpTopic(argv);
  if (topic !== undefined) {
    process.stdout.write(topic === "apply" ? APPLY_USAGE : HELP);
    return 0;
  }
  // The client calls `STATE TREE`; states it adds in later versions must be ignored silently.
  if (argv.length === 2 && isStateName(argv[0]!)) return runUpdateModuleState(argv[0]!, argv[1]!);

  const cli = createParser(PROGRAM);
  cli.command("selftest", "check that this binary runs here").action(() => selfTest(PROGRAM, VERSION));
  registerApply(cli);
  return dispatch(cli, normalizeApplyArgv(argv));
}

runCli(PROGRAM, main);
