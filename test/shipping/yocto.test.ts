/**
 * The Yocto layer (targets/yocto/meta-mender-binary-delta) without BitBake: the recipes' shell
 * tasks (do_version_check, do_install) run against the real release archive into a temporary
 * image root, with the variables BitBake would give them; the metadata (layer.conf,
 * COMPATIBLE_HOST, overrides, no-strip settings, runtime dependencies) is read with test/shipping/bitbake.ts.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HOST_TARGET, ROOT, TARGETS } from "../helpers/targets";
import { needTools, REQUIRE_PEERS } from "../helpers/peers";
import { releaseArchive } from "../helpers/release";
import { programInterpreter } from "../helpers/elf";
import { Recipe, runAnonymous } from "./bitbake";

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const LAYER = path.join(ROOT, "targets/yocto/meta-mender-binary-delta");
const RECIPES = path.join(LAYER, "recipes-mender/mender-binary-delta");
const MODULE_RECIPE = path.join(RECIPES, `mender-binary-delta_${VERSION}.bb`);
const NATIVE_RECIPE = path.join(RECIPES, `mender-binary-delta-generator-native_${VERSION}.bb`);
/** The layer's lsb-ld, for builds without meta-mender-core (which has its own). */
const LSB_LD_RECIPE = path.join(LAYER, "dynamic-layers/without-mender/recipes-core/lsb-ld/lsb-ld.bb");

/** For each build target: OpenEmbedded's architecture override (TRANSLATED_TARGET_ARCH) and a target triplet. */
const OE: Record<string, { override: string; hostSys: string }> = {
  x86_64: { override: "x86-64", hostSys: "x86_64-poky-linux" },
  aarch64: { override: "aarch64", hostSys: "aarch64-poky-linux" },
  armhf: { override: "arm", hostSys: "arm-poky-linux-gnueabi" },
};

const work = mkdtempSync(path.join(tmpdir(), "mbd-yocto-"));
const unpacked = path.join(work, "sources-unpack");
let archiveProblem: string | undefined;

/** Where the archive's programs are once unpacked: it unpacks into mender-binary-delta-<version>/. */
const released = path.join(unpacked, `mender-binary-delta-${VERSION}`);

before(() => {
  const archive = releaseArchive();
  if ("problem" in archive) { archiveProblem = archive.problem; return; }
  mkdirSync(unpacked);
  const r = spawnSync("tar", ["-xJf", archive.file, "-C", unpacked], { encoding: "utf8" });
  if (r.status !== 0) archiveProblem = `tar -xJf ${archive.file}: ${r.stderr}`;
});
after(() => rmSync(work, { recursive: true, force: true }));

function needArchive(t: import("node:test").TestContext): boolean {
  if (archiveProblem === undefined) return true;
  if (REQUIRE_PEERS) assert.fail(archiveProblem);
  t.skip(archiveProblem);
  return false;
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** What bitbake.conf, local.conf and meta-mender-core would set for the tasks. */
function conf(image: string, extra: Record<string, string> = {}, sources = unpacked): Record<string, string> {
  return {
    D: image, WORKDIR: work, MBD_UNPACKED: sources, BUILD_ARCH: "x86_64",
    datadir: "/usr/share", sysconfdir: "/etc", bindir: "/usr/bin",
    MENDER_ROOTFS_PART_A: "/dev/mmcblk0p2", MENDER_ROOTFS_PART_B: "/dev/mmcblk0p3",
    ...extra,
  };
}

/** Every path under root with its type and permission bits: "d 755 etc", "f 644 etc/x". */
function tree(root: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(root, rel)).sort()) {
    const p = path.join(rel, name);
    const st = lstatSync(path.join(root, p));
    out.push(`${st.isDirectory() ? "d" : st.isFile() ? "f" : "?"} ${(st.mode & 0o7777).toString(8)} ${p}`);
    if (st.isDirectory()) out.push(...tree(root, p));
  }
  return out;
}

function runTask(recipe: Recipe, task: string, overrides: string[], values: Record<string, string>) {
  mkdirSync(values.D!, { recursive: true });
  return recipe.runShell(task, overrides, values, work);
}

test("layer.conf: the layer's collection, its recipes and the release series it supports", () => {
  const text = readFileSync(path.join(LAYER, "conf/layer.conf"), "utf8");
  const compat = /^LAYERSERIES_COMPAT_mender-binary-delta = "([^"]*)"$/m.exec(text)?.[1]?.split(/\s+/) ?? [];
  for (const series of ["kirkstone", "scarthgap", "wrynose"]) assert.ok(compat.includes(series), `${series} missing from ${compat.join(" ")}`);
  assert.match(text, /^BBFILE_COLLECTIONS \+= "mender-binary-delta"$/m);
  assert.match(text, /^BBFILES \+= "\$\{LAYERDIR\}\/recipes-\*\/\*\/\*\.bb /m);
  assert.ok(existsSync(MODULE_RECIPE), `${MODULE_RECIPE}: the recipes carry the package.json version ${VERSION}; rename them with the version`);
  assert.ok(existsSync(NATIVE_RECIPE), `${NATIVE_RECIPE}: the recipes carry the package.json version ${VERSION}`);
});

test("COMPATIBLE_HOST: arm, aarch64 and x86_64 glibc targets only; the generator for x86_64 and aarch64 build hosts", () => {
  const matches = (recipe: Recipe, hostSys: string) =>
    new RegExp(`^(?:${recipe.value("COMPATIBLE_HOST", [], {})!})`).test(hostSys); // BitBake: re.match
  const module = new Recipe(MODULE_RECIPE);
  for (const t of TARGETS) assert.ok(matches(module, OE[t.arch]!.hostSys), OE[t.arch]!.hostSys);
  for (const other of ["armeb-poky-linux-gnueabi", "i686-poky-linux", "mips-poky-linux", "x86_64-poky-linux-musl", "riscv64-poky-linux"]) {
    assert.ok(!matches(module, other), `${other} must not be compatible`);
  }
  const native = new Recipe(NATIVE_RECIPE);
  assert.ok(matches(native, "x86_64-linux") && matches(native, "aarch64-linux"));
  assert.ok(!matches(native, "arm-linux") && !matches(native, "i686-linux"));
});

test("no stripping, no debug split, already-stripped accepted; runtime dependencies libstdc++ (+ libatomic on arm)", () => {
  for (const file of [MODULE_RECIPE, NATIVE_RECIPE]) {
    const r = new Recipe(file);
    for (const v of ["INHIBIT_PACKAGE_STRIP", "INHIBIT_PACKAGE_DEBUG_SPLIT", "INHIBIT_SYSROOT_STRIP"]) assert.equal(r.value(v, [], {}), "1", `${file}: ${v}`);
  }
  const module = new Recipe(MODULE_RECIPE);
  const pn = "mender-binary-delta";
  assert.match(module.value("INSANE_SKIP", [pn], {})!, /\balready-stripped\b/);
  const rdepends = (o: string) => module.value("RDEPENDS", [pn, o], {})!.split(/\s+/);
  for (const t of TARGETS) {
    const deps = rdepends(OE[t.arch]!.override);
    assert.ok(deps.includes("libstdc++"), `${t.arch}: ${deps.join(" ")}`);
    assert.equal(deps.includes("libatomic"), t.arch === "armhf", `${t.arch}: ${deps.join(" ")}`);
  }
  assert.match(module.value("FILES", [pn], {})!, /\$\{datadir\}\/mender\/modules\/v3\/mender-binary-delta/);
  assert.equal(module.value("CONFFILES", [pn], {}), "${sysconfdir}/mender/mender-binary-delta.conf");
});

/**
 * Where Yocto's glibc puts the loader: ${base_libdir}, /lib for these tunes (without multilib). A
 * binary whose PT_INTERP is elsewhere needs it provided there.
 */
const YOCTO_BASE_LIBDIR = "/lib";
const EXPECTED_INTERPRETER: Record<string, string> = {
  x86_64: "/lib64/ld-linux-x86-64.so.2",
  aarch64: "/lib/ld-linux-aarch64.so.1",
  armhf: "/lib/ld-linux-armhf.so.3",
};

test("the loader the binaries ask for: lsb-ld (/lib64) on x86-64, where it is not in ${base_libdir}; nothing on arm and aarch64", (t) => {
  if (!needArchive(t)) return;
  const module = new Recipe(MODULE_RECIPE);
  for (const target of TARGETS) {
    const interpreter = programInterpreter(path.join(released, target.releaseDir, "mender-binary-delta"));
    assert.equal(interpreter, EXPECTED_INTERPRETER[target.arch], `${target.arch}: PT_INTERP`);
    const deps = module.value("RDEPENDS", ["mender-binary-delta", OE[target.arch]!.override], {})!.split(/\s+/);
    assert.equal(deps.includes("lsb-ld"), path.dirname(interpreter!) !== YOCTO_BASE_LIBDIR,
      `${target.arch}: interpreter ${interpreter}, RDEPENDS ${deps.join(" ")}`);
  }
});

test("the layer's lsb-ld (read only without meta-mender): /lib64 leads to the loader in ${base_libdir}", () => {
  const layerConf = readFileSync(path.join(LAYER, "conf/layer.conf"), "utf8");
  const dynamic = /^BBFILES_DYNAMIC \+= "!mender:\$\{LAYERDIR\}\/([^"]+)"$/m.exec(layerConf)?.[1];
  assert.ok(dynamic, "BBFILES_DYNAMIC with !mender: (the collection of meta-mender-core)");
  const glob = new RegExp(`^${dynamic.replace(/[.+]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
  assert.match(path.relative(LAYER, LSB_LD_RECIPE), glob);
  // meta-mender-core's recipe is named lsb-ld too: RDEPENDS finds whichever the build has.
  assert.equal(new Recipe(LSB_LD_RECIPE).value("PN", [], {}), "lsb-ld");

  const recipe = new Recipe(LSB_LD_RECIPE);
  assert.equal(recipe.value("FILES", ["lsb-ld", "x86-64"], {}), "/lib64");
  assert.equal(recipe.value("ALLOW_EMPTY", ["lsb-ld"], {}), "1");
  const interpreter = EXPECTED_INTERPRETER.x86_64!;
  for (const baseLibdir of ["/lib", "/usr/lib"]) {
    // The image as the rootfs has it: glibc's loader in base_libdir (and /lib -> usr/lib with usrmerge).
    const image = path.join(work, `image-lsb-ld${baseLibdir.replace(/\//g, "-")}`);
    mkdirSync(path.join(image, baseLibdir), { recursive: true });
    if (baseLibdir !== "/lib") symlinkSync("usr/lib", path.join(image, "lib"));
    const loader = path.join(image, baseLibdir, path.basename(interpreter));
    writeFileSync(loader, "loader");
    const r = runTask(recipe, "do_install:x86-64", [], conf(image, { base_libdir: baseLibdir }));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readlinkSync(path.join(image, "lib64")), `.${baseLibdir}`);
    assert.equal(realpathSync(path.join(image, interpreter)), realpathSync(loader), `${baseLibdir}: ${interpreter} in the image`);
    rmSync(image, { recursive: true });
  }
  // A multilib build whose base_libdir is /lib64 already has the loader there: nothing installed.
  const multilib = path.join(work, "image-lsb-ld-multilib");
  assert.equal(runTask(recipe, "do_install:x86-64", [], conf(multilib, { base_libdir: "/lib64" })).status, 0);
  assert.deepEqual(readdirSync(multilib), []);
  rmSync(multilib, { recursive: true });
});

test("LIC_FILES_CHKSUM lists every licence file of the archive, each with the md5 of the file shipped", (t) => {
  if (!needArchive(t)) return;
  const entries = new Recipe(MODULE_RECIPE).value("LIC_FILES_CHKSUM", [], {})!.trim().split(/\s+/);
  const listed = new Map(entries.map((e) => {
    const m = /^file:\/\/([^;]+);md5=([0-9a-f]{32})$/.exec(e);
    assert.ok(m, `not a file://PATH;md5=SUM entry: ${e}`);
    return [m[1]!, m[2]!] as const;
  }));
  const shipped = ["LICENSE", ...readdirSync(path.join(released, "licenses")).map((f) => `licenses/${f}`)].sort();
  assert.deepEqual([...listed.keys()].sort(), shipped, "LIC_FILES_CHKSUM must name exactly the licence files in the archive");
  // One Node.js licence per runtime version the targets use.
  assert.deepEqual(shipped.filter((f) => f.startsWith("licenses/")),
    [...new Set(TARGETS.map((x) => `licenses/node-v${x.nodeVersion}.LICENSE`))].sort());
  for (const [file, md5] of listed) {
    assert.equal(md5, createHash("md5").update(readFileSync(path.join(released, file))).digest("hex"), `md5 of ${file}`);
  }
  // The native recipe shares them (mender-binary-delta.inc).
  assert.equal(new Recipe(NATIVE_RECIPE).value("LIC_FILES_CHKSUM", [], {}), new Recipe(MODULE_RECIPE).value("LIC_FILES_CHKSUM", [], {}));
});

test("the recipe skips itself for musl, glibc < 2.28 and arm tunes that are not ARMv7 hard-float", (t) => {
  if (!needTools(t, "python3")) return;
  const recipe = new Recipe(MODULE_RECIPE);
  const cortexA7 = "arm armv7ve vfp thumb neon vfpv4 callconvention-hard cortexa7";
  const supported: Record<string, string>[] = [
    { TCLIBC: "glibc", GLIBCVERSION: "2.35%", TARGET_ARCH: "x86_64" },
    { TCLIBC: "glibc", GLIBCVERSION: "2.39%", TARGET_ARCH: "aarch64", TUNE_FEATURES: "aarch64 armv8a crc crypto" },
    { TCLIBC: "glibc", TARGET_ARCH: "arm", TUNE_FEATURES: cortexA7 },
    { TCLIBC: "glibc", TARGET_ARCH: "arm", TUNE_FEATURES: "arm armv7a vfp thumb vfpv3 callconvention-hard" },
    // qemuarm (cortexa15hf-neon) as BitBake expands it on scarthgap: the core, not the architecture.
    { TCLIBC: "glibc", TARGET_ARCH: "arm", TUNE_FEATURES: "arm vfp cortexa15 neon thumb callconvention-hard" },
  ];
  for (const vars of supported) assert.deepEqual(runAnonymous(recipe, vars), { skipped: false }, JSON.stringify(vars));
  const skipped: [Record<string, string>, RegExp][] = [
    [{ TCLIBC: "musl", TARGET_ARCH: "x86_64" }, /needs glibc \(TCLIBC is 'musl'\)/],
    [{ TCLIBC: "glibc", GLIBCVERSION: "2.27%", TARGET_ARCH: "x86_64" }, /needs glibc >= 2\.28 \(GLIBCVERSION is 2\.27\)/],
    [{ TCLIBC: "glibc", TARGET_ARCH: "arm", TUNE_FEATURES: "arm armv7a vfp thumb neon" }, /ARMv7 hard-float tune/],
    [{ TCLIBC: "glibc", TARGET_ARCH: "arm", TUNE_FEATURES: "arm armv6 vfp callconvention-hard arm1176jzfs" }, /ARMv7 hard-float tune/],
    [{ TCLIBC: "glibc", TARGET_ARCH: "arm", TUNE_FEATURES: "arm vfp cortexa15 neon thumb" }, /ARMv7 hard-float tune/],
  ];
  for (const [vars, reason] of skipped) {
    const outcome = runAnonymous(recipe, vars);
    assert.ok(outcome.skipped, JSON.stringify(vars));
    assert.match(outcome.reason, reason);
  }
});

test("a missing release archive skips the recipe (BitBake would stop parsing the whole build), saying where it was looked for", (t) => {
  if (!needTools(t, "python3")) return;
  const glibc = { TCLIBC: "glibc", TARGET_ARCH: "x86_64" };
  for (const file of [MODULE_RECIPE, NATIVE_RECIPE]) {
    const recipe = new Recipe(file);
    const missing = runAnonymous(recipe, { ...glibc, SRC_URI: `file://${path.join(work, "nowhere", `mender-binary-delta-${VERSION}.tar.xz`)}` });
    assert.ok(missing.skipped, file);
    assert.match(missing.reason, /^the release archive \/.*\/nowhere\/mender-binary-delta-.*\.tar\.xz was not found \(set MENDER_BINARY_DELTA_ARCHIVE/);
    // A bare name is looked up in FILESPATH, as BitBake's fetcher does.
    const dir = path.join(work, "files-dir");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "archive.tar.xz"), "");
    assert.deepEqual(runAnonymous(recipe, { ...glibc, SRC_URI: "file://archive.tar.xz", FILESPATH: `${work}/a:${dir}` }), { skipped: false });
    const notInPath = runAnonymous(recipe, { ...glibc, SRC_URI: "file://archive.tar.xz", FILESPATH: `${work}/a` });
    assert.ok(notInPath.skipped && /archive\.tar\.xz was not found/.test(notInPath.reason));
  }
});

for (const target of TARGETS) {
  const override = OE[target.arch]!.override;
  test(`${target.arch}: do_version_check passes and do_install gives exactly the module (0755) and its conf (0644)`, (t) => {
    if (!needArchive(t)) return;
    const recipe = new Recipe(MODULE_RECIPE);
    assert.equal(recipe.value("MBD_SUB_FOLDER", [override], {}), target.releaseDir);
    assert.deepEqual(recipe.tasks, ["do_version_check"]);
    const image = path.join(work, `image-${target.arch}`);
    const check = runTask(recipe, "do_version_check", [override], conf(image));
    assert.equal(check.status, 0, check.stderr);
    const r = runTask(recipe, "do_install", [override], conf(image));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.deepEqual(tree(image), [
      "d 755 etc", "d 755 etc/mender", "f 644 etc/mender/mender-binary-delta.conf",
      "d 755 usr", "d 755 usr/share", "d 755 usr/share/mender", "d 755 usr/share/mender/modules",
      "d 755 usr/share/mender/modules/v3", "f 755 usr/share/mender/modules/v3/mender-binary-delta",
    ]);
    assert.equal(sha256(path.join(image, "usr/share/mender/modules/v3/mender-binary-delta")),
      sha256(path.join(released, target.releaseDir, "mender-binary-delta")));
    const text = readFileSync(path.join(image, "etc/mender/mender-binary-delta.conf"), "utf8");
    assert.deepEqual(JSON.parse(text), { RootfsPartA: "/dev/mmcblk0p2", RootfsPartB: "/dev/mmcblk0p3" });
    rmSync(image, { recursive: true });
  });
}

test("the installed x86_64 module answers --version", (t) => {
  if (!needArchive(t)) return;
  const recipe = new Recipe(MODULE_RECIPE);
  const image = path.join(work, "image-run");
  assert.equal(runTask(recipe, "do_install", ["x86-64"], conf(image)).status, 0);
  const r = spawnSync(path.join(image, "usr/share/mender/modules/v3/mender-binary-delta"), ["--version"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `mender-binary-delta ${VERSION}\n`);
  rmSync(image, { recursive: true });
});

test("MENDER_FLASH_TOOL adds FlashTool to the conf (and its package to RDEPENDS); empty leaves it out", (t) => {
  if (!needArchive(t)) return;
  const recipe = new Recipe(MODULE_RECIPE);
  const image = path.join(work, "image-flash");
  const r = runTask(recipe, "do_install", ["x86-64"], conf(image, {
    MENDER_FLASH_TOOL: "ubiupdatevol", MENDER_ROOTFS_PART_A: "ubi0_0", MENDER_ROOTFS_PART_B: "ubi0_1",
  }));
  assert.equal(r.status, 0, r.stderr);
  const text = readFileSync(path.join(image, "etc/mender/mender-binary-delta.conf"), "utf8");
  assert.equal(text, '{\n    "FlashTool": "ubiupdatevol",\n    "RootfsPartA": "ubi0_0",\n    "RootfsPartB": "ubi0_1"\n}\n');
  assert.deepEqual(Object.keys(JSON.parse(text) as object), ["FlashTool", "RootfsPartA", "RootfsPartB"]);
  assert.match(recipe.value("RDEPENDS", ["mender-binary-delta"], {})!, /contains\('MENDER_FLASH_TOOL', 'ubiupdatevol', 'mtd-utils-ubifs'/);
  rmSync(image, { recursive: true });
});

test("do_install refuses missing partitions and values that would break the JSON", (t) => {
  if (!needArchive(t)) return;
  const recipe = new Recipe(MODULE_RECIPE);
  const image = path.join(work, "image-bad");
  const missing = runTask(recipe, "do_install", ["x86-64"], conf(image, { MENDER_ROOTFS_PART_B: "" }));
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /^ERROR: MENDER_ROOTFS_PART_A and MENDER_ROOTFS_PART_B must be set \(meta-mender-core sets them/);
  const backslash = runTask(recipe, "do_install", ["x86-64"], conf(image, { MENDER_ROOTFS_PART_A: "/dev/sda\\2" }));
  assert.notEqual(backslash.status, 0);
  assert.match(backslash.stderr, /^ERROR: .* go into \/etc\/mender\/mender-binary-delta\.conf as JSON strings: they must not contain quotes or backslashes/);
  // A double quote ends BitBake's quoting in the task itself: the task fails before it writes anything.
  const quoted = runTask(recipe, "do_install", ["x86-64"], conf(image, { MENDER_ROOTFS_PART_A: '/dev/sda"2' }));
  assert.notEqual(quoted.status, 0);
  assert.ok(!existsSync(path.join(image, "etc/mender/mender-binary-delta.conf")));
  rmSync(image, { recursive: true, force: true });
});

test("do_version_check rejects an archive of another version, another program and a missing one", (t) => {
  if (!needArchive(t)) return;
  // The same recipe with another version, as after a version bump without the new archive.
  const other = path.join(work, "other-version");
  mkdirSync(other);
  copyFileSync(MODULE_RECIPE, path.join(other, "mender-binary-delta_9.9.9.bb"));
  copyFileSync(path.join(RECIPES, "mender-binary-delta.inc"), path.join(other, "mender-binary-delta.inc"));
  const otherRecipe = new Recipe(path.join(other, "mender-binary-delta_9.9.9.bb"));
  const image = path.join(work, "image-check");
  const wrongArchive = runTask(otherRecipe, "do_version_check", ["x86-64"], conf(image));
  assert.notEqual(wrongArchive.status, 0);
  assert.match(wrongArchive.stderr, new RegExp(`mender-binary-delta-9\\.9\\.9 is missing \\(unpacked: mender-binary-delta-${VERSION.replace(/\./g, "\\.")}/ \\)\\. SRC_URI \\(file://mender-binary-delta-9\\.9\\.9\\.tar\\.xz\\) must be the release archive`));

  // A directory of the recipe's version holding the programs of another: their version strings tell.
  const fake = path.join(work, "fake-sources");
  const fakeX86 = path.join(fake, "mender-binary-delta-9.9.9", "x86_64");
  mkdirSync(fakeX86, { recursive: true });
  symlinkSync(path.join(released, "x86_64", "mender-binary-delta"), path.join(fakeX86, "mender-binary-delta"));
  const wrongVersion = runTask(otherRecipe, "do_version_check", ["x86-64"], conf(image, {}, fake));
  assert.notEqual(wrongVersion.status, 0);
  assert.match(wrongVersion.stderr, new RegExp(`is not mender-binary-delta 9\\.9\\.9 \\(it contains: mender-binary-delta ${VERSION.replace(/\./g, "\\.")} \\)\\. Use the archive mender-binary-delta-9\\.9\\.9\\.tar\\.xz`));

  const recipe = new Recipe(MODULE_RECIPE);
  const mine = path.join(fake, `mender-binary-delta-${VERSION}`, "x86_64");
  mkdirSync(mine, { recursive: true });
  symlinkSync(path.join(released, "x86_64", "mender-binary-delta-generator"), path.join(mine, "mender-binary-delta"));
  const wrongProgram = runTask(recipe, "do_version_check", ["x86-64"], conf(image, {}, fake));
  assert.notEqual(wrongProgram.status, 0);
  assert.match(wrongProgram.stderr, new RegExp(`is not mender-binary-delta ${VERSION.replace(/\./g, "\\.")} \\(it contains: no version string\\)`));

  const missing = runTask(recipe, "do_version_check", ["arm"], conf(image, {}, fake));
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /arm\/mender-binary-delta is missing\. SRC_URI \(file:\/\/mender-binary-delta-[^)]*\.tar\.xz\) must be the release archive/);
  rmSync(image, { recursive: true, force: true });
});

test("the native recipe installs the generator for the build host, and it runs", (t) => {
  if (!needArchive(t)) return;
  const recipe = new Recipe(NATIVE_RECIPE);
  const image = path.join(work, "image-native");
  const values = conf(image, { BUILD_ARCH: HOST_TARGET.arch });
  assert.equal(recipe.value("MBD_SUB_FOLDER", [], values), "${BUILD_ARCH}");
  const check = runTask(recipe, "do_version_check", [], values);
  assert.equal(check.status, 0, check.stderr);
  const r = runTask(recipe, "do_install", [], values);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(tree(image), ["d 755 usr", "d 755 usr/bin", "f 755 usr/bin/mender-binary-delta-generator"]);
  const v = spawnSync(path.join(image, "usr/bin/mender-binary-delta-generator"), ["--version"], { encoding: "utf8" });
  assert.equal(v.stdout, `mender-binary-delta-generator ${VERSION}\n`);
  rmSync(image, { recursive: true });
});
