/**
 * Work to undo if the process ends before a run finishes, for the ways it can end that skip the
 * run's own `finally`: a closed output pipe (`generator ... | head`, a log reader that went away),
 * which the CLI turns into an exit (src/cli/run.ts). A run registers what it must remove (its
 * scratch directory, its temporary file) while it exists and releases it when it is gone.
 * Signals stay with their owners: they also decide how the process ends.
 */

type Cleanup = () => void;

/** The signals that interrupt a run (SIGHUP: a terminal or ssh session that went away). */
export const INTERRUPT_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

const pending = new Set<Cleanup>();

/** Registers `cleanup` (synchronous: the process exits right after); returns the release. */
export function deferCleanup(cleanup: Cleanup): () => void {
  pending.add(cleanup);
  return () => {
    pending.delete(cleanup);
  };
}

/** Whether a run has something to undo, i.e. is under way. */
export function hasPendingCleanup(): boolean {
  return pending.size > 0;
}

/** Runs every registered cleanup once (each one's failure ignored: the others still run). */
export function runPendingCleanups(): void {
  for (const cleanup of [...pending]) {
    pending.delete(cleanup);
    try {
      cleanup();
    } catch {
      // Best effort: the process is ending either way.
    }
  }
}
