/**
 * Work to undo if the process ends before a run finishes, for the ways it can end that skip the
 * run's own `finally`: a closed output pipe (`generator ... | head`, a log reader that went away),
 * which the CLI turns into an exit (src/cli/run.ts). A run registers what it must remove (its
 * scratch directory, its temporary file) while it exists and releases it when it is gone.
 * Signals stay with their owners, who decide what happens before the process ends by one
 * (endOnInterrupt).
 */

type Cleanup = () => void;

/** The signals that interrupt a run (SIGHUP: a terminal or ssh session that went away). */
export const INTERRUPT_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Until the returned function is called, an interrupt signal runs `before(signal)` and then ends
 * the process by that signal (its default action restored and the signal raised again: the exit
 * status a shell shows for it). Not process.exit, which waits for the thread pool, whose thread may
 * be blocked opening a FIFO nobody writes any more.
 */
export function endOnInterrupt(before: (signal: NodeJS.Signals) => void): () => void {
  const stopWatching = (): void => {
    for (const signal of INTERRUPT_SIGNALS) process.off(signal, onSignal);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    stopWatching();
    before(signal);
    process.kill(process.pid, signal);
  };
  for (const signal of INTERRUPT_SIGNALS) process.on(signal, onSignal);
  return stopWatching;
}

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
