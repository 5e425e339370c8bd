/**
 * `mender-binary-delta apply --source OLD --delta FILE|- --target NEW`: applies an xdelta3/VCDIFF
 * delta without a Mender client, for people and scripts. The new image is written to a temporary
 * file next to NEW and renamed over NEW only after every window decoded and verified, so a failure
 * never leaves a half-written NEW (a block device target is written in place: it cannot be renamed).
 */
import fs from "node:fs";
import path from "node:path";
import type { CAC } from "cac";
import { MenderDeltaError, UsageError } from "../errors";
import { openDirectSource } from "../io/direct-source";
import { FileBlockSource } from "../io/file-source";
import { FileTargetSink } from "../io/file-sink";
import { openGuardedTarget } from "../device/storage-guard";
import type { BlockSource } from "../io/interfaces";
import { decodeVcdiff, DEFAULT_MAX_WINDOW_SIZE } from "../vcdiff/decode";
import { SOURCE_MISMATCH_EXIT_CODE } from "../vcdiff/errors";

export const APPLY_HELP = `Apply a delta (any stock 'xdelta3 -e' output, or the generator's):
  apply --source OLD --delta FILE|- --target NEW [--no-verify] [--max-window-size BYTES]

  --source OLD    the image the delta was made from (file or block device)
  --delta FILE    the delta; '-' reads it from standard input
  --target NEW    where the new image goes: a file (written to NEW.tmp-*, renamed when complete)
                  or a block device (written in place)
  --no-verify     do not verify the per-window Adler-32 checksums (like 'xdelta3 -d -n')
  --max-window-size BYTES   largest target window accepted (default ${DEFAULT_MAX_WINDOW_SIZE})

  Exit codes: 0 applied; 1 failed (damaged/unsupported delta, I/O error; NEW untouched);
  2 wrong command line; ${SOURCE_MISMATCH_EXIT_CODE} the source is not the image the delta was made from
  (window checksum mismatch or source too short; NEW untouched).`;

export interface ApplyOptions {
  source: string;
  delta: string;
  target: string;
  verify?: boolean;
  maxWindowSize?: number;
}

function isBlockDevice(file: string): boolean {
  try {
    return fs.statSync(file).isBlockDevice();
  } catch {
    return false;
  }
}

function openSource(file: string): BlockSource {
  if (!fs.existsSync(file)) throw new MenderDeltaError(`source '${file}' does not exist`);
  // A block device is read as it is on the disk (O_DIRECT): its page cache may differ (see direct-source.ts).
  return isBlockDevice(file) ? openDirectSource(file) : new FileBlockSource(file);
}

function openDelta(file: string): AsyncIterable<Uint8Array> {
  if (file === "-") return process.stdin;
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (err) {
    throw new MenderDeltaError(`cannot open delta '${file}': ${(err as Error).message}`);
  }
  return fs.createReadStream("", { fd, highWaterMark: 1 << 20 });
}

/** True when both paths name the same file or device (writing the target would destroy the source). */
function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.isBlockDevice() && sb.isBlockDevice() ? sa.rdev === sb.rdev : sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** Applies the delta; returns a one-line summary. Throws MenderDeltaError on every expected failure. */
export async function applyDelta(options: ApplyOptions): Promise<string> {
  if (sameFile(options.source, options.target)) {
    throw new MenderDeltaError(`--source and --target are the same (${options.target}); the new image must go elsewhere`);
  }
  const source = openSource(options.source);
  try {
    const delta = openDelta(options.delta);
    const inPlace = isBlockDevice(options.target);
    const written = inPlace
      ? options.target
      : path.join(path.dirname(options.target), `.${path.basename(options.target)}.tmp-${process.pid}`);
    // A block device is written in place, only if it holds nothing in use (storage-guard.ts).
    const sink = new FileTargetSink(written, inPlace ? { fd: guardedTarget(options) } : { flags: "w" });
    let result;
    try {
      result = await decodeVcdiff(delta, source, sink, {
        verifyChecksums: options.verify ?? true,
        maxWindowSize: options.maxWindowSize,
      });
      sink.finish();
      if (!inPlace) {
        fs.renameSync(written, options.target);
        syncDirectory(path.dirname(options.target));
      }
    } catch (err) {
      sink.close();
      if (!inPlace) fs.rmSync(written, { force: true });
      if (err instanceof Error && !(err instanceof MenderDeltaError) && (err as NodeJS.ErrnoException).code) {
        // Node stream errors (the delta file vanished, stdin closed): expected I/O failures.
        throw new MenderDeltaError(`cannot read delta '${options.delta}': ${err.message}`);
      }
      throw err;
    }
    return `${options.target}: ${result.targetBytes} bytes written from ${result.windows} delta windows`;
  } finally {
    source.close();
  }
}

function guardedTarget(options: ApplyOptions): number {
  const protect = [{ path: options.source, what: `the --source ${options.source}` }];
  return openGuardedTarget(options.target, { protect, advice: "Give a --target that nothing else uses." }).fd;
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

/**
 * cac (mri) reads a lone "-" as no value, so `--delta -` would be "value is missing". Joins it into
 * `--delta=-` before parsing, for the apply command only.
 */
export function normalizeApplyArgv(argv: string[]): string[] {
  if (argv[0] !== "apply") return argv;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--delta" && argv[i + 1] === "-") {
      out.push("--delta=-");
      i++;
    } else {
      out.push(argv[i]!);
    }
  }
  return out;
}

/** Registers the `apply` sub-command on the device program's parser. */
export function registerApply(cli: CAC): void {
  cli
    .command("apply", "apply a delta to an image (no Mender client needed)")
    .option("--source <OLD>", "the image the delta was made from")
    .option("--delta <FILE>", "the delta file, or - for standard input")
    .option("--target <NEW>", "the new image (file or block device)")
    .option("--no-verify", "skip the per-window checksums")
    .option("--max-window-size <BYTES>", "largest target window accepted")
    .action(async (opts: { source?: unknown; delta?: unknown; target?: unknown; verify?: boolean; maxWindowSize?: unknown }) => {
      const need = (name: string, value: unknown): string => {
        if (typeof value !== "string" || value === "") throw new UsageError(`apply needs --${name}`);
        return value;
      };
      let maxWindowSize: number | undefined;
      if (opts.maxWindowSize !== undefined) {
        maxWindowSize = Number(opts.maxWindowSize);
        if (!Number.isSafeInteger(maxWindowSize) || maxWindowSize <= 0) {
          throw new UsageError(`--max-window-size must be a positive number of bytes, got '${String(opts.maxWindowSize)}'`);
        }
      }
      const summary = await applyDelta({
        source: need("source", opts.source),
        delta: opts.delta === "-" ? "-" : need("delta", opts.delta),
        target: need("target", opts.target),
        verify: opts.verify !== false,
        maxWindowSize,
      });
      process.stdout.write(`${summary}\n`);
      return 0;
    });
}
