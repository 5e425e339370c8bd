// Debian packages of the built programs (dist/<arch>/<program>):
//   mender-binary-delta            amd64, arm64, armhf: the Update Module and its conffile
//   mender-binary-delta-generator  amd64, arm64, armhf: the generator in /usr/bin
// Built with `dpkg-deb --root-owner-group`; reproducible (SOURCE_DATE_EPOCH, fixed modes and mtimes).
// Nothing is stripped: the program is appended to the Node runtime, stripping afterwards breaks it.
//
// build.mjs calls buildDebs(); to repackage already built binaries without rebuilding them:
//   node targets/deb.mjs [--dist DIR] [--out DIR] [--arch x86_64,aarch64,armhf]
// The compressor is gzip unless DPKG_DEB_COMPRESSOR_TYPE says otherwise (xz takes ~15x longer
// for these ~100 MB binaries and saves about a third of the size).
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runPacker } from "./targets.mjs";

/** Debian's name of each build target's architecture. */
export const DEB_ARCH = { x86_64: "amd64", aarch64: "arm64", armhf: "armhf" };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MAINTAINER = "mender-binary-delta maintainers <maintainers@mender-binary-delta.invalid>";
const HOMEPAGE = "https://mender.io";

// Runtime needs of the Node runtime inside each binary (objdump -T, see README "Device requirements"):
// glibc >= 2.28; libstdc++ GLIBCXX_3.4.21 (GCC >= 5); on armhf GLIBCXX_3.4.26 (GCC >= 9) and libatomic.so.1.
const RUNTIME_DEPENDS = {
  amd64: ["libc6 (>= 2.28)", "libstdc++6 (>= 5)"],
  arm64: ["libc6 (>= 2.28)", "libstdc++6 (>= 5)"],
  armhf: ["libc6 (>= 2.28)", "libstdc++6 (>= 9)", "libatomic1"],
};

/** The conffile: empty, so the module uses RootfsPartA/B from /etc/mender/mender.conf until the admin sets its own. */
export const DEFAULT_CONF = "{\n}\n";

/** What each program's package holds; `files` maps install paths to [source, mode]. */
const PACKAGES = {
  "mender-binary-delta": (bin) => ({
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
        stagePackage(stage, { name: program, version, debArch, spec, nodeLicense: nodeLicense(t) });
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

/** The license of the Node.js runtime inside the target's binaries, kept by build.mjs next to the cached runtime. */
function nodeLicense(t) {
  const file = path.join(ROOT, ".cache", "node", `${t.nodePackage}-${t.nodeVersion}`, "package", "LICENSE");
  if (!existsSync(file)) throw new Error(`${file} is missing: run 'node build.mjs --arch ${t.arch}' once, it keeps the Node.js license there`);
  return { version: t.nodeVersion, text: readFileSync(file, "utf8") };
}

function stagePackage(stage, { name, version, debArch, spec, nodeLicense }) {
  const files = { ...spec.files, [`usr/share/doc/${name}/copyright`]: [{ text: copyright(name, nodeLicense) }, 0o644] };
  let installedBytes = 0;
  for (const [rel, [source, mode]] of Object.entries(files)) {
    const dest = path.join(stage, rel);
    mkdirSync(path.dirname(dest), { recursive: true });
    if (typeof source !== "string") writeFileSync(dest, source.text);
    else if (existsSync(source)) copyFileSync(source, dest);
    else throw new Error(`${source} was not built: run 'node build.mjs --arch ${path.basename(path.dirname(source))}' first`);
    chmodSync(dest, mode);
    installedBytes += statSync(dest).size;
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
  if (spec.conffiles.length > 0) writeFileSync(path.join(debian, "conffiles"), spec.conffiles.map((f) => `${f}\n`).join(""));
  for (const f of readdirSync(debian)) chmodSync(path.join(debian, f), 0o644);
  // Directories 0755 whatever the umask: dpkg-deb records them as found.
  for (const dir of walkDirs(stage)) chmodSync(dir, 0o755);
}

/** A machine-readable debian/copyright: ours, and the license of the Node.js runtime the executable contains. */
function copyright(name, node) {
  // Continuation lines of a field start with a space; an empty line is written " .".
  const nodeText = node.text.replace(/\r\n/g, "\n").trimEnd().split("\n").map((l) => (l.trim() === "" ? " ." : ` ${l}`)).join("\n");
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${name}

Files: *
Copyright: mender-binary-delta contributors
License: Apache-2.0 and Node.js
Comment: the executable is the Node.js ${node.version} runtime (https://nodejs.org) with this
 program embedded in it.

License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.

License: Node.js
${nodeText}
`;
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
