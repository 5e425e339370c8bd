/**
 * Where `apply --target` writes, decided before anything is opened, and opened without ever
 * following or replacing something that is not ours (the command runs as root on hosts and devices):
 *
 * - a regular file, or no file yet: a new temporary file beside it, created exclusively
 *   (O_CREAT|O_EXCL|O_NOFOLLOW, random name, so nothing planted at that name is followed or
 *   reused), renamed over the target only when complete, removed on failure and on SIGINT, SIGTERM
 *   or SIGHUP;
 * - a block device (also through a symlink such as /dev/disk/by-partlabel/...): written in place;
 * - `-`, a FIFO or a character device: written in place as a stream (standard output, a reader
 *   process, /dev/null): they are never replaced by a regular file;
 * - a symlink to anything but a block device, a directory, a socket: refused.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MenderDeltaError } from "../errors";
import { FileTargetSink } from "../io/file-sink";
import { deferCleanup, INTERRUPT_SIGNALS } from "../pending-cleanup";

export type ApplyTarget =
  | { kind: "file"; path: string; existing?: fs.Stats }
  | { kind: "block-device"; path: string; device: string }
  | { kind: "stream"; path: string; what: string };

/** Decides how `target` is written (lstat: a symlink is judged by itself, then by where it points). */
export function classifyTarget(target: string): ApplyTarget {
  if (target === "-") return { kind: "stream", path: "-", what: "standard output" };
  let st: fs.Stats;
  try {
    st = fs.lstatSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "file", path: target };
    throw new MenderDeltaError(`cannot examine --target '${target}': ${(err as Error).message}`);
  }
  if (st.isSymbolicLink()) {
    let real: string | undefined;
    try {
      real = fs.realpathSync(target);
    } catch {
      real = undefined;
    }
    if (real !== undefined && fs.statSync(real).isBlockDevice()) return { kind: "block-device", path: target, device: real };
    throw new MenderDeltaError(
      `--target '${target}' is a symbolic link (to ${real === undefined ? `'${fs.readlinkSync(target)}', which does not exist` : `'${real}'`}): ` +
        `refusing to follow it or to replace it; name the file itself (only links to block devices are followed)`,
    );
  }
  if (st.isFile()) return { kind: "file", path: target, existing: st };
  if (st.isBlockDevice()) return { kind: "block-device", path: target, device: target };
  if (st.isFIFO()) return { kind: "stream", path: target, what: "FIFO" };
  if (st.isCharacterDevice()) return { kind: "stream", path: target, what: "character device" };
  const what = st.isDirectory() ? "a directory" : st.isSocket() ? "a socket" : "not a file";
  throw new MenderDeltaError(`--target '${target}' is ${what}; name the file or device to write the new image to`);
}

/** An opened target: write through `sink`, then `commit()` on success or `abort()` on failure. */
export interface OpenTarget {
  readonly sink: FileTargetSink;
  /** Makes the written image the target (renames a temporary file into place). */
  commit(): void;
  /** Closes and removes what a failed run left (the temporary file); the target is as it was. */
  abort(): void;
}

/**
 * Opens what classifyTarget decided. A block device is opened by `openBlockDevice`, which must
 * refuse storage in use (the caller's storage guard) and return a read-write fd.
 */
export function openTarget(target: ApplyTarget, openBlockDevice: (device: string) => number): OpenTarget {
  switch (target.kind) {
    case "file":
      return openReplacement(target.path, target.existing);
    case "block-device":
      return openInPlace(target.path, () => openBlockDevice(target.device), "block device", (st) => st.isBlockDevice(), true);
    case "stream":
      if (target.path === "-") {
        const sink = new FileTargetSink("-", { fd: 1, name: "standard output (--target -)", sync: false });
        return { sink, commit: () => sink.finish(), abort: () => sink.close() };
      }
      // O_NOFOLLOW: a symlink swapped in since classifyTarget is not followed.
      return openInPlace(target.path, () => fs.openSync(target.path, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW), target.what, (st) => st.isFIFO() || st.isCharacterDevice(), false);
  }
}

function openInPlace(file: string, open: () => number, what: string, isExpected: (st: fs.Stats) => boolean, sync: boolean): OpenTarget {
  let fd: number;
  try {
    fd = open();
  } catch (err) {
    if (err instanceof MenderDeltaError) throw err;
    throw new MenderDeltaError(`cannot open --target '${file}' (${what}) for writing: ${(err as Error).message}`);
  }
  const close = closeOnce(fd);
  if (!isExpected(fs.fstatSync(fd))) {
    close();
    throw new MenderDeltaError(`--target '${file}' is no longer a ${what} (replaced while it was being opened?); nothing was written`);
  }
  const sink = new FileTargetSink(file, { fd, name: `--target '${file}'`, sync });
  return {
    sink,
    commit: () => {
      sink.finish();
      close();
    },
    abort: close,
  };
}

function closeOnce(fd: number): () => void {
  let open = true;
  return () => {
    if (open) fs.closeSync(fd);
    open = false;
  };
}

/** `.NAME.tmp-<16 random hex digits>`: nothing another user could plant in advance. */
export function temporaryName(target: string): string {
  // A temporary name must fit NAME_MAX (255 bytes) too: long names are cut (by bytes, not characters).
  const base = Buffer.from(path.basename(target)).subarray(0, 200).toString();
  return path.join(path.dirname(target), `.${base}.tmp-${randomBytes(8).toString("hex")}`);
}

/** Creates `file` as a new regular file, never following or reusing whatever is at that name. */
export function createExclusive(file: string, mode: number): number {
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  return fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
}

function openReplacement(target: string, existing: fs.Stats | undefined): OpenTarget {
  const dir = path.dirname(target);
  const mode = existing ? existing.mode & 0o777 : 0o644;
  let temp = "";
  let fd = -1;
  for (let attempt = 0; fd < 0; attempt++) {
    temp = temporaryName(target);
    try {
      fd = createExclusive(temp, mode);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST" && attempt < 3) continue;
      const why = code === "ENOENT" ? `the directory '${dir}' does not exist` : `${(err as Error).message}`;
      throw new MenderDeltaError(`cannot create the temporary file for --target '${target}' in '${dir}': ${why}`);
    }
  }
  // The mode given to open() is reduced by the umask; an existing target's mode is kept exactly.
  if (existing) fs.fchmodSync(fd, mode);
  const sink = new FileTargetSink(temp, { fd, name: `--target '${target}' (temporary file '${temp}')` });
  const close = closeOnce(fd);
  const stopWatching = removeOnSignals(temp, target);
  const abort = () => {
    close();
    fs.rmSync(temp, { force: true });
    stopWatching();
  };
  return {
    sink,
    commit: () => {
      try {
        sink.finish();
        close();
        fs.renameSync(temp, target);
      } catch (err) {
        abort();
        if (err instanceof MenderDeltaError) throw err;
        throw new MenderDeltaError(`cannot move the temporary file '${temp}' to --target '${target}': ${(err as Error).message}`);
      }
      // In the same synchronous stretch as the rename: no signal handler can run in between.
      stopWatching();
      syncDirectory(dir);
    },
    abort,
  };
}

/**
 * While the temporary file exists, an interrupt removes it and exits 128 + the signal number (what
 * a shell reports for a process killed by that signal), and so does an exit on a closed output
 * pipe (src/cli/run.ts). Returns the function that stops watching.
 */
function removeOnSignals(temp: string, target: string): () => void {
  const remove = () => fs.rmSync(temp, { force: true });
  const release = deferCleanup(remove);
  const handlers = INTERRUPT_SIGNALS.map((signal) => {
    const handler = () => {
      remove();
      process.stderr.write(
        `mender-binary-delta: interrupted by ${signal}: removed the temporary file '${temp}'; --target '${target}' is unchanged\n`,
      );
      process.exit(128 + os.constants.signals[signal]);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    release();
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

function syncDirectory(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the data itself is already synced.
  }
}
