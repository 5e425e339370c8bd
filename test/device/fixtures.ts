/**
 * Fixtures for the device program tests: small ext4 images, xdelta3 deltas, and a way to run the
 * module (from source, or a built binary named by MBD_MODULE). The simulated device and the
 * client's side of the protocol live in src/demo/simulated-device.ts (the demo uses them too); they
 * are re-exported here with the module command defaulting to moduleCommand().
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import { buildSync } from "esbuild";
import path from "node:path";
import * as device from "../../src/demo/simulated-device";

export const ROOT = path.resolve(__dirname, "..", "..");

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** sha256 of a file's first `bytes` (all of it by default), read in pieces: images can be larger than a Buffer. */
export function sha256File(file: string, bytes = Infinity): string {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(4 << 20);
  const fd = fs.openSync(file, "r");
  try {
    for (let done = 0, n; done < bytes && (n = fs.readSync(fd, buf, 0, Math.min(buf.length, bytes - done), done)) > 0; done += n) {
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

/** A reproducible ext4 image of `sizeMiB` (whole KiB: 4100 / 1024 for a size that is not whole MiB) with some files; `variant` changes part of the content. */
export function makeExt4(file: string, variant: number, sizeMiB = 4): void {
  const dir = `${file}.d`;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, "etc"), { recursive: true });
  fs.writeFileSync(path.join(dir, "etc", "version"), `v${variant}\n`);
  // Deterministic pseudo-random payload, mostly shared between variants.
  const blob = Buffer.alloc(900_000);
  let x = 12345;
  for (let i = 0; i < blob.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    blob[i] = x >>> 24;
  }
  for (let i = 0; i < variant * 5000; i++) blob[(i * 97) % blob.length]! ^= variant;
  fs.writeFileSync(path.join(dir, "etc", "blob"), blob);
  fs.rmSync(file, { force: true });
  execFileSync("truncate", ["-s", `${Math.round(sizeMiB * 1024)}K`, file]);
  execFileSync(
    "mke2fs",
    ["-q", "-t", "ext4", "-F", "-d", dir, "-U", `11111111-2222-3333-4444-55555555555${variant % 10}`, "-E", "hash_seed=11111111-2222-3333-4444-555555555555", file],
    { env: { ...process.env, E2FSPROGS_FAKE_TIME: "1600000000" } },
  );
  fs.rmSync(dir, { recursive: true, force: true });
}

/** `xdelta3 -e -S lzma -A -s old new delta`, as Mender's tooling makes deltas. */
export function makeDelta(oldFile: string, newFile: string, deltaFile: string): void {
  fs.rmSync(deltaFile, { force: true });
  execFileSync("xdelta3", ["-e", "-S", "lzma", "-A", "-s", oldFile, newFile, deltaFile]);
}

export interface ReleasePair {
  v1: string;
  v2: string;
  deltaFile: string;
  delta: Buffer;
  sum1: string;
  sum2: string;
  imageBytes: number;
}

/** Two small ext4 releases in `dir` (v1.ext4, v2.ext4), the delta between them (v2.ext4.delta) and their sha256s. */
export function makeReleasePair(dir: string): ReleasePair {
  const v1 = path.join(dir, "v1.ext4");
  const v2 = path.join(dir, "v2.ext4");
  const deltaFile = path.join(dir, "v2.ext4.delta");
  makeExt4(v1, 1);
  makeExt4(v2, 2);
  makeDelta(v1, v2, deltaFile);
  return { v1, v2, deltaFile, delta: fs.readFileSync(deltaFile), sum1: sha256File(v1), sum2: sha256File(v2), imageBytes: fs.statSync(v1).size };
}

let bundled: string | undefined;

/**
 * The module's source bundled once per test process (esbuild, as build.mjs does before making the
 * binary): starting `node bundle.cjs` is much faster than compiling through tsx on every state.
 */
function bundledSource(): string {
  if (bundled) return bundled;
  const out = path.join(os.tmpdir(), `mbd-module-${process.pid}.cjs`);
  buildSync({
    entryPoints: [path.join(ROOT, "src", "cli", "device.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: out,
    logLevel: "warning",
    // As build.mjs: the version is compiled in (the bundle does not live next to package.json);
    // esbuild itself is only needed by worker threads, which no Update Module state uses.
    define: { __APP_VERSION__: JSON.stringify(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version) },
    external: ["esbuild"],
  });
  process.on("exit", () => fs.rmSync(out, { force: true }));
  bundled = out;
  return out;
}

/**
 * How to start the module: a built binary (MBD_MODULE=path, or a JSON array such as
 * '["qemu-aarch64-static","-L","/usr/aarch64-linux-gnu","dist/aarch64/mender-binary-delta"]'),
 * else the current source (bundled, run by this Node).
 */
export function moduleCommand(): string[] {
  const built = process.env.MBD_MODULE;
  if (built && built.startsWith("[")) return JSON.parse(built) as string[];
  // Resolved here: the clients run the module from their own working directories.
  if (built) return [path.resolve(built)];
  return [process.execPath, bundledSource()];
}

/** sha256 of the first `bytes` (default: all) of a device as it is on disk: `dd iflag=direct`, not our own reader. */
export function sha256Direct(device: string, bytes?: number): string {
  const args = ["if=" + device, "iflag=direct,count_bytes", "bs=1M", "status=none"];
  if (bytes !== undefined) args.push(`count=${bytes}`);
  return sha256(execFileSync("dd", args, { maxBuffer: 1 << 30 }));
}

export { INITIAL_BOOT_ENV, drainFifos, feedStreams, makeBootEnv, makeFileDevice, makeImagePartitions, makeTree, mkfifo } from "../../src/demo/simulated-device";
export type { BootEnvFixture, FileDevice, ModuleResult, StreamedFile, TreeOptions } from "../../src/demo/simulated-device";

/**
 * A multi-line script whose lines look like the module's own variables: a parser of the whole
 * `fw_printenv` listing would read upgrade_available=1 and mender_boot_part=3 out of it.
 */
export const MULTI_LINE_SCRIPT = "echo starting\nupgrade_available=1\nmender_boot_part=3\nsetenv bootargs root=/dev/mmcblk0p3 rw\nboot";

/**
 * Adds what a real U-Boot environment may hold and a listing parser gets wrong - MULTI_LINE_SCRIPT
 * (set with `fw_setenv NAME VALUE`), a value with `=`, an empty value - then fills the environment
 * with variables until fewer than `slack` bytes of its `envBytes` are free. Returns every variable
 * added, to check that all states keep them.
 */
export function addAwkwardVariables(fx: device.BootEnvFixture, envBytes = 16384, slack = 48): Map<string, string> {
  fx.setValue("mender_bootscript", MULTI_LINE_SCRIPT);
  fx.set({ bootcmd_args: "console=ttyS0,115200 root=PARTUUID=1234-02 init=/sbin/init a=b=c" });
  fx.setValue("empty_value", "");
  const entryBytes = (k: string, v: string) => Buffer.byteLength(`${k}=${v}`) + 1;
  const used = () => (fx.files.length === 2 ? 5 : 4) + 1 + [...fx.read()].reduce((n, [k, v]) => n + entryBytes(k, v), 0);
  const fill: Record<string, string> = {};
  let free = envBytes - used();
  for (let i = 0; free >= slack; i++) {
    const name = `filler_${String(i).padStart(5, "0")}`;
    const value = "f".repeat(Math.max(0, Math.min(200, free - slack / 2 - name.length - 2)));
    fill[name] = value;
    free -= entryBytes(name, value);
  }
  fx.set(fill);
  const left = envBytes - used();
  if (left >= slack || left < 0) throw new Error(`filling the environment left ${left} bytes free`);
  const all = fx.read();
  return new Map([...all].filter(([k]) => !(k in INITIAL_BOOT_ENV_VARS)));
}

const INITIAL_BOOT_ENV_VARS: Record<string, string> = device.INITIAL_BOOT_ENV;

export function runModuleSync(state: string, tree: string, env: NodeJS.ProcessEnv, command = moduleCommand()): device.ModuleResult {
  return device.runModuleSync(state, tree, env, command);
}

export function startModule(state: string, tree: string, env: NodeJS.ProcessEnv, command = moduleCommand()): { done: Promise<device.ModuleResult>; pid: number } {
  return device.startModule(state, tree, env, command);
}

export function downloadStreaming(
  tree: string,
  env: NodeJS.ProcessEnv,
  delta: device.StreamedFile,
  withSizes = false,
  command = moduleCommand(),
): Promise<device.ModuleResult> {
  return device.downloadStreaming(tree, env, delta, withSizes, command);
}
