/**
 * The generator's argument model: what a command line means, validated, before any file is opened.
 *
 * The original tool's interface is kept: `[-n NAME] -o OUT [-D "<decoder args>"] FROM TO [-- -- <encoder args>]`.
 * Decoder arguments are xdelta3 decoder memory options (`-B -W -P -I`); they are recorded in the
 * Artifact for the device and `-W` also bounds the encoder's window size (the device's input buffer
 * must hold a whole window). Encoder arguments are xdelta3 encoder flags; those that mean something
 * to our encoder are honoured, the tuning flags of xdelta3's own matcher are accepted and ignored.
 */
import { UsageError } from "../errors";
import { DEFAULT_WINDOW_SIZE, MAX_WINDOW_SIZE, MIN_WINDOW_SIZE } from "../vcdiff/encoder/encode";
import { COMPRESSIONS, compressionById, compressionsDefaultFirst, type Compression } from "../artifact";
import type { RootMount } from "./root-mount";

/** One side of the delta: a rootfs-image Artifact or a raw filesystem image. */
export type InputSource = { kind: "artifact"; path: string } | { kind: "image"; path: string };

export interface GeneratorOptions {
  from: InputSource;
  to: InputSource;
  output: string;
  /** -n / --artifact-name: the delta's Artifact name (default: TO's name). Required when TO is a raw image. */
  artifactName?: string;
  /** -t / --device-type (repeatable): required when TO is a raw image; otherwise TO's device types are used. */
  deviceTypes: string[];
  /** -D, split into words as given: recorded as meta-data `decoder_arguments`. */
  decoderArguments: string[];
  /** Window size the encoder uses (from the encoder's or the decoder's -W, rounded down to 4 KiB). */
  windowSize: number;
  /** Encoder level 1..9 (xdelta3's -1..-9; -0 means 1). */
  level?: number;
  /** xdelta3's per-window adler32 (off with the encoder flag -n). */
  checksum: boolean;
  threads?: number;
  compression: Compression;
  /** The compressor's level (xz 0-9, gzip 0-9, zstd 1-19); undefined: its default. */
  compressionLevel?: number;
  /** --xz-block-size: input bytes per xz block (a tuning knob); undefined: the xz writer's default. */
  xzBlockSize?: number;
  /** --root-mount: how the devices mount their root filesystem (rw: see root-mount.ts). */
  rootMount: RootMount;
  /** --delta-format: the payload's format, VCDIFF (default) or the file-aware MBDF (generator/mbdf/). */
  deltaFormat: DeltaFormat;
  /** false after --no-executable-diffs: MBDF without EXEC records (for modules that predate them). */
  executableDiffs: boolean;
  /** --debug: why each changed file got the record it got, on stderr. */
  debug: boolean;
  /** PEM file with the private key to sign with. */
  signingKey?: string;
  /** PEM file with the public key the inputs' signatures must verify with. */
  verifyKey?: string;
  json: boolean;
  /** Progress bar: only when stderr is a terminal, never with --json or --quiet. */
  quiet: boolean;
  /** Notes about arguments that were accepted but do not change the output. */
  notes: string[];
}

/** The raw values cac parsed (strings restored verbatim, see protectValues). */
export interface RawOptions {
  output?: string;
  /** --output-path: mender-artifact's name for -o. */
  outputPath?: string;
  name?: string;
  artifactName?: string;
  decoderArgs?: string;
  deviceType?: string | string[];
  fromImage?: string;
  toImage?: string;
  compression?: string;
  compressionLevel?: string;
  key?: string;
  verifyKey?: string;
  threads?: string;
  xzBlockSize?: string;
  rootMount?: string;
  deltaFormat?: string;
  /** false after --no-executable-diffs. */
  executableDiffs?: boolean;
  debug?: boolean;
  json?: boolean;
  quiet?: boolean;
  /** false after --no-progress (mender-artifact's spelling of -q). */
  progress?: boolean;
  "--"?: string[];
}

/** Options that take a value, by every spelling; their values must reach us verbatim. */
export const VALUE_OPTIONS = [
  "-o", "--output", "--output-path", "-n", "--name", "--artifact-name", "-D", "--decoder-args", "-t", "--device-type",
  "--from-image", "--to-image",
  "--compression", "--compression-level", "-k", "--key", "--verify-key", "--threads", "--xz-block-size", "--root-mount",
  "--delta-format",
];

export type DeltaFormat = "vcdiff" | "mbdf";

const MARK = "\u0001value:";

/** The default --root-mount (docs/read-write-root.md has the measurements behind it). */
export const DEFAULT_ROOT_MOUNT: RootMount = "rw";
/** The file-aware format: it falls back to VCDIFF by itself where it cannot be smaller (generator/mbdf/). */
export const DEFAULT_DELTA_FORMAT: DeltaFormat = "mbdf";

/**
 * cac (mri) turns "0123" into 123 and reads `-D "-B5 -W6"` as more flags. Before parsing, every
 * value of a VALUE_OPTIONS option (up to the first `--`) is replaced by a placeholder; the `restore`
 * function returned with the new argv maps placeholders back to the exact text the user typed.
 */
export function protectValues(argv: string[]): { argv: string[]; restore: (v: unknown) => unknown } {
  const values: string[] = [];
  const hold = (v: string): string => `${MARK}${values.push(v) - 1}`;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const eq = token.indexOf("=");
    if (token.startsWith("--") && eq > 0 && VALUE_OPTIONS.includes(token.slice(0, eq))) {
      out.push(`${token.slice(0, eq)}=${hold(token.slice(eq + 1))}`);
    } else if (VALUE_OPTIONS.includes(token) && i + 1 < argv.length) {
      out.push(token, hold(argv[++i]!));
    } else if (/^-[a-zA-Z]./.test(token) && VALUE_OPTIONS.includes(token.slice(0, 2))) {
      out.push(token.slice(0, 2), hold(token.slice(2).replace(/^=/, "")));
    } else {
      out.push(token);
    }
  }
  const restore = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(restore);
    if (typeof v === "string" && v.startsWith(MARK)) return values[Number(v.slice(MARK.length))];
    return v;
  };
  return { argv: out, restore };
}

function lastString(v: unknown, flag: string): string | undefined {
  if (v === undefined) return undefined;
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  if (typeof last !== "string" || last === "") throw new UsageError(`${flag} needs a value`);
  return last;
}

function stringList(v: unknown, flag: string): string[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((item) => {
    if (typeof item !== "string" || item.trim() === "") throw new UsageError(`${flag} needs a value`);
    return item.trim();
  });
}

function integer(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} must be a whole number, got '${text}'`);
  return Number(text);
}

/** The number after a single-letter flag: "-B524288000", "-B 524288000" or "-B=524288000". */
function flagValue(words: string[], i: number, flag: string): { value: string; next: number } {
  const word = words[i]!;
  const inline = word.slice(2).replace(/^=/, "");
  if (inline !== "") return { value: inline, next: i };
  if (i + 1 >= words.length) throw new UsageError(`${flag} needs a number after it`);
  return { value: words[i + 1]!, next: i + 1 };
}

export interface DecoderArguments {
  words: string[];
  sourceBuffer?: number;
  inputWindow?: number;
}

/**
 * `-D "<flags>"`: only xdelta3's decoder memory options mean anything on the device:
 * -B (source buffer, >= 16 KiB), -W (input window, 16 KiB..16 MiB), -P (duplicates window, a power
 * of two), -I (instruction buffer, 0 = unlimited).
 */
/** xdelta3 -B's largest value (2 GiB): `xdelta3 -d -B` refuses a larger one. */
const MAX_SOURCE_BUFFER = 2 ** 31;

export function parseDecoderArguments(text: string | undefined): DecoderArguments {
  if (text === undefined) return { words: [] };
  const words = text.split(/\s+/).filter(Boolean);
  const seen: Record<string, number> = {};
  for (let i = 0; i < words.length; i++) {
    const flag = words[i]!.slice(0, 2);
    if (!["-B", "-W", "-P", "-I"].includes(flag)) {
      throw new UsageError(
        `-D: '${words[i]}' is not a decoder memory option; only -B (source buffer), -W (input window), -P (duplicates window) and -I (instruction buffer) are meaningful to the device, e.g. -D "-B67108864 -W8388608"`,
      );
    }
    const { value, next } = flagValue(words, i, flag);
    seen[flag] = integer(value, `-D ${flag}`);
    i = next;
  }
  const B = seen["-B"], W = seen["-W"], P = seen["-P"], I = seen["-I"];
  if (B !== undefined && (B < 16384 || B > MAX_SOURCE_BUFFER)) {
    throw new UsageError(`-D -B${B}: the source buffer must be between 16384 and ${MAX_SOURCE_BUFFER} bytes (xdelta3's limits: it refuses the flag otherwise)`);
  }
  if (W !== undefined && (W < 16384 || W > MAX_WINDOW_SIZE)) {
    throw new UsageError(`-D -W${W}: the input window must be between 16384 and ${MAX_WINDOW_SIZE} bytes (xdelta3's limits)`);
  }
  if (P !== undefined && (P === 0 || (P & (P - 1)) !== 0)) throw new UsageError(`-D -P${P}: the duplicates window must be a power of two (xdelta3 requires it)`);
  // xdelta3's help says P <= W, yet Mender's documented example is "-W150000 -P262144": accepted as is.
  void I;
  return { words, sourceBuffer: B, inputWindow: W };
}

export interface EncoderArguments {
  level?: number;
  window?: number;
  checksum: boolean;
  ignored: string[];
}

/** xdelta3 encoder flags that tune xdelta3's own matcher or output and do not apply to ours. */
const IGNORED_FLAGS = new Set(["-e", "-f", "-A", "-q", "-v", "-vv", "-c", "-N", "-D", "-R"]);
const IGNORED_WITH_VALUE = new Set(["-B", "-P", "-I", "-S", "-C"]);

/** Encoder flags after `-- --`: -0..-9 (level), -W (window), -n (no checksum); xdelta3 tuning flags are ignored. */
export function parseEncoderArguments(words: string[]): EncoderArguments {
  const result: EncoderArguments = { checksum: true, ignored: [] };
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const flag = word.slice(0, 2);
    if (/^-\d$/.test(word)) {
      result.level = Math.max(1, Number(word.slice(1)));
    } else if (word === "-n") {
      result.checksum = false;
    } else if (flag === "-W") {
      const { value, next } = flagValue(words, i, flag);
      result.window = integer(value, "encoder -W");
      i = next;
    } else if (IGNORED_FLAGS.has(word)) {
      result.ignored.push(word);
    } else if (IGNORED_WITH_VALUE.has(flag)) {
      const { value, next } = flagValue(words, i, flag);
      result.ignored.push(`${flag}${value}`);
      i = next;
    } else {
      throw new UsageError(
        `encoder argument '${word}' is not understood; after '-- --' use xdelta3 encoder flags: -1..-9 (level), -W <window bytes>, -n (no checksums); -B -P -I -S -A -e -f are accepted and ignored`,
      );
    }
  }
  return result;
}

/** Largest 4 KiB multiple <= `bytes`, as the encoder's windows must be. */
function windowFrom(bytes: number, what: string): number {
  const rounded = Math.min(MAX_WINDOW_SIZE, bytes - (bytes % 4096));
  if (rounded < MIN_WINDOW_SIZE) {
    throw new UsageError(`${what} ${bytes} is below the encoder's smallest window (${MIN_WINDOW_SIZE} bytes); use at least -W${MIN_WINDOW_SIZE}`);
  }
  return rounded;
}

/** xz is the delta's default: every Mender client reads it, and it is the smallest. */
export const DEFAULT_DELTA_COMPRESSION: Compression = "xz";

/**
 * The compression and the level it implies for a --compression name: an id, or one of
 * mender-artifact's names (lzma for xz, zstd_* for zstd levels; compressions/zstd.ts says why).
 */
function compressionNamed(name: string): { compression: Compression; level?: number } | undefined {
  for (const c of COMPRESSIONS) {
    if (c.id === name) return { compression: c.id };
    const alias = c.aliases.find((a) => a.name === name);
    if (alias) return { compression: c.id, level: alias.level };
  }
  return undefined;
}

/** "xz (default, or lzma), gzip, zstd (or zstd_fastest, ...) or none": the names --compression takes. */
function compressionNames(): string {
  const names = compressionsDefaultFirst(DEFAULT_DELTA_COMPRESSION).map((c) => {
    const notes = [
      ...(c.id === DEFAULT_DELTA_COMPRESSION ? ["default"] : []),
      ...(c.aliases.length > 0 ? [`or ${c.aliases.map((a) => a.name).join(", ")}`] : []),
    ];
    return notes.length > 0 ? `${c.id} (${notes.join(", ")})` : c.id;
  });
  return `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

/** Turns cac's parse result (values restored) and the positional arguments into validated options. */
export function resolveOptions(raw: RawOptions, positional: string[]): GeneratorOptions {
  const notes: string[] = [];
  const outputOpt = lastString(raw.output, "-o/--output");
  const outputPath = lastString(raw.outputPath, "--output-path");
  if (outputOpt !== undefined && outputPath !== undefined && outputOpt !== outputPath) {
    throw new UsageError(`-o '${outputOpt}' and --output-path '${outputPath}' disagree; give one`);
  }
  const output = outputOpt ?? outputPath;
  if (output === undefined) throw new UsageError("no output file: give -o OUT.mender");

  const fromImage = lastString(raw.fromImage, "--from-image");
  const toImage = lastString(raw.toImage, "--to-image");
  const wanted = (fromImage ? 0 : 1) + (toImage ? 0 : 1);
  if (positional.length !== wanted) {
    const what = wanted === 2 ? "FROM.mender and TO.mender (the release on the device first, the new one second)" : wanted === 1 ? `${fromImage ? "TO.mender" : "FROM.mender"} (or use ${fromImage ? "--to-image" : "--from-image"})` : "no positional arguments (both sides are given as --from-image/--to-image)";
    throw new UsageError(`expected ${what}, got ${positional.length} argument(s)${positional.length ? `: ${positional.join(" ")}` : ""}`);
  }
  const rest = [...positional];
  const from: InputSource = fromImage ? { kind: "image", path: fromImage } : { kind: "artifact", path: rest.shift()! };
  const to: InputSource = toImage ? { kind: "image", path: toImage } : { kind: "artifact", path: rest.shift()! };

  const name = lastString(raw.name, "-n/--name");
  const artifactNameOpt = lastString(raw.artifactName, "--artifact-name");
  if (name !== undefined && artifactNameOpt !== undefined && name !== artifactNameOpt) {
    throw new UsageError(`-n '${name}' and --artifact-name '${artifactNameOpt}' disagree; give one`);
  }
  const artifactName = name ?? artifactNameOpt;
  const deviceTypes = stringList(raw.deviceType, "-t/--device-type");
  if (to.kind === "image" && artifactName === undefined) throw new UsageError("--to-image needs --artifact-name (or -n): a raw image carries no release name");
  if (to.kind === "image" && deviceTypes.length === 0) throw new UsageError("--to-image needs --device-type (repeatable): a raw image carries no device type");
  if (to.kind === "artifact" && deviceTypes.length > 0) {
    throw new UsageError("--device-type is for raw images only; with TO.mender the delta is for TO's device types");
  }

  const decoder = parseDecoderArguments(lastString(raw.decoderArgs, "-D/--decoder-args"));
  const encoderWords = encoderArgumentWords(raw["--"] ?? []);
  const encoder = parseEncoderArguments(encoderWords);
  if (encoder.ignored.length > 0) notes.push(`encoder arguments ${encoder.ignored.join(" ")} tune xdelta3's own matcher and are ignored`);
  let windowSize = DEFAULT_WINDOW_SIZE;
  if (decoder.inputWindow !== undefined) windowSize = Math.min(windowSize, windowFrom(decoder.inputWindow, "-D -W"));
  if (encoder.window !== undefined) {
    const w = windowFrom(encoder.window, "encoder -W");
    if (decoder.inputWindow !== undefined && w > decoder.inputWindow) {
      throw new UsageError(`encoder -W${encoder.window} is larger than the device's input window -D -W${decoder.inputWindow}; the device could not hold a window`);
    }
    windowSize = w;
  }
  if (decoder.inputWindow !== undefined && windowSize !== decoder.inputWindow && encoder.window === undefined) {
    notes.push(`window size ${windowSize} bytes (-W${decoder.inputWindow} rounded down to a multiple of 4096)`);
  }

  const named = lastString(raw.compression, "--compression") ?? DEFAULT_DELTA_COMPRESSION;
  const alias = compressionNamed(named);
  if (!alias) throw new UsageError(`--compression '${named}' is unknown; use ${compressionNames()}`);
  const { compression } = alias;

  const levelText = lastString(raw.compressionLevel, "--compression-level");
  // An explicit --compression-level wins over the level a mender-artifact zstd_* name implies.
  const compressionLevel = levelText === undefined ? alias.level : integer(levelText, "--compression-level");
  if (compressionLevel !== undefined) {
    const levels = compressionById(compression).levels;
    if (!levels) throw new UsageError(`--compression-level needs a compressor: --compression ${compression} has no levels`);
    if (compressionLevel < levels.min || compressionLevel > levels.max) {
      throw new UsageError(`--compression-level ${compressionLevel}: ${compression} takes ${levels.min} to ${levels.max}`);
    }
  }

  const threadsText = lastString(raw.threads, "--threads");
  const threads = threadsText === undefined ? undefined : integer(threadsText, "--threads");
  if (threads !== undefined && (threads < 1 || threads > 256)) throw new UsageError(`--threads ${threads}: use 1 to 256`);
  const blockText = lastString(raw.xzBlockSize, "--xz-block-size");
  const xzBlockSize = blockText === undefined ? undefined : integer(blockText, "--xz-block-size");
  if (xzBlockSize !== undefined && (xzBlockSize < 4096 || xzBlockSize > 1 << 30)) throw new UsageError(`--xz-block-size ${xzBlockSize}: use 4096 to 1073741824 bytes`);

  const rootMountText = lastString(raw.rootMount, "--root-mount");
  const mount = rootMountText ?? DEFAULT_ROOT_MOUNT;
  if (mount !== "rw" && mount !== "ro") {
    throw new UsageError(`--root-mount '${mount}' is unknown; use rw (devices mount their root read-write) or ro (read-only)`);
  }
  const deltaFormat = lastString(raw.deltaFormat, "--delta-format") ?? DEFAULT_DELTA_FORMAT;
  if (deltaFormat !== "vcdiff" && deltaFormat !== "mbdf") {
    throw new UsageError(`--delta-format '${deltaFormat}' is unknown; use mbdf (file-aware, the default) or vcdiff (any device program)`);
  }
  const rootMount: RootMount = mount;
  const executableDiffs = raw.executableDiffs !== false;
  if (!executableDiffs && deltaFormat === "vcdiff") notes.push("--no-executable-diffs: a VCDIFF delta has no executable-aware records anyway");

  return {
    from, to, output, artifactName, deviceTypes, rootMount, deltaFormat, executableDiffs,
    debug: raw.debug === true,
    decoderArguments: decoder.words,
    windowSize,
    level: encoder.level,
    checksum: encoder.checksum,
    threads,
    compression,
    compressionLevel,
    xzBlockSize,
    signingKey: lastString(raw.key, "-k/--key"),
    verifyKey: lastString(raw.verifyKey, "--verify-key"),
    json: raw.json === true,
    quiet: raw.quiet === true || raw.progress === false,
    notes,
  };
}

/**
 * What follows the first `--`: the original's form is `-- -- <encoder args>` (the group between the
 * two is reserved and must be empty); `-- <encoder args>` is accepted too.
 */
function encoderArgumentWords(rest: string[]): string[] {
  const second = rest.indexOf("--");
  if (second < 0) return rest;
  if (second > 0) {
    throw new UsageError(`'${rest.slice(0, second).join(" ")}' between '--' and '--' is not supported; put encoder flags after '-- --' and use this program's options for the Artifact`);
  }
  return rest.slice(second + 1);
}
