#!/usr/bin/env node
// Builds the one-file programs: esbuild bundle -> SEA blob made by the target's own Node (under qemu
// for arm: blobs are not portable between 32/64-bit or Node majors) -> copy of that Node, stripped
// BEFORE injection (stripping after injection breaks the binary) -> postject -> fuse check -> smoke run.
// Then the release archive (targets/archive.mjs) and the Debian packages (targets/deb.mjs).
import { build } from "esbuild";
import { inject } from "postject";
import { isBuiltin } from "node:module";
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildDebs } from "./targets/deb.mjs";
import { buildArchive } from "./targets/archive.mjs";
import { commitTime, selectTargets } from "./targets/targets.mjs";

const ROOT = path.dirname(new URL(import.meta.url).pathname);
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const CACHE = path.join(ROOT, ".cache", "node");
/** Each program's CLI entry; the worker entry is shared and embedded in both. */
const ENTRIES = {
  "mender-binary-delta": "src/cli/device.ts",
  "mender-binary-delta-generator": "src/cli/generator.ts",
};
const WORKER_ENTRY = "src/cli/worker.ts";
/**
 * Node options built into a program (sea-config `execArgv`: Node 22 and later; a Node 20 runtime,
 * armhf's, ignores them). The Update Module runs no worker threads and works in bursts of typed
 * arrays: one V8 background thread instead of four lowers its Download's peak RSS by about 5 MiB
 * (pair B: 98-101 -> 92-94 MiB), with no loss of speed on a 2-core device; and optimizing
 * compilation on the main thread instead of that thread (whose allocator arena kept up to 8 MiB of
 * compiler memory) by another 2-14 MiB, with no measurable loss either (pair U-arm64: 94.5-102.2
 * -> 87.4-88.3 MiB, U 90-92 -> 88.4, B 92.7-92.8 -> 90.9-91.0, A 83.5-83.8 -> 81.9).
 */
const RUNTIME_FLAGS = { "mender-binary-delta": ["--v8-pool-size=1", "--no-concurrent-recompilation"] };

const USAGE = `Usage: node build.mjs [options]

Builds mender-binary-delta and mender-binary-delta-generator for each target into DIR/<arch>/,
then the release archive DIR/mender-binary-delta-<version>.tar.xz and the Debian packages DIR/*.deb.

Options:
  --arch LIST     targets to build, comma-separated: x86_64, aarch64, armhf (default: all, or $ARCHS)
  --out DIR       output directory (default: dist)
  --no-archive    programs only: no release archive and no Debian packages
  --no-deb        no Debian packages
  --quiet         print nothing unless something fails
  --help          this text

Host tools (Debian/Ubuntu packages): binutils for x86_64; qemu-user-static and the cross
binutils/libraries for aarch64 and armhf; xz-utils for the archive, dpkg for the packages.
scripts/install-deps.sh test installs all of them.
`;

function fail(msg, code = 1) {
  process.stderr.write(`build.mjs: ${msg}\n`);
  process.exit(code);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      arch: { type: "string" },
      out: { type: "string", default: path.join(ROOT, "dist") },
      "no-archive": { type: "boolean", default: false },
      "no-deb": { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  }));
} catch (e) {
  fail(`${e.message}\nRun 'node build.mjs --help' for usage.`, 2);
}
if (opts.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const log = (msg) => { if (!opts.quiet) process.stdout.write(`${msg}\n`); };

const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
let targets;
try {
  targets = selectTargets(opts.arch ?? process.env.ARCHS);
} catch (e) {
  fail(e.message, 2);
}

const hasCommand = (name) => spawnSync("sh", ["-c", `command -v '${name}'`], { stdio: "ignore" }).status === 0;

/**
 * Every host tool and cross library the requested outputs need, checked before any work: one line
 * per missing one, naming its Debian/Ubuntu package.
 */
function checkHost() {
  const needs = targets.flatMap((t) => t.hostNeeds.map((n) => ({ ...n, arch: t.arch })));
  needs.push({ tool: "tar", package: "tar" });
  if (!opts["no-archive"]) needs.push({ tool: "xz", package: "xz-utils" });
  if (!opts["no-archive"] && !opts["no-deb"]) needs.push({ tool: "dpkg-deb", package: "dpkg" });
  if (targets.some((t) => !existsSync(nodeBinaryPath(t)))) needs.push({ tool: "npm", package: "npm (or the Node.js install that has it)" });
  const missing = needs.filter((n) => (n.tool ? !hasCommand(n.tool) : !existsSync(n.file)));
  if (missing.length === 0) return;
  for (const n of missing) {
    const what = n.arch ? `${n.arch} needs` : "needs";
    process.stderr.write(`build.mjs: ${what} ${n.tool ?? n.file}: install the Debian/Ubuntu package ${n.package}\n`);
  }
  fail("scripts/install-deps.sh test installs every build tool; --arch x86_64 --no-archive builds for this machine only");
}

/** Where the target's Node binary is cached. */
const nodeBinaryPath = (t) => path.join(CACHE, `${t.nodePackage}-${t.nodeVersion}`, "package", "bin", "node");

/**
 * The target's Node binary, from the npm registry tarball (no install, no scripts), pinned by
 * integrity. Its LICENSE is kept next to it (package/LICENSE): the Debian packages ship it.
 */
function nodeBinary(t) {
  const dir = path.join(CACHE, `${t.nodePackage}-${t.nodeVersion}`);
  const bin = nodeBinaryPath(t);
  if (existsSync(bin) && existsSync(path.join(dir, "package", "LICENSE"))) return bin;
  // A cache from before the LICENSE was kept only gets that added: another build may be copying bin/node.
  const members = existsSync(bin) ? ["package/LICENSE"] : ["package/bin/node", "package/LICENSE"];
  mkdirSync(dir, { recursive: true });
  const packDir = mkdtempSync(path.join(dir, ".pack-"));
  log(`fetching ${t.nodePackage}@${t.nodeVersion}`);
  const npm = spawnSync("npm", ["pack", `${t.nodePackage}@${t.nodeVersion}`, "--json", "--pack-destination", packDir], { encoding: "utf8" });
  if (npm.status !== 0) fail(`npm pack ${t.nodePackage}@${t.nodeVersion} failed (is the npm registry reachable?): ${lastLine(npm.stderr)}`);
  const [packed] = JSON.parse(npm.stdout);
  if (packed.integrity !== t.integrity) fail(`${t.nodePackage}@${t.nodeVersion}: integrity ${packed.integrity} does not match the pin ${t.integrity}`);
  run(["tar", "-xzf", path.join(packDir, packed.filename), "-C", dir, ...members]);
  rmSync(packDir, { recursive: true, force: true });
  return bin;
}

const lastLine = (text) => text.trim().split("\n").pop() ?? "";

/**
 * A harmless warning: postject's ELF library (LIEF) does not find the names of the note sections
 * that strip leaves without a name in the string table; it injects correctly all the same (the fuse
 * check and the smoke run prove it).
 */
const HARMLESS = /^warning: Can't find string offset for section name '\.note[.\w]*'$/;

/** Runs `fn` with console.warn (where postject's LIEF writes) filtered: harmless lines dropped, the rest kept unless --quiet. */
async function quietly(fn) {
  const warn = console.warn;
  console.warn = (...args) => {
    const text = args.join(" ");
    if (!HARMLESS.test(text) && !opts.quiet) warn(text);
  };
  try {
    return await fn();
  } finally {
    console.warn = warn;
  }
}

/** Strips the Node runtime; a failure stops the build, other output shows unless --quiet. */
function strip(t, exe) {
  const r = spawnSync(t.strip, [exe], { encoding: "utf8" });
  if (r.status !== 0) fail(`${t.strip} ${exe} failed: ${lastLine(r.stderr || r.error?.message || "")}`);
  if (r.stderr.trim() !== "" && !opts.quiet) process.stderr.write(r.stderr);
}

/** Runs a command and returns its stdout; a failure stops the build with one line saying what failed. */
function run([cmd, ...args], cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  if (r.status !== 0) fail(`${[cmd, ...args].join(" ")} failed: ${lastLine(r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`)}`);
  return r.stdout;
}

/** The command prefix that runs a target binary on this (x86_64) host. */
const runOnHost = (t, exe, ...args) => [...t.run, exe, ...args];

async function bundle(workDir) {
  const common = { bundle: true, platform: "node", format: "cjs", target: "node20", legalComments: "none",
    metafile: true, logLevel: "warning", absWorkingDir: ROOT };
  const worker = await build({ ...common, entryPoints: [WORKER_ENTRY], write: false });
  const define = {
    __WORKER_SRC__: JSON.stringify(worker.outputFiles[0].text),
    __APP_VERSION__: JSON.stringify(pkg.version),
  };
  const results = [worker];
  for (const [program, entry] of Object.entries(ENTRIES)) {
    // The banner puts the literal "<program> <version>" into the binary: Yocto's do_version_check greps for it.
    const banner = { js: `/* ${program} ${pkg.version} */` };
    results.push(await build({ ...common, entryPoints: [entry], outfile: path.join(workDir, `${program}.cjs`), define, banner }));
  }
  // A SEA's main script can require() built-in modules only: everything else must be inside the bundle.
  for (const r of results) for (const out of Object.values(r.metafile.outputs))
    for (const imp of out.imports) if (imp.external && !isBuiltin(imp.path)) fail(`bundle requires a non-builtin module '${imp.path}'`);
}

async function buildProgram(t, program, workDir, outDir) {
  const node = nodeBinary(t);
  const tag = `${program}-${t.arch}`;
  // Paths in sea-config are relative to the cwd: the blob stores the main script's name, keep it short and stable.
  writeFileSync(path.join(workDir, `${tag}.sea.json`), JSON.stringify({
    main: `${program}.cjs`, output: `${tag}.blob`,
    disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false,
    ...(RUNTIME_FLAGS[program] ? { execArgv: RUNTIME_FLAGS[program] } : {}),
  }));
  run(runOnHost(t, node, "--experimental-sea-config", `${tag}.sea.json`), workDir);

  const exe = path.join(outDir, t.arch, program);
  mkdirSync(path.dirname(exe), { recursive: true });
  rmSync(exe, { force: true });
  copyFileSync(node, exe);
  chmodSync(exe, 0o755);
  strip(t, exe);
  await quietly(() => inject(exe, "NODE_SEA_BLOB", readFileSync(path.join(workDir, `${tag}.blob`)), { sentinelFuse: FUSE }));
  if (!readFileSync(exe).includes(`${FUSE}:1`)) fail(`${exe}: the SEA fuse did not flip`);

  const version = run(runOnHost(t, exe, "--version")).trim();
  if (version !== `${program} ${pkg.version}`) fail(`${exe} --version printed '${version}'`);
  log(`${t.arch}: ${version} (node ${t.nodeVersion})`);
}

checkHost();
const outDir = path.resolve(opts.out);
const workDir = path.join(outDir, ".work");
rmSync(workDir, { recursive: true, force: true });
mkdirSync(workDir, { recursive: true });
await bundle(workDir);
for (const t of targets) {
  for (const program of t.programs) await buildProgram(t, program, workDir, outDir);
}
// One timestamp for every release output: the commit's time, so that rebuilds are byte-identical.
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? commitTime());
if (!opts["no-archive"]) {
  try {
    buildArchive({ targets, dist: outDir, outDir, version: pkg.version, epoch, log });
  } catch (e) {
    fail(`release archive: ${e.message}`);
  }
}
if (!opts["no-archive"] && !opts["no-deb"]) {
  try {
    buildDebs({ targets, dist: outDir, outDir, version: pkg.version, epoch, log });
  } catch (e) {
    fail(`Debian packages: ${e.message}`);
  }
}
rmSync(workDir, { recursive: true, force: true });
