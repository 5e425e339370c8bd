/**
 * Progress and warnings of the Update Module: one line per event on stderr, which the Mender
 * client copies into its log ("Output (stderr) from command ..."). stdout is reserved for the
 * answers to queries (SupportsRollback, NeedsArtifactReboot, ...).
 */
const PROGRAM = "mender-binary-delta";

export function logEvent(message: string): void {
  process.stderr.write(`${PROGRAM}: ${message}\n`);
}

export function logWarning(message: string): void {
  process.stderr.write(`${PROGRAM}: warning: ${message}\n`);
}
