// The release archive mender-binary-delta-<version>.tar.xz, laid out like the original product's:
//   mender-binary-delta-<version>/{LICENSE, licenses/node-v<N>.LICENSE, x86_64/, aarch64/, arm/}
// with both programs in each architecture's directory. Reproducible: sorted members, one mtime
// (SOURCE_DATE_EPOCH or the last commit's time), owner 0/0, fixed xz block size and thread count.
//
// build.mjs calls buildArchive(); to pack already built binaries without rebuilding them:
//   node targets/archive.mjs [--dist DIR] [--out DIR] [--arch x86_64,aarch64,armhf]
// ARCHIVE_XZ_LEVEL (default 6) sets xz's preset: the tests, which check the layout and not the
// compression, use 0 (several times faster on ~700 MB of binaries).
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runPacker } from "./targets.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CACHE = path.join(ROOT, ".cache", "node");

export const archiveName = (version) => `mender-binary-delta-${version}.tar.xz`;

/** Writes the archive of `targets`' binaries (from dist/<arch>/) into outDir and returns its path. */
export function buildArchive({ targets, dist, outDir, version, epoch, log = () => {} }) {
  const top = `mender-binary-delta-${version}`;
  const stageRoot = path.join(outDir, ".release");
  const stage = path.join(stageRoot, top);
  rmSync(stageRoot, { recursive: true, force: true });
  try {
    for (const t of targets) {
      mkdirSync(path.join(stage, t.releaseDir), { recursive: true });
      for (const program of t.programs) {
        const source = path.join(dist, t.arch, program);
        if (!existsSync(source)) throw new Error(`${source} was not built: run 'node build.mjs --arch ${t.arch}' first`);
        const dest = path.join(stage, t.releaseDir, program);
        copyFileSync(source, dest);
        chmodSync(dest, 0o755);
      }
    }
    // The licenses travel with the binaries: ours, and that of each Node runtime inside them.
    copyFileSync(path.join(ROOT, "LICENSE"), path.join(stage, "LICENSE"));
    mkdirSync(path.join(stage, "licenses"));
    for (const t of new Map(targets.map((x) => [x.nodeVersion, x])).values()) {
      const license = path.join(CACHE, `${t.nodePackage}-${t.nodeVersion}`, "package", "LICENSE");
      if (!existsSync(license)) throw new Error(`${license} is missing: run 'node build.mjs --arch ${t.arch}' once, it keeps the Node.js license there`);
      copyFileSync(license, path.join(stage, "licenses", `node-v${t.nodeVersion}.LICENSE`));
    }
    mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, archiveName(version));
    const tar = execFileSync("tar", ["--sort=name", `--mtime=@${epoch}`, "--owner=0", "--group=0", "--numeric-owner",
      "--mode=u+rwX,go+rX,go-w", "--format=gnu", "-cf", "-", "-C", stageRoot, top], { maxBuffer: 2 ** 31 });
    // Fixed block size and thread count: xz's output then depends only on the input bytes.
    const level = process.env.ARCHIVE_XZ_LEVEL ?? "6";
    if (!/^[0-9]$/.test(level)) throw new Error(`ARCHIVE_XZ_LEVEL must be 0-9, not '${level}'`);
    writeFileSync(file, execFileSync("xz", [`-${level}`, "-T2", "--block-size=16MiB", "-c"], { input: tar, maxBuffer: 2 ** 31 }));
    utimesSync(file, epoch, epoch);
    log(`release: ${path.relative(process.cwd(), file)}`);
    return file;
  } finally {
    rmSync(stageRoot, { recursive: true, force: true });
  }
}

// Command line: pack binaries that are already built.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runPacker("targets/archive.mjs", (args) => [buildArchive(args)]);
}
