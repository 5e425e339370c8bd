/**
 * A simulated A/B device and the Mender client's side of the Update Module protocol, for the demo
 * and the tests: image files as partitions, a file-backed U-Boot environment driven by the real
 * fw_printenv/fw_setenv (PATH shims adding -c/-f, as the client's own tests do), Update Module file
 * trees as the client writes them, and streaming Download through FIFOs. `command` is how to start
 * the module: a built binary, or `qemu-... binary`, or `node bundle.cjs`.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { crc32 } from "../compress/crc32";

export interface BootEnvFixture {
  binDir: string;
  file: string;
  /** Every copy: `file`, then the redundant one if there is one. */
  files: string[];
  config: string;
  /** The default environment file (fw_printenv/fw_setenv -f). */
  defaults: string;
  /** Every variable, parsed from the environment file itself (not through the tools under test). */
  read(): Map<string, string>;
  /** Sets variables in one `fw_setenv -s -` batch (one line each). */
  set(vars: Record<string, string>): void;
  /** Sets one variable through `fw_setenv NAME VALUE`: the only way to store a multi-line value. */
  setValue(name: string, value: string): void;
  /** The scripts given to `fw_setenv -s -` through PATH so far (one string per call), then forgotten. */
  takeSetBatches(): string[];
}

/**
 * Variables of a U-Boot environment image as U-Boot stores it: CRC-32 (little-endian) of the data,
 * a flags byte in a redundant copy, then `name=value` strings each ending in NUL, the last followed
 * by another NUL. Undefined when the CRC does not match (a copy never written, or damaged).
 */
function parseUbootEnvImage(image: Buffer, redundant: boolean): { flags: number; vars: Map<string, string> } | undefined {
  const dataStart = redundant ? 5 : 4;
  if (image.readUInt32LE(0) !== crc32(image, 0, dataStart) >>> 0) return undefined;
  const vars = new Map<string, string>();
  for (let at = dataStart; at < image.length && image[at] !== 0; ) {
    const end = image.indexOf(0, at);
    const entry = image.toString("utf8", at, end < 0 ? image.length : end);
    vars.set(entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1));
    at = end < 0 ? image.length : end + 1;
  }
  return { flags: redundant ? image[4]! : 0, vars };
}

/** The environment in use: the one valid copy, or of two the newer by libubootenv's incrementing flags byte. */
function readUbootEnvFiles(files: string[]): Map<string, string> {
  const copies = files.map((f) => parseUbootEnvImage(fs.readFileSync(f), files.length === 2));
  const [a, b] = copies;
  if (!b) {
    if (!a) throw new Error(`no valid U-Boot environment in ${files.join(", ")}`);
    return a.vars;
  }
  if (!a) return b.vars;
  const bNewer = (a.flags === 0xff && b.flags === 0) || (b.flags > a.flags && !(b.flags === 0xff && a.flags === 0));
  return bNewer ? b.vars : a.vars;
}

/**
 * A file-backed U-Boot environment (`envBytes` long, 16 KiB by default) and PATH shims so
 * fw_printenv/fw_setenv use it. With `copies: 2` the environment is redundant (two files, as two
 * flash areas): fw_setenv writes the copy not in use with a higher flags byte, fw_printenv reads the
 * valid copy with the higher one.
 */
export function makeBootEnv(dir: string, initial: Record<string, string>, copies: 1 | 2 = 1, envBytes = 16384): BootEnvFixture {
  const binDir = path.join(dir, "bin");
  fs.mkdirSync(binDir, { recursive: true });
  const file = path.join(dir, "uboot.env");
  const files = copies === 2 ? [file, path.join(dir, "uboot-redund.env")] : [file];
  const config = path.join(dir, "fw_env.config");
  const defenv = path.join(dir, "defenv");
  for (const f of files) fs.writeFileSync(f, Buffer.alloc(envBytes));
  fs.writeFileSync(config, files.map((f) => `${f} 0x0 0x${envBytes.toString(16)}\n`).join(""));
  fs.writeFileSync(defenv, Object.entries(initial).map(([k, v]) => `${k}=${v}\n`).join(""));
  const setLog = path.join(dir, "fw_setenv.log");
  fs.writeFileSync(
    path.join(binDir, "fw_printenv"),
    `#!/bin/sh\nexec /usr/bin/fw_printenv -c "${config}" -f "${defenv}" "$@"\n`,
    { mode: 0o755 },
  );
  // Records every call (arguments, then the script on stdin) so tests can check the batches.
  fs.writeFileSync(
    path.join(binDir, "fw_setenv"),
    `#!/bin/sh\nIN=$(cat)\nprintf '%s\\n%s\\n\\0' "$*" "$IN" >> "${setLog}"\n` +
      `printf '%s\\n' "$IN" | exec /usr/bin/fw_setenv -c "${config}" -f "${defenv}" "$@"\n`,
    { mode: 0o755 },
  );
  const read = (): Map<string, string> => readUbootEnvFiles(files);
  const set = (vars: Record<string, string>): void => {
    execFileSync("/usr/bin/fw_setenv", ["-c", config, "-f", defenv, "-s", "-"], {
      input: Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(""),
      stdio: ["pipe", "ignore", "ignore"],
    });
  };
  const setValue = (name: string, value: string): void => {
    execFileSync("/usr/bin/fw_setenv", ["-c", config, "-f", defenv, name, value], { stdio: ["ignore", "ignore", "pipe"] });
  };
  const takeSetBatches = (): string[] => {
    const text = fs.existsSync(setLog) ? fs.readFileSync(setLog, "utf8") : "";
    fs.rmSync(setLog, { force: true });
    return text
      .split("\0")
      .map((c) => c.replace(/^\n/, ""))
      .filter(Boolean)
      .map((c) => {
        const [args, ...script] = c.trimEnd().split("\n");
        return `${args}: ${script.join(";")}`;
      });
  };
  set(initial); // store it, so reads come from the file, not the defaults
  return { binDir, file, files, config, defaults: defenv, read, set, setValue, takeSetBatches };
}

export interface TreeOptions {
  artifactName?: string;
  deviceType?: string;
  artifactDeviceTypes?: string[];
  sourceChecksum: string;
  targetChecksum: string;
  metaData: Record<string, unknown>;
  /** 4.x formats with trailing newlines and compact JSON; 3.x indents JSON, no newline. */
  clientStyle?: "3.x" | "4.x";
}

/** The header part of an Update Module file tree, as the client creates it. */
export function makeTree(tree: string, o: TreeOptions): void {
  fs.rmSync(tree, { recursive: true, force: true });
  fs.mkdirSync(path.join(tree, "header"), { recursive: true });
  fs.mkdirSync(path.join(tree, "tmp"), { recursive: true });
  const style = o.clientStyle ?? "3.x";
  const nl = style === "4.x" ? "\n" : "";
  const json = (v: unknown) => (style === "4.x" ? JSON.stringify(v) : JSON.stringify(v, null, "  "));
  const name = o.artifactName ?? "release-2";
  fs.writeFileSync(path.join(tree, "version"), `3${nl}`);
  fs.writeFileSync(path.join(tree, "current_artifact_name"), `release-1${nl}`);
  fs.writeFileSync(path.join(tree, "current_artifact_group"), nl);
  fs.writeFileSync(path.join(tree, "current_device_type"), `${o.deviceType ?? "test-device"}${nl}`);
  fs.writeFileSync(path.join(tree, "header", "artifact_name"), `${name}${nl}`);
  fs.writeFileSync(path.join(tree, "header", "artifact_group"), nl);
  fs.writeFileSync(path.join(tree, "header", "payload_type"), `mender-binary-delta${nl}`);
  fs.writeFileSync(
    path.join(tree, "header", "header-info"),
    json({
      payloads: [{ type: "mender-binary-delta" }],
      artifact_provides: { artifact_name: name },
      artifact_depends: { device_type: o.artifactDeviceTypes ?? ["test-device"] },
    }),
  );
  fs.writeFileSync(
    path.join(tree, "header", "type-info"),
    json({
      type: "mender-binary-delta",
      artifact_depends: { "rootfs-image.checksum": o.sourceChecksum },
      artifact_provides: { "rootfs-image.checksum": o.targetChecksum, "rootfs-image.version": name },
      clears_artifact_provides: ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"],
    }),
  );
  fs.writeFileSync(path.join(tree, "header", "meta-data"), json(o.metaData));
}

export function mkfifo(file: string): void {
  execFileSync("mkfifo", ["-m", "600", file]);
}

export interface ModuleResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The signal that ended the module, when one did (then status is null). */
  signal?: NodeJS.Signals | null;
}

export function runModuleSync(state: string, tree: string, env: NodeJS.ProcessEnv, command: string[]): ModuleResult {
  const [cmd, ...args] = command;
  const r = spawnSync(cmd!, [...args, state, tree], { cwd: tree, env, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the module in the background (for Download, which the test feeds through FIFOs). */
export function startModule(
  state: string,
  tree: string,
  env: NodeJS.ProcessEnv,
  command: string[],
): { done: Promise<ModuleResult>; pid: number } {
  const [cmd, ...args] = command;
  const child = spawn(cmd!, [...args, state, tree], { cwd: tree, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ModuleResult>((resolve) => child.on("close", (status, signal) => resolve({ status, stdout, stderr, signal })));
  return { done, pid: child.pid! };
}

/** A payload file as the client streams it; `declaredSize` (tests of bad clients) replaces its real size on stream-next. */
export interface StreamedFile {
  name: string;
  data: Uint8Array;
  declaredSize?: number;
}

/**
 * Plays the client's side of streaming: publishes each file through stream-next and streams/<name>
 * (with its size when `withSizes`, as in DownloadWithFileSizes), then the empty read that ends the
 * list. Gives up quietly when the module has exited.
 */
export async function feedStreams(tree: string, files: StreamedFile[], withSizes = false): Promise<void> {
  fs.mkdirSync(path.join(tree, "streams"), { recursive: true });
  for (const f of files) {
    const stream = path.join(tree, "streams", f.name);
    mkfifo(stream);
    await fs.promises.writeFile(path.join(tree, "stream-next"), `streams/${f.name}${withSizes ? ` ${f.declaredSize ?? f.data.length}` : ""}\n`);
    await fs.promises.writeFile(stream, f.data);
  }
  await fs.promises.writeFile(path.join(tree, "stream-next"), "");
}

/**
 * Keeps opening the FIFOs of `tree` for reading (non-blocking) and draining them until `until`
 * settles, so a client-side writer blocked on a module that already exited gets unblocked (EPIPE).
 */
export async function drainFifos(tree: string, until: Promise<unknown>): Promise<void> {
  let settled = false;
  void until.then(
    () => (settled = true),
    () => (settled = true),
  );
  const buf = Buffer.alloc(65536);
  while (!settled) {
    const fifos = [path.join(tree, "stream-next")];
    try {
      for (const f of fs.readdirSync(path.join(tree, "streams"))) fifos.push(path.join(tree, "streams", f));
    } catch {
      // no streams/ yet
    }
    for (const f of fifos) {
      let fd: number;
      try {
        fd = fs.openSync(f, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      } catch {
        continue;
      }
      try {
        while (fs.readSync(fd, buf) > 0);
      } catch {
        // EAGAIN: nothing more right now
      }
      fs.closeSync(fd);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs Download(WithFileSizes) with the caller as the client; returns the module's result. */
export async function downloadStreaming(
  tree: string,
  env: NodeJS.ProcessEnv,
  delta: StreamedFile,
  withSizes: boolean,
  command: string[],
): Promise<ModuleResult> {
  mkfifo(path.join(tree, "stream-next"));
  const mod = startModule(withSizes ? "DownloadWithFileSizes" : "Download", tree, env, command);
  const feed = feedStreams(tree, [delta], withSizes).catch(() => undefined);
  const result = await mod.done;
  await drainFifos(tree, feed);
  await feed;
  return result;
}

export const INITIAL_BOOT_ENV = { mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0", bootcount: "0" };

export interface FileDevice {
  dir: string;
  /** Partition A (number 2, running) and B (number 3) as image files. */
  partA: string;
  partB: string;
  conf: string;
  env: NodeJS.ProcessEnv;
  bootEnv: BootEnvFixture;
  tree: string;
  /** The four variables the module writes, as they are now. */
  readEnv(): Record<string, string | undefined>;
  /** Simulates booting partition `n` (2 = A, 3 = B). */
  boot(n: 2 | 3): void;
}

/** Image-file partitions: A holds `runningImage` padded to `partBytes`, B is `partBytes` of zeros. */
export function makeImagePartitions(partA: string, partB: string, runningImage: string, partBytes: number): void {
  fs.copyFileSync(runningImage, partA);
  fs.truncateSync(partA, partBytes);
  // Zeros as a sparse file: images of several GiB do not fit one Buffer.
  fs.writeFileSync(partB, "");
  fs.truncateSync(partB, partBytes);
}

/**
 * A simulated device in `dir`: partition A holds `runningImage`, B is zeros, both `partBytes`
 * long; a module configuration file; a file-backed U-Boot env running A; a file tree for `tree`.
 */
export function makeFileDevice(dir: string, runningImage: string, tree: TreeOptions, partBytes = 5 << 20): FileDevice {
  fs.mkdirSync(path.join(dir, "dev"), { recursive: true });
  const partA = path.join(dir, "dev", "mmcblk0p2");
  const partB = path.join(dir, "dev", "mmcblk0p3");
  makeImagePartitions(partA, partB, runningImage, partBytes);
  const conf = path.join(dir, "mender-binary-delta.conf");
  // Lower-case key on purpose: keys match case-insensitively, as in the client.
  fs.writeFileSync(conf, JSON.stringify({ RootfsPartA: partA, rootfspartb: partB }));
  const bootEnv = makeBootEnv(dir, INITIAL_BOOT_ENV);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bootEnv.binDir}:${process.env.PATH}`,
    MENDER_BINARY_DELTA_CONF: conf,
    MENDER_BINARY_DELTA_TEST_ROOT: partA,
  };
  const treeDir = path.join(dir, "tree");
  makeTree(treeDir, tree);
  const readEnv = (): Record<string, string | undefined> => {
    const e = bootEnv.read();
    return Object.fromEntries(Object.keys(INITIAL_BOOT_ENV).map((k) => [k, e.get(k)]));
  };
  const boot = (n: 2 | 3): void => {
    env.MENDER_BINARY_DELTA_TEST_ROOT = n === 2 ? partA : partB;
  };
  return { dir, partA, partB, conf, env, bootEnv, tree: treeDir, readEnv, boot };
}
