/**
 * Progress of the generator's phases as one redrawn line on stderr. Only drawn when stderr is a
 * terminal: in CI logs and pipes the generator stays quiet (the summary says what happened).
 */

export interface Progress {
  /** A new phase of `total` units (bytes); 0 when the amount is unknown. */
  start(label: string, total: number): void;
  advance(units: number): void;
  /** Ends the phase (the line is completed). */
  finish(): void;
}

export const NO_PROGRESS: Progress = { start() {}, advance() {}, finish() {} };

const REDRAW_MS = 100;
const BAR = 30;

function mib(bytes: number): string {
  return (bytes / (1 << 20)).toFixed(1);
}

/** A progress line on `stream` when it is a TTY and `enabled`; otherwise nothing is written. */
export function createProgress(stream: NodeJS.WriteStream, enabled: boolean): Progress {
  if (!enabled || !stream.isTTY) return NO_PROGRESS;
  let label = "";
  let total = 0;
  let done = 0;
  let lastDraw = 0;
  let active = false;
  const draw = (): void => {
    lastDraw = Date.now();
    let line: string;
    if (total > 0) {
      const frac = Math.min(1, done / total);
      const filled = Math.round(frac * BAR);
      line = `${label.padEnd(12)} [${"#".repeat(filled)}${".".repeat(BAR - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${mib(Math.min(done, total))}/${mib(total)} MiB`;
    } else {
      line = done > 0 ? `${label.padEnd(12)} ${mib(done)} MiB` : label;
    }
    const width = stream.columns ? stream.columns - 1 : 79;
    stream.write(`\r${line.slice(0, width).padEnd(Math.min(width, line.length))}\x1b[K`);
  };
  return {
    start(l, t) {
      label = l;
      total = t;
      done = 0;
      active = true;
      draw();
    },
    advance(units) {
      done += units;
      if (Date.now() - lastDraw >= REDRAW_MS) draw();
    },
    finish() {
      if (!active) return;
      if (total > 0) done = total;
      draw();
      stream.write("\n");
      active = false;
    },
  };
}
