/**
 * The generator's options as cac knows them, apart from the program so that tests parse a command
 * line exactly as the program does. Every spelling that takes a value is also in VALUE_OPTIONS.
 */
import type { Command } from "cac";

/** Registers the options of the generate command (mender-artifact's spellings included). */
export function addGeneratorOptions(command: Command): Command {
  return command
    .option("-o, --output <file>", "output")
    .option("--output-path <file>", "output (mender-artifact's name)")
    .option("-n, --name <name>", "artifact name")
    .option("--artifact-name <name>", "artifact name")
    .option("-D, --decoder-args <flags>", "decoder arguments")
    .option("--compression <kind>", "compression")
    .option("--compression-level <n>", "compression level")
    .option("-k, --key <file>", "signing key")
    .option("--verify-key <file>", "verification key")
    .option("--from-image <file>", "raw FROM image")
    .option("--to-image <file>", "raw TO image")
    .option("-t, --device-type <type>", "device type")
    .option("--threads <n>", "threads")
    .option("--xz-block-size <bytes>", "xz block size")
    .option("--root-mount <mode>", "rw or ro")
    .option("--delta-format <format>", "vcdiff or mbdf")
    .option("--no-executable-diffs", "mbdf without EXEC records")
    .option("--debug", "why each changed file got its record")
    .option("--json", "JSON summary")
    .option("-q, --quiet", "no progress")
    .option("--no-progress", "no progress (mender-artifact's name)");
}
