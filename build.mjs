#!/usr/bin/env node
// Builds the one-file programs: esbuild bundle -> SEA blob made by the target's own Node (under qemu
// for arm: blobs are not portable between 32/64-bit or Node majors) -> copy of that Node, stripped
// BEFORE injection (stripping after injection breaks the binary) -> postject -> fuse check -> smoke run.
// Then the release archive dist/mender-binary-delta-<version>.tar.xz (x86_64/, aarch64/, arm/)
// and the Debian packages dist/*.deb (targets/deb.mjs).
//
//   node build.mjs [--arch x86_64,aarch64,armhf] [--out DIR] [--no-archive] [--no-deb]
//   (--no-archive skips both release outputs, the archive and the .deb packages)
import { build } from "esbuild";
import { inject } from "postject";
import { isBuiltin } from "node:module";
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, utimesSync } from "node:fs";
import path from "node:path";
import { buildDebs, commitTime } from "./targets/deb.mjs";

const ROOT = path.dirname(new URL(import.meta.url).pathname);
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const CACHE = path.join(ROOT, ".cache", "node");
/** Each program's CLI entry; the worker entry is shared and embedded in both. */
const ENTRIES = {
  "mender-binary-delta": "src/cli/device.ts",
  "mender-binary-delta-generator": "src/cli/generator.ts",
};
const WORKER_ENTRY = "src/workers/entry.ts";

const { values: opts } = parseArgs({
  options: {
    arch: { type: "string" },
    out: { type: "string", default: path.join(ROOT, "dist") },
    "no-archive": { type: "boolean", default: false },
    "no-deb": { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  },
});
const log = (msg) => { if (!opts.quiet) process.stdout.write(`${msg}\n`); };

const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
const targets = Object.fromEntries(readdirSync(path.join(ROOT, "targets")).filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(path.join(ROOT, "targets", f), "utf8"))).map((t) => [t.arch, t]));
const archs = (opts.arch ?? process.env.ARCHS ?? "x86_64,aarch64,armhf").split(",").filter(Boolean);
for (const arch of archs) if (!targets[arch]) fail(`unknown arch '${arch}' (known: ${Object.keys(targets).join(", ")})`);

function fail(msg) {
  process.stderr.write(`build.mjs: ${msg}\n`);
  process.exit(1);
}

/**
 * The target's Node binary, from the npm registry tarball (no install, no scripts), pinned by
 * integrity. Its LICENSE is kept next to it (package/LICENSE): the Debian packages ship it.
 */
function nodeBinary(t) {
  const dir = path.join(CACHE, `${t.nodePackage}-${t.nodeVersion}`);
  const bin = path.join(dir, "package", "bin", "node");
  if (existsSync(bin) && existsSync(path.join(dir, "package", "LICENSE"))) return bin;
  // A cache from before the LICENSE was kept only gets that added: another build may be copying bin/node.
  const members = existsSync(bin) ? ["package/LICENSE"] : ["package/bin/node", "package/LICENSE"];
  mkdirSync(dir, { recursive: true });
  const packDir = mkdtempSync(path.join(dir, ".pack-"));
  log(`fetching ${t.nodePackage}@${t.nodeVersion}`);
  const [packed] = JSON.parse(execFileSync("npm", ["pack", `${t.nodePackage}@${t.nodeVersion}`, "--json", "--pack-destination", packDir],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }));
  if (packed.integrity !== t.integrity) fail(`${t.nodePackage}@${t.nodeVersion}: integrity ${packed.integrity} does not match the pin ${t.integrity}`);
  execFileSync("tar", ["-xzf", path.join(packDir, packed.filename), "-C", dir, ...members]);
  rmSync(packDir, { recursive: true, force: true });
  return bin;
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
  }));
  const [cmd, ...args] = runOnHost(t, node, "--experimental-sea-config", `${tag}.sea.json`);
  execFileSync(cmd, args, { cwd: workDir, stdio: "ignore" });

  const exe = path.join(outDir, t.arch, program);
  mkdirSync(path.dirname(exe), { recursive: true });
  rmSync(exe, { force: true });
  copyFileSync(node, exe);
  chmodSync(exe, 0o755);
  execFileSync(t.strip, [exe]);
  await inject(exe, "NODE_SEA_BLOB", readFileSync(path.join(workDir, `${tag}.blob`)), { sentinelFuse: FUSE });
  if (!readFileSync(exe).includes(`${FUSE}:1`)) fail(`${exe}: the SEA fuse did not flip`);

  const [rc, ...ra] = runOnHost(t, exe, "--version");
  const version = execFileSync(rc, ra, { encoding: "utf8" }).trim();
  if (version !== `${program} ${pkg.version}`) fail(`${exe} --version printed '${version}'`);
  log(`${t.arch}: ${version} (node ${t.nodeVersion})`);
}

/** A tar.xz laid out like the original product's release: x86_64/, aarch64/, arm/, plus the licenses. Reproducible. */
function archive(outDir, epoch) {
  const stage = path.join(outDir, ".release");
  rmSync(stage, { recursive: true, force: true });
  for (const arch of archs) {
    const t = targets[arch];
    mkdirSync(path.join(stage, t.releaseDir), { recursive: true });
    for (const program of t.programs) {
      const dest = path.join(stage, t.releaseDir, program);
      copyFileSync(path.join(outDir, arch, program), dest);
      chmodSync(dest, 0o755);
    }
  }
  // The licenses travel with the binaries: ours, and that of each Node runtime inside them.
  copyFileSync(path.join(ROOT, "LICENSE"), path.join(stage, "LICENSE"));
  mkdirSync(path.join(stage, "licenses"));
  for (const t of new Map(archs.map((a) => [targets[a].nodeVersion, targets[a]])).values()) {
    copyFileSync(path.join(CACHE, `${t.nodePackage}-${t.nodeVersion}`, "package", "LICENSE"),
      path.join(stage, "licenses", `node-v${t.nodeVersion}.LICENSE`));
  }
  const file = path.join(outDir, `mender-binary-delta-${pkg.version}.tar.xz`);
  const dirs = ["LICENSE", "licenses", ...archs.map((a) => targets[a].releaseDir)].sort();
  const tar = execFileSync("tar", ["--sort=name", `--mtime=@${epoch}`, "--owner=0", "--group=0", "--numeric-owner",
    "--mode=u+rwX,go+rX,go-w", "--format=gnu", "-cf", "-", "-C", stage, ...dirs], { maxBuffer: 2 ** 31 });
  // Fixed block size and thread count: xz's output then depends only on the input bytes.
  writeFileSync(file, execFileSync("xz", ["-6", "-T2", "--block-size=16MiB", "-c"], { input: tar, maxBuffer: 2 ** 31 }));
  utimesSync(file, epoch, epoch);
  rmSync(stage, { recursive: true, force: true });
  log(`release: ${path.relative(process.cwd(), file)}`);
}

const outDir = path.resolve(opts.out);
const workDir = path.join(outDir, ".work");
rmSync(workDir, { recursive: true, force: true });
mkdirSync(workDir, { recursive: true });
await bundle(workDir);
for (const arch of archs) {
  const t = targets[arch];
  for (const program of t.programs) await buildProgram(t, program, workDir, outDir);
}
// One timestamp for every release output: the commit's time, so that rebuilds are byte-identical.
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? commitTime(ROOT));
if (!opts["no-archive"]) archive(outDir, epoch);
if (!opts["no-archive"] && !opts["no-deb"]) {
  try {
    buildDebs({ targets: archs.map((a) => targets[a]), dist: outDir, outDir, version: pkg.version, epoch, log });
  } catch (e) {
    fail(`Debian packages: ${e.message}`);
  }
}
rmSync(workDir, { recursive: true, force: true });
