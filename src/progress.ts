/**
 * Progress of a long run's phases (the generator's, apply's) on stderr. On a terminal: one redrawn
 * line with a bar. Anywhere else (a CI log, a pipe): plain lines, one when a phase starts and one
 * at every further 10 % (`encoding  40%`), so a log shows the run is alive without filling up with
 * redraws.
 */

export interface Progress {
  /** A new phase of `total` units (bytes); 0 when the amount is unknown. */
  start(label: string, total: number): void;
  advance(units: number): void;
  /** Ends the phase; `completed` false when it failed (its last percentage stays as it was). */
  finish(completed?: boolean): void;
}

export const NO_PROGRESS: Progress = { start() {}, advance() {}, finish() {} };

/**
 * Runs `work` as one phase of `progress`: started before, finished after, marked completed only
 * when `work` succeeded (a failed phase never claims 100 %).
 */
export async function phase<T>(progress: Progress, label: string, total: number, work: () => Promise<T>): Promise<T> {
  progress.start(label, total);
  let completed = false;
  try {
    const result = await work();
    completed = true;
    return result;
  } finally {
    progress.finish(completed);
  }
}

const REDRAW_MS = 100;
const BAR = 30;
/** Lines in a log: one per this many percent. */
const LINE_STEP = 10;

function mib(bytes: number): string {
  return (bytes / (1 << 20)).toFixed(1);
}

/**
 * Progress on `stream` when `enabled`: a redrawn bar on a terminal, plain lines otherwise
 * (docs/generator.md and docs/apply.md describe both).
 */
export function createProgress(stream: NodeJS.WriteStream, enabled: boolean): Progress {
  if (!enabled) return NO_PROGRESS;
  return stream.isTTY ? terminalProgress(stream) : lineProgress(stream);
}

/** `<label> <percent>%` lines: at the start of a phase and at every LINE_STEP % after it. */
export function progressLine(label: string, percent: number): string {
  return `${label} ${String(percent).padStart(3)}%\n`;
}

function lineProgress(stream: NodeJS.WritableStream): Progress {
  let label = "";
  let total = 0;
  let done = 0;
  /** The last percentage printed for this phase (-1: none yet). */
  let printed = -1;
  let active = false;
  const printUpTo = (percent: number): void => {
    for (let p = printed + LINE_STEP; p <= percent; p += LINE_STEP) stream.write(progressLine(label, p));
    printed = Math.max(printed, percent - (percent % LINE_STEP));
  };
  return {
    start(l, t) {
      label = l;
      total = t;
      done = 0;
      printed = -LINE_STEP;
      active = true;
      if (total > 0) printUpTo(0);
      else stream.write(`${label}\n`);
    },
    advance(units) {
      done += units;
      // Never 100 % from counting alone: that line belongs to a completed phase.
      if (total > 0) printUpTo(Math.min(100 - LINE_STEP, Math.floor((done / total) * 100)));
    },
    finish(completed = true) {
      if (!active) return;
      active = false;
      if (completed && total > 0) printUpTo(100);
    },
  };
}

function terminalProgress(stream: NodeJS.WriteStream): Progress {
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
    finish(completed = true) {
      if (!active) return;
      if (completed && total > 0) done = total;
      draw();
      stream.write("\n");
      active = false;
    },
  };
}
