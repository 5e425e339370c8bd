/**
 * Update Module protocol v3 dispatch: the client runs `mender-binary-delta STATE FILE-TREE`.
 * The protocol requires a module to ignore states it does not know (exit 0, no output), so that
 * newer clients can add states.
 */
import { STATE_HANDLERS, type StateHandler } from "./states";

/** A word that can be a protocol state: `Download`, `ArtifactInstall`, `ProvidePayloadFileSizes`, ... */
export function isStateName(word: string): boolean {
  return /^[A-Z][A-Za-z]+$/.test(word);
}

/** Handlers of the states this module implements. */
const handlers: Record<string, StateHandler> = STATE_HANDLERS;

export async function runUpdateModuleState(state: string, fileTree: string): Promise<number | void> {
  const handler = Object.hasOwn(handlers, state) ? handlers[state] : undefined;
  if (!handler) return 0;
  return handler(fileTree);
}
