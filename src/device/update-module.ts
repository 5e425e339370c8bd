/**
 * Update Module protocol v3 dispatch: the client runs `mender-binary-delta STATE FILE-TREE`.
 * The protocol requires a module to ignore states it does not know (exit 0, no output), so that
 * newer clients can add states.
 */
import { endOnInterrupt } from "../pending-cleanup";
import { STATE_HANDLERS, type StateHandler } from "./states";

/**
 * A word that can be a protocol state: `Download`, `ArtifactInstall`, `ProvidePayloadFileSizes`, ...
 * and any state a later client may add (digits and underscores too): the subcommands are lower case.
 */
export function isStateName(word: string): boolean {
  return /^[A-Z][A-Za-z0-9_]*$/.test(word);
}

/** Handlers of the states this module implements. */
const handlers: Record<string, StateHandler> = STATE_HANDLERS;

export async function runUpdateModuleState(state: string, fileTree: string): Promise<number | void> {
  const handler = Object.hasOwn(handlers, state) ? handlers[state] : undefined;
  if (!handler) return 0;
  // A signal (a client's timeout, a shutdown, an operator's kill) ends the state between two of its
  // steps, never inside one: the boot environment's writes and the state files are synchronous, so
  // a tool writing the environment (fw_setenv) is waited for, not orphaned to finish after the
  // client has already gone on to ArtifactRollback. The state then fails with one line and ends by
  // the signal itself.
  const stopWatching = endOnInterrupt((signal) => {
    process.stderr.write(
      `mender-binary-delta: error: ${state} was stopped by ${signal} before it finished; no step was left half-done ` +
        `(the boot environment is as its last complete write left it) and the Mender client goes on with its failure states\n`,
    );
  });
  try {
    return await handler(fileTree);
  } finally {
    stopWatching();
  }
}
