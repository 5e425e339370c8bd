/**
 * Debian packages (targets/deb.mjs, run by build.mjs): layout, control fields, conffile handling by
 * the real dpkg, reproducibility, and the installed programs answering --version (amd64 natively,
 * arm64/armhf under qemu-user). The packages are built here from the binaries in dist/.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DIST, ROOT, TARGETS, binaryPath, type Target } from "../helpers/targets";
import { needTools, REQUIRE_PEERS } from "../helpers/peers";

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const DEB_ARCH: Record<string, string> = { x86_64: "amd64", aarch64: "arm64", armhf: "armhf" };
const EPOCH = "1700000000";
const MODULE_PATH = "usr/share/mender/modules/v3/mender-binary-delta";
const CONF_PATH = "etc/mender/mender-binary-delta.conf";
const GENERATOR_PATH = "usr/bin/mender-binary-delta-generator";

const work = mkdtempSync(path.join(tmpdir(), "mbd-deb-"));
const debDir = path.join(work, "debs");
let built: string | undefined; // why the packages could not be built, when they could not

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const debFile = (pkg: string, arch: string, dir = debDir) => path.join(dir, `${pkg}_${VERSION}_${DEB_ARCH[arch]}.deb`);

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26, env: opts.env ?? process.env });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function packDebs(out: string, archs?: string[]) {
  return spawnSync(process.execPath, ["targets/deb.mjs", "--dist", DIST, "--out", out, ...(archs ? ["--arch", archs.join(",")] : [])],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH } });
}

before(() => {
  const missing = TARGETS.flatMap((t) => t.programs.map((p) => binaryPath(t, p))).filter((f) => !existsSync(f));
  if (missing.length > 0) { built = `not built: ${missing.join(", ")} (run node build.mjs)`; return; }
  if (spawnSync("sh", ["-c", "command -v dpkg-deb"]).status !== 0) { built = "dpkg-deb missing"; return; }
  const r = packDebs(debDir);
  if (r.status !== 0) built = `targets/deb.mjs failed: ${r.stderr}`;
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Skips (or fails under REQUIRE_PEERS=1) when the packages could not be built here. */
function ready(t: import("node:test").TestContext): boolean {
  if (!needTools(t, "dpkg-deb", "dpkg")) return false;
  if (built === undefined) return true;
  if (REQUIRE_PEERS) assert.fail(built);
  t.skip(built);
  return false;
}

/** `dpkg-deb --contents` as "mode owner path" lines, directories included. */
function contents(deb: string): string[] {
  return run("dpkg-deb", ["--contents", deb]).trim().split("\n").map((l) => {
    const f = l.split(/\s+/);
    return `${f[0]} ${f[1]} ${f[f.length - 1]!.replace(/^\.\//, "")}`;
  });
}

function expectedContents(files: Record<string, string>, pkg: string): string[] {
  const all: Record<string, string> = { ...files, [`usr/share/doc/${pkg}/copyright`]: "-rw-r--r--" };
  const dirs = new Set<string>([""]);
  for (const f of Object.keys(all)) for (let d = path.dirname(f); d !== "."; d = path.dirname(d)) dirs.add(d);
  return [
    ...[...dirs].map((d) => `drwxr-xr-x root/root ${d === "" ? "" : `${d}/`}`),
    ...Object.entries(all).map(([f, mode]) => `${mode} root/root ${f}`),
  ].sort();
}

test("one package per program and architecture: the module and the generator for amd64/arm64/armhf", (t) => {
  if (!ready(t)) return;
  const expected = TARGETS.flatMap((tg) => tg.programs.map((p) => path.basename(debFile(p, tg.arch)))).sort();
  assert.deepEqual(readdirSync(debDir).sort(), expected);
  assert.deepEqual(expected, [
    `mender-binary-delta-generator_${VERSION}_amd64.deb`, `mender-binary-delta-generator_${VERSION}_arm64.deb`,
    `mender-binary-delta-generator_${VERSION}_armhf.deb`,
    `mender-binary-delta_${VERSION}_amd64.deb`, `mender-binary-delta_${VERSION}_arm64.deb`, `mender-binary-delta_${VERSION}_armhf.deb`,
  ].sort());
});

for (const target of TARGETS) {
  const debArch = DEB_ARCH[target.arch]!;
  const depends = target.arch === "armhf"
    ? "libc6 (>= 2.28), libstdc++6 (>= 9), libatomic1"
    : "libc6 (>= 2.28), libstdc++6 (>= 5)";
  test(`${debArch}: mender-binary-delta holds the module (0755), a conffile (0644) and its runtime dependencies`, (t) => {
    if (!ready(t)) return;
    const deb = debFile("mender-binary-delta", target.arch);
    assert.deepEqual(contents(deb).sort(), expectedContents({ [MODULE_PATH]: "-rwxr-xr-x", [CONF_PATH]: "-rw-r--r--" }, "mender-binary-delta"));
    const field = (name: string) => run("dpkg-deb", ["--field", deb, name]).trim();
    assert.equal(field("Package"), "mender-binary-delta");
    assert.equal(field("Version"), VERSION);
    assert.equal(field("Architecture"), debArch);
    assert.equal(field("Depends"), depends);
    assert.equal(run("dpkg-deb", ["--info", deb, "conffiles"]), `/${CONF_PATH}\n`);
  });

  if (target.programs.includes("mender-binary-delta-generator")) {
    test(`${debArch}: mender-binary-delta-generator holds /usr/bin/mender-binary-delta-generator (0755)`, (t) => {
      if (!ready(t)) return;
      const deb = debFile("mender-binary-delta-generator", target.arch);
      assert.deepEqual(contents(deb).sort(), expectedContents({ [GENERATOR_PATH]: "-rwxr-xr-x" }, "mender-binary-delta-generator"));
      assert.equal(run("dpkg-deb", ["--field", deb, "Architecture"]).trim(), debArch);
      assert.equal(run("dpkg-deb", ["--field", deb, "Depends"]).trim(), depends);
      const conffiles = spawnSync("dpkg-deb", ["--info", deb, "conffiles"], { encoding: "utf8" });
      assert.notEqual(conffiles.status, 0, "the generator has no conffile");
      assert.match(conffiles.stderr, /conffiles/);
    });
  }

  test(`${debArch}: the extracted programs are the built binaries, unstripped, and answer --version`, { timeout: 300_000 }, (t) => {
    if (!ready(t)) return;
    if (target.run.length > 0 && !needTools(t, target.run[0]!)) return;
    const root = path.join(work, `x-${debArch}`);
    for (const program of target.programs) {
      run("dpkg-deb", ["-x", debFile(program, target.arch), root]);
      const installed = path.join(root, program === "mender-binary-delta" ? MODULE_PATH : GENERATOR_PATH);
      assert.equal(sha256(installed), sha256(binaryPath(target, program)), `${program}: bytes differ from dist/`);
      assert.equal(statSync(installed).mode & 0o777, 0o755);
      assert.equal(versionOf(target, installed), `${program} ${VERSION}\n`);
      // The executable is a Node.js runtime: its license has to travel with it.
      const copyright = readFileSync(path.join(root, "usr/share/doc", program, "copyright"), "utf8");
      assert.match(copyright, /^License: Apache-2\.0 and Node\.js$/m);
      assert.match(copyright, new RegExp(`the Node\\.js ${target.nodeVersion.replace(/\./g, "\\.")} runtime`));
      assert.match(copyright, /^License: Node\.js\n Node\.js is licensed for use as follows:\n \.\n/m);
    }
    rmSync(root, { recursive: true, force: true });
  });
}

function versionOf(target: Target, exe: string): string {
  const [cmd, ...pre] = [...target.run, exe];
  const r = spawnSync(cmd!, [...pre, "--version"], { encoding: "utf8", timeout: 180_000 });
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0);
  return r.stdout;
}

test("dpkg --root installs both amd64 packages, registers the conffile and keeps an admin's edit on reinstall", { timeout: 300_000 }, (t) => {
  if (!ready(t)) return;
  const root = path.join(work, "dpkg-root");
  for (const d of ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/log"]) mkdirSync(path.join(root, d), { recursive: true });
  writeFileSync(path.join(root, "var/lib/dpkg/status"), "");
  const dpkg = (...args: string[]) => run("dpkg", [`--root=${root}`, "--force-depends", "--log=/dev/null", ...args]);
  const module = debFile("mender-binary-delta", "x86_64");
  dpkg("-i", module, debFile("mender-binary-delta-generator", "x86_64"));

  const listed = run("dpkg", [`--root=${root}`, "-L", "mender-binary-delta"]).trim().split("\n");
  assert.ok(listed.includes(`/${MODULE_PATH}`) && listed.includes(`/${CONF_PATH}`), listed.join("\n"));
  const conffiles = run("dpkg-query", [`--admindir=${root}/var/lib/dpkg`, "-W", "-f=${Conffiles}", "mender-binary-delta"]);
  assert.match(conffiles, new RegExp(`^ /${CONF_PATH} [0-9a-f]{32}$`, "m"));
  const conf = path.join(root, CONF_PATH);
  assert.deepEqual(JSON.parse(readFileSync(conf, "utf8")), {}, "the shipped conffile defers to mender.conf");
  assert.equal(versionOf(TARGETS.find((tg) => tg.arch === "x86_64")!, path.join(root, MODULE_PATH)), `mender-binary-delta ${VERSION}\n`);
  assert.equal(versionOf(TARGETS.find((tg) => tg.arch === "x86_64")!, path.join(root, GENERATOR_PATH)), `mender-binary-delta-generator ${VERSION}\n`);

  const edited = `{\n  "RootfsPartA": "/dev/mmcblk0p2",\n  "RootfsPartB": "/dev/mmcblk0p3"\n}\n`;
  writeFileSync(conf, edited);
  dpkg("--force-confold", "-i", module);
  assert.equal(readFileSync(conf, "utf8"), edited, "dpkg must keep the admin's configuration");

  dpkg("--purge", "mender-binary-delta", "mender-binary-delta-generator");
  assert.ok(!existsSync(path.join(root, MODULE_PATH)) && !existsSync(conf) && !existsSync(path.join(root, GENERATOR_PATH)));
});

test("packaging is reproducible: the same binaries and SOURCE_DATE_EPOCH give byte-identical packages", { timeout: 300_000 }, (t) => {
  if (!ready(t)) return;
  const again = path.join(work, "again");
  const r = packDebs(again, ["armhf"]); // the smallest package: one is enough to show it
  assert.equal(r.status, 0, r.stderr);
  assert.equal(sha256(debFile("mender-binary-delta", "armhf", again)), sha256(debFile("mender-binary-delta", "armhf")));
});

test("a missing binary is a clear error, not a stack trace", (t) => {
  if (!ready(t)) return;
  const empty = path.join(work, "empty-dist");
  mkdirSync(empty, { recursive: true });
  const r = spawnSync(process.execPath, ["targets/deb.mjs", "--dist", empty, "--out", path.join(work, "none"), "--arch", "armhf"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^targets\/deb\.mjs: .*armhf\/mender-binary-delta was not built: run 'node build\.mjs --arch armhf' first\n$/);
});

test("debVersion maps semver pre-releases to versions dpkg orders before the release", async () => {
  const { debVersion } = (await import(path.join(ROOT, "targets/deb.mjs"))) as { debVersion: (v: string) => string };
  assert.equal(debVersion("1.2.3"), "1.2.3");
  assert.equal(debVersion("1.2.3-rc.1"), "1.2.3~rc.1");
  assert.equal(debVersion("1.2.3-beta-2+build.5"), "1.2.3~beta.2+build.5");
  const r = spawnSync("dpkg", ["--compare-versions", debVersion("1.0.0-rc.1"), "lt", "1.0.0"]);
  assert.equal(r.status, 0);
});
