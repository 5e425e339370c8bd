/**
 * `mender-binary-delta-generator`: runs offline on a build host and turns two full rootfs-image
 * Artifacts into one mender-binary-delta Artifact.
 */
import { VERSION } from "../version";
import { hasFlag, runCli } from "./run";
import { restartWithFixedMmapThreshold } from "./allocator-tuning";
import { handOffFromBytes, handOffWriting, takeHandOff } from "./write-handoff";
import { createParser, dispatch } from "./parse";
import { selfTest } from "./selftest";
import { helpTopic, wantsVersion } from "./help";
import { addGeneratorOptions } from "./generator-options";
import { compressionHelp } from "./compression-help";
import {
  createProgress, DEFAULT_DELTA_COMPRESSION, formatSummaryJson, formatSummaryText, generateDelta, protectValues, resolveOptions, resumeWriting,
  type GenerateHooks, type GenerationSummary, type RawOptions,
} from "../generator";

const PROGRAM = "mender-binary-delta-generator";

const HELP = `${PROGRAM} ${VERSION}
Makes a mender-binary-delta Artifact from two full rootfs-image Artifacts:
FROM, the release the devices run, and TO, the new release. Devices running
FROM download only the delta and rebuild TO.

Usage:
  ${PROGRAM} [options] -o OUT.mender FROM.mender TO.mender
      [-- -- <encoder flags>]
  ${PROGRAM} [options] -o OUT.mender
      --from-image FROM.img --to-image TO.img -n NAME -t TYPE
  ${PROGRAM} selftest        check that this binary runs here
  ${PROGRAM} -v, --version   print the name and version
  ${PROGRAM} help, --help    print this help

Options (mender-artifact's spellings work too):
  -o, --output FILE      the delta Artifact to write (to a temporary file,
                         renamed when complete); also --output-path
  -n, --name NAME        the delta's Artifact name (default: TO's name, so
                         it is listed in TO's release); also --artifact-name
  -D, --decoder-args FLAGS
                         xdelta3 decoder memory flags for the device,
                         recorded in the Artifact: -B<source buffer>
                         -W<input window> -P<duplicates window>
                         -I<instruction buffer>; -W also caps the encoder's
                         window size (the device buffers one window)
${compressionHelp(DEFAULT_DELTA_COMPRESSION)}
  -k, --key FILE         sign with this PEM private key (RSA or ECDSA P-256)
  --verify-key FILE      the inputs must be signed and verify with this PEM
                         public key
  --from-image FILE      FROM as a raw filesystem image, not an Artifact
  --to-image FILE        TO as a raw filesystem image (needs -n and -t)
  -t, --device-type TYPE
                         device type for a raw TO image (repeatable)
  --threads N            encoder and xz threads (default: CPUs, at most 8)
  --xz-block-size BYTES  tuning: input bytes per part of the xz block, the
                         parts compressed on all threads at once (default:
                         two equal parts per 64 MiB of payload, at least
                         4 MiB; smaller: more parallel, slower to prime)
  --root-mount rw|ro     how the devices mount their root filesystem.
                         rw (default): for an ext4 FROM the delta never
                         reads what a mounted ext4 rewrites (metadata,
                         directories, free space, the slack after each
                         file's end) and carries a digest of what it does
                         read, so it also installs on a device whose root
                         changed since FROM was installed, as long as those
                         bytes did not; about 1.3% larger
                         (docs/read-write-root.md). ro: the device's whole
                         active partition must still equal FROM
  --delta-format mbdf|vcdiff
                         the delta's format. mbdf (default): file-aware
                         (docs/file-delta-format.md): changed files of two
                         ext4 images are diffed file by file, .gz files
                         recompressed on the device; about 0.3-0.9x the
                         VCDIFF delta; needs this project's Update Module
                         on the device. Where it cannot be smaller (not
                         ext4, an ext4 it cannot list such as bigalloc,
                         nothing to gain) the delta is VCDIFF.
                         vcdiff: one VCDIFF delta, which stock 'xdelta3
                         -d' and Mender's own closed-source module apply
  --no-executable-diffs  mbdf without executable-aware (EXEC) records,
                         for devices whose module predates them (it
                         refuses such a delta with "unknown record kind
                         7" before writing); larger on rebuilt programs
                         and libraries
  --debug                say on stderr why each changed file got the
                         record it got (e.g. why no executable-aware diff),
                         and the GLIBC_TUNABLES the run has (the program
                         fixes glibc's mmap threshold for less memory:
                         set glibc.malloc.mmap_threshold yourself to
                         choose another), and when a fresh start of the
                         program writes the Artifact (less memory too)
  --json                 print a machine-readable summary (sizes,
                         checksums, ratio, time) on stdout; a failure
                         as {"error": MESSAGE, "exitCode": N}
  -q, --quiet            no progress on stderr (a bar on a terminal,
                         else a line per 10% of each phase, "writing
                         40%"); also --no-progress
  -- -- FLAGS            xdelta3 encoder flags: -1..-9 (level, default 6),
                         -W<window bytes>, -n (no window checksums);
                         -B -P -I -S -A -e -f are accepted and ignored

Examples:
  # The usual case: a delta from release 1.0 (on the devices) to 1.1
  ${PROGRAM} -o delta-1.0-1.1.mender \\
      rootfs-1.0.mender rootfs-1.1.mender

  # Devices with little RAM: a 1 MiB window, a 64 MiB source buffer
  ${PROGRAM} -o delta.mender -D "-B67108864 -W1048576" \\
      rootfs-1.0.mender rootfs-1.1.mender

  # As in Mender's documentation: the same flags for decoder and encoder
  XDELTA_FLAGS="-B524288000 -W150000 -P262144 -I62768"
  ${PROGRAM} -o delta.mender -D "\${XDELTA_FLAGS}" \\
      rootfs-1.0.mender rootfs-1.1.mender -- -- \${XDELTA_FLAGS}

  # Signed, with its own name, inputs checked against the release key,
  # summary for CI
  ${PROGRAM} -n 1.1-from-1.0 -k release.key \\
      --verify-key release.pub --json -o delta.mender \\
      rootfs-1.0.mender rootfs-1.1.mender

  # From raw images (e.g. straight out of a Yocto build)
  ${PROGRAM} --from-image core-image-1.0.ext4 \\
      --to-image core-image-1.1.ext4 --artifact-name release-1.1 \\
      --device-type raspberrypi4 -o delta.mender

Checks before any heavy work: the output is a file path in a writable
directory and not an input; both inputs are rootfs-image Artifacts with one
payload, their device types overlap, they differ, and keys load; the file
system of the output has room for the extracted images (the scratch files go
beside the output). While reading, each image must match the
rootfs-image.checksum its Artifact declares. A warning is printed when FROM
looks newer than TO.

Exit codes: 0 success, 1 failure (one line on stderr says why), 2 wrong
command line, 70 internal error (a bug: please report it).

More: man ${PROGRAM} (installed by the Debian package);
docs/generator.md (mender-artifact's options mapped to these) and
docs/read-write-root.md in the source repository.
`;

async function generate(restore: (v: unknown) => unknown, inputs: unknown, parsed: Record<string, unknown>): Promise<number> {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) raw[k] = restore(v);
  const positional = (restore(inputs) as string[] | undefined) ?? [];
  const options = resolveOptions(raw as RawOptions, positional.map(String));
  const handOffFrom = handOffFromBytes();
  // After the command line is known to be good (its errors come from this process), before any work.
  restartWithFixedMmapThreshold();
  // The second start of a run whose delta is encoded: it writes the Artifact (write-handoff.ts).
  const handedOver = takeHandOff(process.env, options.output);
  const hooks: GenerateHooks = {
    // With --json too: progress goes to stderr, stdout holds only the JSON.
    progress: createProgress(process.stderr, !options.quiet),
    warn: (m) => process.stderr.write(`${PROGRAM}: warning: ${m}\n`),
    debug: (m) => process.stderr.write(`${PROGRAM}: debug: ${m}\n`),
  };
  let summary: GenerationSummary;
  if (handedOver === undefined) {
    if (options.debug) hooks.debug!(`runs with GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? "(unset)"}`);
    summary = await generateDelta(options, { ...hooks, handOff: (encoded) => handOffWriting(encoded, options.signingKey, handOffFrom) });
  } else {
    if (options.debug) hooks.debug!("the delta is encoded; the Artifact is written by a fresh start of the program");
    summary = await resumeWriting(handedOver.encoded, () => handedOver.readSigningKey(), hooks);
  }
  process.stdout.write(options.json ? formatSummaryJson(summary) : formatSummaryText(summary));
  return 0;
}

async function main(argv: string[]): Promise<number | void> {
  if (wantsVersion(argv)) {
    process.stdout.write(`${PROGRAM} ${VERSION}\n`);
    return 0;
  }
  // One help for every command: it is short, and selftest takes no options.
  if (helpTopic(argv) !== undefined) {
    process.stdout.write(HELP);
    return 0;
  }
  const { argv: protectedArgv, restore } = protectValues(argv);
  const cli = createParser(PROGRAM);
  cli.command("selftest", "check that this binary runs here").action(() => selfTest(PROGRAM, VERSION));
  addGeneratorOptions(cli.command("[...inputs]", "make a delta Artifact"))
    .action((inputs: unknown, parsed: Record<string, unknown>) => generate(restore, inputs, parsed));
  return dispatch(cli, protectedArgv);
}

runCli(PROGRAM, main, { jsonOutput: (argv) => hasFlag(argv, "--json") });
