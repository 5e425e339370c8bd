/**
 * `mender-binary-delta apply --source OLD --delta FILE|- --target NEW|-`: applies an xdelta3/VCDIFF
 * or an MBDF delta (docs/file-delta-format.md; told apart by their first bytes) without a Mender client, for people and scripts. A file NEW is written to a temporary file
 * beside it and renamed over NEW only after every window decoded and verified, so a failure never
 * leaves a half-written NEW; block devices, FIFOs, character devices and standard output are
 * written in place (apply-target.ts says which target is written how).
 */
import fs from "node:fs";
import fsp, { type FileHandle } from "node:fs/promises";
import type { CAC } from "cac";
import { MenderDeltaError, UsageError } from "../errors";
import { openDirectSource } from "../io/direct-source";
import { deviceOrFileSize } from "../io/file-size";
import { FileBlockSource } from "../io/file-source";
import { readInReusedChunks } from "../io/reused-chunks";
import { openGuardedTarget } from "../device/storage-guard";
import type { BlockSource } from "../io/interfaces";
import { classifyTarget, openTarget } from "./apply-target";
import { decodeVcdiff, DEFAULT_MAX_WINDOW_SIZE } from "../vcdiff/decoder/decode";
import { ALGORITHM_IDS } from "../delta/contract";
import { decodeMbdf } from "../delta/mbdf/decode";
import { mbdfTargetSize } from "../delta/mbdf/target-size";
import { sniffDelta } from "../delta/sniff";
import { SOURCE_MISMATCH_EXIT_CODE, SourceMismatchError } from "../vcdiff/decoder/errors";
import { parseReadSetAppHeader } from "../vcdiff/format/read-set";
import { deltaTargetSize } from "../vcdiff/decoder/target-size";
import { createProgress, NO_PROGRESS, type Progress } from "../progress";
import { verifyReadSet } from "../device/read-set-check";

export const APPLY_HELP = `Apply a delta (stock 'xdelta3 -e' output, or the generator's VCDIFF or MBDF):
  apply --source OLD --delta FILE|- --target NEW
        [--no-verify] [--max-window-size BYTES] [-q]

  --source OLD    the image the delta was made from (file or block device)
  --delta FILE    the delta; '-' reads it from standard input
  --target NEW    where the new image goes: a file (written to a new
                  .NEW.tmp-* beside it, renamed when complete), a block
                  device, FIFO or character device (written in place), or
                  '-' for standard output (the summary then goes to
                  standard error)
  --no-verify     do not verify the per-window Adler-32 checksums
                  (like 'xdelta3 -d -n')
  --max-window-size BYTES
                  largest target window accepted (default ${DEFAULT_MAX_WINDOW_SIZE})
  -q, --quiet     no progress on standard error (a bar on a terminal, else
                  a line per 10%: "applying  40%"); also --no-progress

  A delta that carries a read set (the source bytes it reads, hashed:
  mender-binary-delta-generator) has them checked in OLD before anything is
  written; OLD may differ elsewhere.

  Exit codes: 0 applied; 1 failed (damaged/unsupported delta, I/O error; NEW
  untouched); 2 wrong command line; ${SOURCE_MISMATCH_EXIT_CODE} the source is not the image the delta
  was made from (bytes of its read set changed, window checksum mismatch or
  source too short; NEW untouched); 70 internal error (a bug: report it).`;

export interface ApplyCommandOptions {
  source: string;
  delta: string;
  target: string;
  verify?: boolean;
  maxWindowSize?: number;
  /** The decode's progress, in bytes of the new image. */
  progress?: Progress;
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

/** The delta file, opened once (a pipe such as `<(...)` cannot be opened twice); undefined for standard input. */
async function openDelta(file: string): Promise<FileHandle | undefined> {
  if (file === "-") return undefined;
  try {
    return await fsp.open(file, "r");
  } catch (err) {
    throw new MenderDeltaError(`cannot open delta '${file}': ${(err as Error).message}`);
  }
}

/** True when both paths name the same file or device (writing the target would destroy the source). */
function sameFile(a: string, b: string): boolean {
  if (b === "-") return false;
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.isBlockDevice() && sb.isBlockDevice() ? sa.rdev === sb.rdev : sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** Applies the delta; returns a one-line summary. Throws MenderDeltaError on every expected failure. */
export async function applyDeltaCommand(options: ApplyCommandOptions): Promise<string> {
  if (sameFile(options.source, options.target)) {
    throw new MenderDeltaError(`--source and --target are the same (${options.target}); the new image must go elsewhere`);
  }
  const target = classifyTarget(options.target);
  // The new image's size, when the delta is a file that can be read twice (not standard input).
  const imageSize = options.delta === "-" ? undefined : (deltaTargetSize(options.delta) ?? mbdfTargetSize(options.delta));
  if (target.kind === "block-device" && imageSize !== undefined) checkTargetFits(imageSize, target.path, target.device);
  const source = openSource(options.source);
  const progress = options.progress ?? NO_PROGRESS;
  try {
    const deltaFile = await openDelta(options.delta);
    let output: ReturnType<typeof openTarget>;
    try {
      // A block device is written in place, only if it holds nothing in use (storage-guard.ts).
      output = openTarget(target, (device) => guardedTarget(device, options.source));
    } catch (err) {
      await deltaFile?.close();
      throw err;
    }
    // Read as the device reads its payload, into two buffers in turn (io/reused-chunks.ts says
    // why); the reader closes the file.
    const stream = deltaFile ? readInReusedChunks(deltaFile) : process.stdin;
    let decoded: string;
    let targetBytes: number;
    try {
      let started = false;
      const { algorithm, delta } = await sniffDelta(stream);
      const shared = {
        maxWindowSize: options.maxWindowSize,
        onAppHeader: (appHeader: Uint8Array | undefined) => checkSourceReadSet(appHeader, source, options.source),
        // Started with the first window written: the source checks and their notes come first, and
        // a delta refused before writing prints no progress.
        onWindow: ({ targetLength }: { targetLength: number }) => {
          if (!started) progress.start("applying", imageSize ?? 0);
          started = true;
          progress.advance(targetLength);
        },
      };
      if (algorithm === ALGORITHM_IDS.mbdf1) {
        // Every MBDF record carries a CRC-32 and the header the image's SHA-256: always checked.
        const result = await decodeMbdf(delta, source, output.sink, shared);
        ({ targetBytes } = result);
        decoded = `${result.records} MBDF records`;
      } else {
        // Anything else goes to the VCDIFF decoder, which names what is wrong with a non-delta.
        const result = await decodeVcdiff(delta, source, output.sink, { ...shared, verifyChecksums: options.verify ?? true });
        ({ targetBytes } = result);
        decoded = `${result.windows} delta windows`;
      }
      output.commit();
      progress.finish(true);
    } catch (err) {
      progress.finish(false);
      output.abort();
      if (err instanceof Error && !(err instanceof MenderDeltaError) && (err as NodeJS.ErrnoException).code) {
        // Node stream errors (the delta file vanished, stdin closed): expected I/O failures.
        throw new MenderDeltaError(`cannot read delta '${options.delta}': ${err.message}`);
      }
      throw err;
    }
    return `${target.path === "-" ? "standard output" : options.target}: ${targetBytes} bytes written from ${decoded}`;
  } finally {
    source.close();
  }
}

/**
 * A device is written in place: an image larger than it must be refused before the first byte, not
 * at the device's end with its start overwritten. The delta file's window headers give the size.
 */
function checkTargetFits(size: number, name: string, device: string): void {
  const capacity = deviceOrFileSize(device);
  if (size > capacity) {
    throw new MenderDeltaError(
      `the new image does not fit on --target ${name}: the delta makes ${size} bytes, the device holds ${capacity}. ` +
        `Nothing was written; give a device (partition) at least as large as the image`,
    );
  }
}

/**
 * Before anything is written: when the delta carries a read set, the bytes it reads must be intact
 * in the source. A source that differs elsewhere is noted on standard error (never standard output,
 * which may carry the image).
 */
function checkSourceReadSet(appHeader: Uint8Array | undefined, source: BlockSource, name: string): void {
  const set = appHeader && parseReadSetAppHeader(appHeader);
  if (!set) return;
  if (set.sourceSize > source.size) {
    throw new SourceMismatchError(
      `--source ${name} holds ${source.size} bytes, the delta was made from a ${set.sourceSize}-byte image; give the image the delta was made from`,
    );
  }
  const verdict = verifyReadSet(set, source, {
    source: `--source ${name}`,
    why: "it is not the exact image the delta was made from",
    since: "since the delta was made",
    proceeding: "applying",
    advice: "Give the image the delta was made from as --source, or apply a full image",
    exitCode: SOURCE_MISMATCH_EXIT_CODE,
  });
  if (verdict.wholeChunksChanged > 0) process.stderr.write(`mender-binary-delta: ${verdict.line}\n`);
}

function guardedTarget(device: string, source: string): number {
  const protect = [{ path: source, what: `the --source ${source}` }];
  return openGuardedTarget(device, { protect, advice: "Give a --target that nothing else uses." }).fd;
}

/**
 * cac (mri) reads a lone "-" as no value, so `--delta -` would be "value is missing". Joins it into
 * `--delta=-` (and `--target -` into `--target=-`) before parsing, for the apply command only.
 */
export function normalizeApplyArgv(argv: string[]): string[] {
  if (argv[0] !== "apply") return argv;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === "--delta" || argv[i] === "--target") && argv[i + 1] === "-") {
      out.push(`${argv[i]}=-`);
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
    .option("--target <NEW>", "the new image (file, block device, FIFO, character device), or - for standard output")
    .option("--no-verify", "skip the per-window checksums")
    .option("--max-window-size <BYTES>", "largest target window accepted")
    .option("-q, --quiet", "no progress")
    .option("--no-progress", "no progress")
    .action(async (opts: { source?: unknown; delta?: unknown; target?: unknown; verify?: boolean; maxWindowSize?: unknown; quiet?: boolean; progress?: boolean }) => {
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
      const summary = await applyDeltaCommand({
        source: need("source", opts.source),
        delta: opts.delta === "-" ? "-" : need("delta", opts.delta),
        target: opts.target === "-" ? "-" : need("target", opts.target),
        verify: opts.verify !== false,
        maxWindowSize,
        progress: createProgress(process.stderr, opts.quiet !== true && opts.progress !== false),
      });
      // With --target - standard output carries the image: the summary must not end up in it.
      (opts.target === "-" ? process.stderr : process.stdout).write(`${summary}\n`);
      return 0;
    });
}
