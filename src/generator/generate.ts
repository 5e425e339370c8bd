/**
 * One generator run: check the inputs (cheap checks first), put both images on disk, encode the
 * VCDIFF delta, write the delta Artifact (atomically) and describe what was done. Scratch files live
 * in a directory next to the output (same file system, which has room for the output anyway) and
 * are removed whatever happens.
 */
import { mkdtempSync, promises as fsp, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { MenderDeltaError } from "../errors";
import { signManifest, writeArtifact, type ArtifactSpec, type FileSpec } from "../artifact";
import { encodeVcdiff } from "../vcdiff/encoder/encode";
import { DEFAULT_LEVEL } from "../vcdiff/encoder/levels";
import { ALGORITHM_IDS } from "../delta/contract";
import { writeFileAwareDelta, type MbdfPlanSummary } from "./mbdf/write-delta";
import { checkPair, inspectInput, loadImage, type InputRelease, type LoadedRelease } from "./inputs";
import type { GeneratorOptions } from "./options";
import { checkOutputPath } from "./output-path";
import { NO_PROGRESS, phase, type Progress } from "../progress";
import { deferCleanup, endOnInterrupt, runPendingCleanups } from "../pending-cleanup";
import { planSourceUse } from "./root-mount";
import { checkScratchSpace } from "./scratch-space";
import { recordScratchOwner, removeStaleScratch } from "./scratch-owner";
import { deltaArtifactSpec, deltaPayloadName } from "./spec";
import type { GenerationSummary, ReleaseSummary } from "./summary";

export interface GenerateHooks {
  progress?: Progress;
  /** Called for each warning as soon as it is known (they are in the summary too). */
  warn?(message: string): void;
  /** With --debug: why each changed file got the record it got. */
  debug?(message: string): void;
  /**
   * Called once the delta is encoded, before the writing: may hand the writing to a fresh process
   * (src/cli/write-handoff.ts), in which case it never resolves.
   */
  handOff?(encoded: EncodedDelta): Promise<void>;
}

/**
 * What the writing phase needs, as plain data (a fresh process can take it over): the scratch
 * directory holding the payload and scripts, the Artifact's spec, and the summary so far.
 */
export interface EncodedDelta {
  workDir: string;
  spec: ArtifactSpec;
  payloadSize: number;
  summary: Pick<GenerationSummary, "output" | "compression" | "signed" | "from" | "to" | "decoderArguments" | "rootMount" | "warnings"> & {
    delta: Omit<GenerationSummary["delta"], "payload" | "size" | "sha256">;
  };
  /** Date.now() as the run, the encoding and the writing started. */
  startedAt: { run: number; encoding: number; writing: number };
}

/** The start of a run's scratch directory's name (mkdtemp adds the rest; owner-only), beside the output. */
export const SCRATCH_PREFIX = ".mender-delta-work-";

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MenderDeltaError(`cannot read the ${what} ${file}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
}

export async function generateDelta(options: GeneratorOptions, hooks: GenerateHooks = {}): Promise<GenerationSummary> {
  const progress = hooks.progress ?? NO_PROGRESS;
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
    hooks.warn?.(m);
  };
  const t0 = Date.now();

  // The output and the keys first: neither should cost an hour of encoding.
  await checkOutputPath(options.output);
  const signingKey = options.signingKey === undefined ? undefined : readPem(options.signingKey, "signing key");
  if (signingKey) signManifest(new Uint8Array(0), signingKey);
  const verifyKey = options.verifyKey === undefined ? undefined : readPem(options.verifyKey, "verification key");

  const fromInfo = await inspectInput("FROM", options.from, verifyKey);
  const toInfo = await inspectInput("TO", options.to, verifyKey);
  const toDeviceTypes = toInfo.deviceTypes.length > 0 ? toInfo.deviceTypes : options.deviceTypes;
  for (const w of checkPair(fromInfo, toInfo, toDeviceTypes, options.output)) warn(w);
  const scratchParent = path.dirname(path.resolve(options.output));
  removeStaleScratch(scratchParent, SCRATCH_PREFIX, warn);
  await checkScratchSpace(scratchParent, [fromInfo, toInfo]);

  const makeScratch = (): string => {
    const dir = mkdtempSync(path.join(scratchParent, SCRATCH_PREFIX));
    try {
      recordScratchOwner(dir);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return dir;
  };
  return withScratch(makeScratch, async (workDir) => {
    const from = await loadImage(fromInfo, workDir, progress);
    const to = await loadImage(toInfo, workDir, progress);
    if (from.sha256 === to.sha256) {
      throw new MenderDeltaError(`FROM and TO hold the same image (sha256 ${from.sha256}): a delta would change nothing; check you picked two different releases`);
    }
    const t1 = Date.now();

    const deltaDir = path.join(workDir, "delta");
    await fsp.mkdir(deltaDir);
    const deltaPath = path.join(deltaDir, deltaPayloadName(to));
    const plan = planSourceUse(from.imagePath, options.rootMount, warn);
    let shown = 0;
    const onProgress = (done: number): void => {
      progress.advance(done - shown);
      shown = done;
    };
    let mbdf: MbdfPlanSummary | undefined;
    const stats = await phase(progress, "encoding", to.imageSize, async () => {
      if (options.deltaFormat === "mbdf") {
        const result = await writeFileAwareDelta(from.imagePath, to.imagePath, deltaPath, {
          targetSha256: to.sha256, windowSize: options.windowSize, level: options.level, threads: options.threads,
          checksum: options.checksum, avoid: plan.avoid, appHeader: plan.appHeader, onProgress,
          executableDiffs: options.executableDiffs, debug: options.debug ? hooks.debug : undefined,
        });
        if (result.format === "vcdiff") {
          warn(`--delta-format mbdf: ${result.reason}; the delta is VCDIFF, which every device program applies`);
          return result.stats;
        }
        mbdf = result.summary;
        return undefined;
      }
      return encodeVcdiff(from.imagePath, to.imagePath, deltaPath, {
        windowSize: options.windowSize,
        threads: options.threads,
        level: options.level,
        checksum: options.checksum,
        avoid: plan.avoid,
        appHeader: plan.appHeader,
        onProgress,
      });
    }).finally(() => plan.close());
    const t2 = Date.now();

    const scripts = await writeScripts(to, workDir);
    // The images extracted into the scratch directory are not read again: the writing needs only
    // the delta. Removed now, they are not left behind by a run that ends where no handler can
    // remove the directory (a signal while the hand-off's second start starts), and they free
    // their space for the writing. Raw images given as inputs are the user's and stay.
    for (const release of [from, to]) if (path.dirname(release.imagePath) === workDir) await fsp.rm(release.imagePath, { force: true });
    const encoded: EncodedDelta = {
      workDir,
      spec: deltaArtifactSpec({
        from, to, artifactName: options.artifactName, deviceTypes: options.deviceTypes,
        decoderArguments: options.decoderArguments, deltaPath, scripts, algorithm: mbdf ? ALGORITHM_IDS.mbdf1 : undefined, compression: options.compression, compressionLevel: options.compressionLevel,
        compressionTuning: { threads: options.threads, partSize: options.xzBlockSize }, signingKey,
      }),
      payloadSize: (await fsp.stat(deltaPath)).size,
      summary: {
        output: options.output,
        compression: options.compression,
        signed: signingKey !== undefined,
        from: releaseSummary(from),
        to: releaseSummary(to),
        delta: {
          windows: stats?.windows ?? 0, windowSize: stats?.windowSize ?? options.windowSize,
          level: stats?.level ?? options.level ?? DEFAULT_LEVEL, threads: stats?.threads ?? options.threads ?? 1, checksum: options.checksum,
          // Only for --delta-format mbdf, so a VCDIFF run's summary stays as it was.
          ...(mbdf ? { format: "mbdf" as const, mbdf } : {}),
        },
        decoderArguments: options.decoderArguments,
        rootMount: plan.report(),
        warnings: [...options.notes, ...warnings],
      },
      startedAt: { run: t0, encoding: t1, writing: t2 },
    };
    // The writing's memory is mostly the compressor's: in a fresh process it does not come on top
    // of what the encoding leaves allocated (docs/encoder.md, "Memory (B)"). A hook that replaces
    // the process never resolves; one that cannot, does, and the writing goes on here.
    await hooks.handOff?.(encoded);
    return writeEncodedDelta(encoded, progress);
  });
}

/**
 * The writing in a process that took over an encoded delta (src/cli/write-handoff.ts): from here on
 * it owns the scratch directory, which is removed whatever happens, as in generateDelta.
 * `readSigningKey` gives the key the encoded delta was made to be signed with (it does not carry it).
 */
export function resumeWriting(encoded: EncodedDelta, readSigningKey: () => Buffer | undefined, hooks: GenerateHooks = {}): Promise<GenerationSummary> {
  return withScratch(() => encoded.workDir, () => {
    const signingKey = readSigningKey();
    const spec = signingKey === undefined ? encoded.spec : { ...encoded.spec, signingKey };
    return writeEncodedDelta({ ...encoded, spec }, hooks.progress ?? NO_PROGRESS);
  });
}

/** The writing phase: the delta Artifact, written beside the output and renamed over it, and the summary. */
async function writeEncodedDelta(encoded: EncodedDelta, progress: Progress): Promise<GenerationSummary> {
  const { spec, summary } = encoded;
  // Compressing the delta is most of the writing: its size is the phase's 100 %.
  const written = await phase(progress, "writing", encoded.payloadSize, async () => {
    // Written inside the scratch directory (same file system as the output), then renamed: an
    // interrupted run leaves nothing behind, a finished one replaces the output atomically.
    const staged = path.join(encoded.workDir, "delta.mender");
    const result = await writeArtifact(staged, spec, { onPayloadProgress: (bytes) => progress.advance(bytes) });
    await fsp.rename(staged, summary.output).catch((err: NodeJS.ErrnoException) => {
      throw new MenderDeltaError(`cannot write the output ${summary.output}: ${err.message}; give a file path in a writable directory`);
    });
    return result;
  });
  const t3 = Date.now();
  const payload = written.payloadFiles[0]!;
  const { run, encoding, writing } = encoded.startedAt;
  return {
    output: summary.output,
    artifactName: spec.artifactName,
    artifactSize: written.size,
    compression: summary.compression,
    signed: summary.signed,
    deviceTypes: spec.deviceTypes,
    from: summary.from,
    to: summary.to,
    delta: { payload: payload.name, size: payload.size, sha256: payload.sha256, ...summary.delta },
    decoderArguments: summary.decoderArguments,
    rootMount: summary.rootMount,
    ratio: written.size / summary.to.inputSize,
    timeMs: { total: t3 - run, read: encoding - run, encode: writing - encoding, write: t3 - writing },
    warnings: summary.warnings,
  };
}

/**
 * Runs `work` in the scratch directory `makeDir` creates (or names), and removes it afterwards
 * whatever happens. An interrupted run (SIGHUP too: a build host's ssh session that drops) or one
 * that stops on a closed output pipe (src/cli/run.ts) must not leave images or a partial Artifact
 * behind: the removal is a pending cleanup from the moment the directory exists (made
 * synchronously, registered in the same step), which the signal handlers run.
 */
async function withScratch<T>(makeDir: () => string, work: (dir: string) => Promise<T>): Promise<T> {
  const stopWatching = endOnInterrupt(runPendingCleanups);
  let scratch: string | undefined;
  let releaseScratch: (() => void) | undefined;
  try {
    const dir = (scratch = makeDir());
    releaseScratch = deferCleanup(() => rmSync(dir, { recursive: true, force: true }));
    return await work(dir);
  } finally {
    stopWatching();
    if (scratch !== undefined) await fsp.rm(scratch, { recursive: true, force: true });
    releaseScratch?.();
  }
}

function releaseSummary(r: LoadedRelease): ReleaseSummary {
  return {
    input: r.source.kind, path: r.source.path, artifactName: r.artifactName, image: r.imageName,
    imageSize: r.imageSize, sha256: r.sha256, inputSize: r.inputSize,
  };
}

/** TO's state scripts as files, for the Artifact writer (which reads scripts from disk). */
async function writeScripts(to: InputRelease, workDir: string): Promise<FileSpec[]> {
  if (to.scripts.length === 0) return [];
  const dir = path.join(workDir, "scripts");
  await fsp.mkdir(dir);
  const files: FileSpec[] = [];
  for (const s of to.scripts) {
    const file = path.join(dir, s.name);
    await fsp.writeFile(file, s.content, { mode: s.mode & 0o777 });
    files.push({ path: file, name: s.name, mode: s.mode & 0o777 });
  }
  return files;
}
