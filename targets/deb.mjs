// Debian packages of the built programs (dist/<arch>/<program>):
//   mender-binary-delta            amd64, arm64, armhf: the Update Module and its conffile
//   mender-binary-delta-generator  amd64, arm64, armhf: the generator in /usr/bin
// Each also holds what Debian asks of a package (lintian passes, but for the overrides that
// targets/debian/<package>.lintian-overrides explains): the program's man page made from its
// --help (targets/manpage.mjs), a machine-readable copyright file covering the bundled Node.js
// runtime (targets/copyright.mjs), changelog.gz and DEBIAN/md5sums.
// Built with `dpkg-deb --root-owner-group`; reproducible (SOURCE_DATE_EPOCH, fixed modes and mtimes).
// Nothing is stripped: the program is appended to the Node runtime, stripping afterwards breaks it.
//
// build.mjs calls buildDebs(); to repackage already built binaries without rebuilding them:
//   node targets/deb.mjs [--dist DIR] [--out DIR] [--arch x86_64,aarch64,armhf]
// The compressor is gzip unless DPKG_DEB_COMPRESSOR_TYPE says otherwise (xz takes ~15x longer
// for these ~100 MB binaries and saves about a third of the size).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { bundledPackages, debianCopyright } from "./copyright.mjs";
import { helpToMan } from "./manpage.mjs";
import { runPacker } from "./targets.mjs";

/** Debian's name of each build target's architecture. */
export const DEB_ARCH = { x86_64: "amd64", aarch64: "arm64", armhf: "armhf" };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MAINTAINER = "mender-binary-delta maintainers <maintainers@mender-binary-delta.invalid>";
const HOMEPAGE = "https://mender.io";
/** The project both packages come from: the copyright file's Upstream-Name, the man pages' footer. */
const PROJECT = "mender-binary-delta";

// Runtime needs of the Node runtime inside each binary (objdump -T, see README "Device requirements"):
// glibc >= 2.28; libstdc++ GLIBCXX_3.4.21 (GCC >= 5); on armhf GLIBCXX_3.4.26 (GCC >= 9) and libatomic.so.1.
const RUNTIME_DEPENDS = {
  amd64: ["libc6 (>= 2.28)", "libstdc++6 (>= 5)"],
  arm64: ["libc6 (>= 2.28)", "libstdc++6 (>= 5)"],
  armhf: ["libc6 (>= 2.28)", "libstdc++6 (>= 9)", "libatomic1"],
};

/** The conffile: empty, so the module uses RootfsPartA/B from /etc/mender/mender.conf until the admin sets its own. */
export const DEFAULT_CONF = "{\n}\n";

/**
 * What each program's package holds besides its documentation; `files` maps install paths to
 * [source, mode], `program` is the executable's install path.
 */
const PACKAGES = {
  "mender-binary-delta": (bin) => ({
    program: "usr/share/mender/modules/v3/mender-binary-delta",
    files: {
      "usr/share/mender/modules/v3/mender-binary-delta": [bin, 0o755],
      "etc/mender/mender-binary-delta.conf": [{ text: DEFAULT_CONF }, 0o644],
    },
    conffiles: ["/etc/mender/mender-binary-delta.conf"],
    section: "admin",
    extraFields: { Enhances: "mender-client, mender-client4" },
    description: [
      "Mender Update Module for binary-delta rootfs updates",
      "Installs mender-binary-delta Artifacts on A/B (dual rootfs) devices: it applies",
      "a delta onto the inactive rootfs partition, reading the active one as the",
      "source, and switches the boot environment to it. The rootfs must be mounted",
      "read-only. Partitions come from /etc/mender/mender-binary-delta.conf, else",
      "from /etc/mender/mender.conf.",
    ],
  }),
  "mender-binary-delta-generator": (bin) => ({
    program: "usr/bin/mender-binary-delta-generator",
    files: { "usr/bin/mender-binary-delta-generator": [bin, 0o755] },
    conffiles: [],
    section: "devel",
    extraFields: {},
    description: [
      "Generates binary-delta Mender Artifacts",
      "Takes two full rootfs-image Mender Artifacts and writes one mender-binary-delta",
      "Artifact that updates devices running the first to the second. Runs on a",
      "build host; needs neither mender-artifact nor xdelta3.",
    ],
  }),
};

/** A package version Debian orders like semver: a pre-release sorts before the release ("1.0.0-rc.1" -> "1.0.0~rc.1"). */
export function debVersion(version) {
  const [core, build] = version.split("+", 2);
  const dash = core.indexOf("-");
  const deb = dash < 0 ? core : `${core.slice(0, dash)}~${core.slice(dash + 1).replace(/-/g, ".")}`;
  return build ? `${deb}+${build}` : deb;
}

export function debFileName(pkgName, version, debArch) {
  return `${pkgName}_${debVersion(version)}_${debArch}.deb`;
}

/**
 * Builds one .deb per (target, program) into outDir and returns their paths.
 * targets: objects from targets/<arch>.json (arch, programs); dist: where build.mjs put the binaries.
 */
export function buildDebs({ targets, dist, outDir, version, epoch, log = () => {} }) {
  try {
    execFileSync("dpkg-deb", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error("dpkg-deb was not found: install the 'dpkg' package (Debian/Ubuntu), or build with --no-deb");
  }
  const stageRoot = path.join(outDir, ".deb-stage");
  rmSync(stageRoot, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const built = [];
  try {
    for (const t of targets) {
      const debArch = DEB_ARCH[t.arch];
      if (!debArch) throw new Error(`no Debian architecture known for target '${t.arch}' (add it to DEB_ARCH in targets/deb.mjs)`);
      for (const program of t.programs) {
        const spec = PACKAGES[program](path.join(dist, t.arch, program));
        const stage = path.join(stageRoot, `${program}_${debArch}`);
        const file = path.join(outDir, debFileName(program, version, debArch));
        const docs = documentation(t, program, spec, { version, epoch });
        stagePackage(stage, { name: program, version, debArch, spec: { ...spec, files: { ...spec.files, ...docs } } });
        fixTimes(stage, epoch);
        execFileSync("dpkg-deb", ["--root-owner-group", ...compressorArgs(), "--build", stage, file], {
          env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
          stdio: ["ignore", "ignore", "inherit"],
        });
        utimesSync(file, epoch, epoch);
        log(`deb: ${path.relative(process.cwd(), file)}`);
        built.push(file);
      }
    }
  } finally {
    rmSync(stageRoot, { recursive: true, force: true });
  }
  return built;
}

/**
 * The files Debian expects beside the program, keyed by install path: the copyright file, the
 * changelog, the man page and the lintian overrides. The man page comes from the packaged binary's
 * own --help (run under qemu-user for a foreign architecture, as build.mjs runs it).
 */
function documentation(t, program, spec, { version, epoch }) {
  const doc = `usr/share/doc/${program}`;
  const bin = spec.files[spec.program][0];
  if (!existsSync(bin)) throw new Error(`${bin} was not built: run 'node build.mjs --arch ${t.arch}' first`);
  const [cmd, ...pre] = [...t.run, bin];
  let help;
  try {
    help = execFileSync(cmd, [...pre, "--help"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`${[cmd, ...pre].join(" ")} --help failed, so its man page cannot be made: ${(e.stderr || e.message).trim().split("\n").pop()}`);
  }
  const date = new Date(epoch * 1000).toISOString().slice(0, 10);
  const copyright = debianCopyright({ upstream: PROJECT, nodeVersion: t.nodeVersion, nodeLicense: nodeLicense(t), bundled: bundledPackages(ROOT) });
  return {
    [`${doc}/copyright`]: [{ text: copyright }, 0o644],
    [`${doc}/changelog.gz`]: [{ bytes: gzip(changelog(program, version, epoch)) }, 0o644],
    [`usr/share/man/man1/${path.basename(spec.program)}.1.gz`]: [{ bytes: gzip(helpToMan(help, { date, source: `${PROJECT} ${version}` })) }, 0o644],
    [`usr/share/lintian/overrides/${program}`]: [path.join(ROOT, "targets", "debian", `${program}.lintian-overrides`), 0o644],
  };
}

/** The license of the Node.js runtime inside the target's binaries, kept by build.mjs next to the cached runtime. */
function nodeLicense(t) {
  const file = path.join(ROOT, ".cache", "node", `${t.nodePackage}-${t.nodeVersion}`, "package", "LICENSE");
  if (!existsSync(file)) throw new Error(`${file} is missing: run 'node build.mjs --arch ${t.arch}' once, it keeps the Node.js license there`);
  return readFileSync(file, "utf8");
}

/**
 * The package's changelog: one entry for this version, dated by SOURCE_DATE_EPOCH. Its name is
 * changelog.gz, not changelog.Debian.gz: the version has no Debian revision, which makes the
 * package native (its packaging is part of the project), and Debian names a native package's
 * changelog so (lintian: wrong-name-for-changelog-of-native-package).
 */
function changelog(name, version, epoch) {
  return `${name} (${debVersion(version)}) unstable; urgency=medium

  * ${PROJECT} ${version}; the project's history has the changes.

 -- ${MAINTAINER}  ${rfc2822(epoch)}
`;
}

/** "Tue, 14 Nov 2023 22:13:20 +0000", the date form of Debian changelogs. */
function rfc2822(epoch) {
  return new Date(epoch * 1000).toUTCString().replace(/GMT$/, "+0000");
}

/** gzip -9n: maximal compression, no name or time in the header, so the bytes depend only on the text. */
function gzip(text) {
  return gzipSync(Buffer.from(text), { level: 9 });
}

function stagePackage(stage, { name, version, debArch, spec }) {
  let installedBytes = 0;
  const sums = [];
  for (const [rel, [source, mode]] of Object.entries(spec.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const dest = path.join(stage, rel);
    mkdirSync(path.dirname(dest), { recursive: true });
    if (typeof source !== "string") writeFileSync(dest, source.bytes ?? source.text);
    else if (existsSync(source)) copyFileSync(source, dest);
    else throw new Error(`${source} was not built: run 'node build.mjs --arch ${path.basename(path.dirname(source))}' first`);
    chmodSync(dest, mode);
    installedBytes += statSync(dest).size;
    // dpkg keeps its own checksums of conffiles: md5sums lists every other file (as dh_md5sums does).
    if (!spec.conffiles.includes(`/${rel}`)) sums.push(`${md5(dest)}  ${rel}\n`);
  }

  const debian = path.join(stage, "DEBIAN");
  mkdirSync(debian, { recursive: true });
  const [summary, ...body] = spec.description;
  const fields = {
    Package: name,
    Version: debVersion(version),
    Architecture: debArch,
    Maintainer: MAINTAINER,
    "Installed-Size": String(Math.ceil(installedBytes / 1024)),
    Depends: RUNTIME_DEPENDS[debArch].join(", "),
    ...spec.extraFields,
    Section: spec.section,
    Priority: "optional",
    Homepage: HOMEPAGE,
    Description: `${summary}\n${body.map((l) => ` ${l}`).join("\n")}`,
  };
  writeFileSync(path.join(debian, "control"), Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join(""));
  writeFileSync(path.join(debian, "md5sums"), sums.join(""));
  if (spec.conffiles.length > 0) writeFileSync(path.join(debian, "conffiles"), spec.conffiles.map((f) => `${f}\n`).join(""));
  for (const f of readdirSync(debian)) chmodSync(path.join(debian, f), 0o644);
  // Directories 0755 whatever the umask: dpkg-deb records them as found.
  for (const dir of walkDirs(stage)) chmodSync(dir, 0o755);
}

function md5(file) {
  return createHash("md5").update(readFileSync(file)).digest("hex");
}

function* walkDirs(dir) {
  yield dir;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) yield* walkDirs(path.join(dir, e.name));
}

/** Every staged path gets the same mtime, so the package bytes depend only on the contents. */
function fixTimes(dir, epoch) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fixTimes(p, epoch);
    utimesSync(p, epoch, epoch);
  }
  utimesSync(dir, epoch, epoch);
}

function compressorArgs() {
  return process.env.DPKG_DEB_COMPRESSOR_TYPE ? [] : ["-Zgzip", "-z6"];
}

// Command line: repackage binaries that are already built.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runPacker("targets/deb.mjs", buildDebs);
}
