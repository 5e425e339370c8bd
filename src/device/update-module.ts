/**
 * Update Module protocol v3 dispatch: the client runs `mender-binary-delta STATE FILE-TREE`.
 * The protocol requires a module to ignore states it does not know (exit 0, no output), so that
 * newer clients can add states.
 */

/** A word that can be a protocol state: `Download`, `ArtifactInstall`, `ProvidePayloadFileSizes`, ... */
export function isStateName(word: string): boolean {
  return /^[A-Z][A-Za-z]+$/.test(word);
}

type StateHandler = (fileTree: string) => Promise<number | void>;

/** Handlers of the states this module implements; filled in as the device program grows. */
const handlers: Record<string, StateHandler> = {};

export async function runUpdateModuleState(state: string, fileTree: string): Promise<number | void> {
  const handler = handlers[state];
  if (!handler) return 0;
  return handler(fileTree);
}
