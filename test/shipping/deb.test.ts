/**
 * Debian packages (targets/deb.mjs, run by build.mjs): layout, control fields, conffile handling by
 * the real dpkg, reproducibility, and the installed programs answering --version (amd64 natively,
 * arm64/armhf under qemu-user); what Debian asks of a package: the real lintian passes with only
 * the overrides of targets/debian/, md5sums match the files (and dpkg --verify agrees), the man
 * pages render with man(1) and document every option, the copyright file is machine-readable and
 * covers every component of the Node.js runtime, and what the help points at is installed.
 * The packages are built here from the binaries in dist/.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { gunzipSync } from "node:zlib";
import path from "node:path";
import { DIST, ROOT, TARGETS, binaryPath, type Target } from "../helpers/targets";
import { needTools, REQUIRE_PEERS } from "../helpers/peers";

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const DEB_ARCH: Record<string, string> = { x86_64: "amd64", aarch64: "arm64", armhf: "armhf" };
const EPOCH = "1700000000";
const MODULE_PATH = "usr/share/mender/modules/v3/mender-binary-delta";
const CONF_PATH = "etc/mender/mender-binary-delta.conf";
const GENERATOR_PATH = "usr/bin/mender-binary-delta-generator";
const PROGRAM_PATH: Record<string, string> = { "mender-binary-delta": MODULE_PATH, "mender-binary-delta-generator": GENERATOR_PATH };
const manPage = (program: string) => `usr/share/man/man1/${program}.1.gz`;

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
  const all: Record<string, string> = {
    ...files,
    [`usr/share/doc/${pkg}/copyright`]: "-rw-r--r--",
    [`usr/share/doc/${pkg}/changelog.gz`]: "-rw-r--r--",
    [manPage(pkg)]: "-rw-r--r--",
    [`usr/share/lintian/overrides/${pkg}`]: "-rw-r--r--",
  };
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
      checkMd5sums(debFile(program, target.arch), root);
      checkCopyright(target, readFileSync(path.join(root, "usr/share/doc", program, "copyright"), "utf8"));
      const changelog = gunzipSync(readFileSync(path.join(root, "usr/share/doc", program, "changelog.gz"))).toString();
      assert.match(changelog, new RegExp(`^${program} \\(${VERSION.replace(/\./g, "\\.")}\\) unstable; urgency=medium\n`));
      assert.match(changelog, /\n -- .+ <.+>  \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\n$/);
    }
    rmSync(root, { recursive: true, force: true });
  });
}

/** DEBIAN/md5sums lists every regular file but the conffiles (dpkg checks those itself), with its MD5. */
function checkMd5sums(deb: string, root: string): void {
  const listed = new Map(run("dpkg-deb", ["--info", deb, "md5sums"]).trim().split("\n").map((l) => {
    const m = /^([0-9a-f]{32})  (\S+)$/.exec(l);
    assert.ok(m, `md5sums line '${l}'`);
    return [m[2]!, m[1]!] as const;
  }));
  const conffiles = spawnSync("dpkg-deb", ["--info", deb, "conffiles"], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
  const files = contents(deb).filter((l) => l.startsWith("-")).map((l) => l.split(" ")[2]!).filter((f) => !conffiles.includes(`/${f}`));
  assert.deepEqual([...listed.keys()].sort(), files.sort(), `${path.basename(deb)}: md5sums covers every file but the conffiles`);
  for (const [file, sum] of listed) assert.equal(createHash("md5").update(readFileSync(path.join(root, file))).digest("hex"), sum, file);
}

/**
 * The copyright file is DEP-5 (copyright-format 1.0): paragraphs of fields; every Files paragraph
 * has Copyright and License; a license named without its text has its own License paragraph. It
 * covers this project, the bundled npm packages and every component Node.js's LICENSE lists, and
 * holds no full Apache License (Debian's copy is referred to).
 */
function checkCopyright(target: Target, text: string): void {
  const paragraphs = text.trimEnd().split(/\n\n/).map((p) => {
    const fields = new Map<string, string>();
    let key = "";
    for (const line of p.split("\n")) {
      const field = /^([A-Za-z-]+): ?(.*)$/.exec(line);
      if (field) fields.set(key = field[1]!, field[2]!);
      else if (/^ /.test(line) && key) fields.set(key, `${fields.get(key)}\n${line.slice(1)}`);
      else assert.fail(`not a field nor a continuation line: '${line}'`);
    }
    return fields;
  });
  const [header, ...rest] = paragraphs;
  assert.equal(header!.get("Format"), "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/");
  assert.equal(header!.get("Upstream-Name"), "mender-binary-delta");
  assert.match(header!.get("Comment")!, new RegExp(`^The executable is the Node\\.js ${target.nodeVersion.replace(/\./g, "\\.")} runtime`));
  const files = rest.filter((p) => p.has("Files"));
  const standalone = rest.filter((p) => !p.has("Files")).map((p) => p.get("License")!.split("\n")[0]!);
  assert.deepEqual(standalone, ["Apache-2.0"]);
  for (const p of files) {
    assert.ok(p.get("Copyright")?.trim(), `${p.get("Files")}: Copyright`);
    const [name, ...licenseText] = p.get("License")!.split("\n");
    assert.match(name!, /^[A-Za-z0-9.+-]+$/, `${p.get("Files")}: a license short name`);
    assert.ok(licenseText.length > 0 || standalone.includes(name!), `${p.get("Files")}: license ${name} has no text`);
  }
  const patterns = files.map((p) => p.get("Files"));
  for (const f of ["*", "node/*", "node/deps/v8/*", "node/deps/uv/*", "node/deps/openssl/*", "node/deps/zlib/*", "node/deps/icu-small/*",
    "node/deps/llhttp/*", "node/deps/cares/*", "node/deps/nghttp2/*", "node_modules/cac/*", "node_modules/fflate/*"]) {
    assert.ok(patterns.includes(f), `copyright covers ${f}`);
  }
  assert.equal(files.find((p) => p.get("Files") === "*")!.get("License"), "Apache-2.0");
  // The last paragraph that matches a file wins: none may be hidden by a broader one after it.
  patterns.forEach((narrow, i) => patterns.slice(i + 1).forEach((broad) => {
    assert.ok(!(broad!.endsWith("/*") && narrow!.startsWith(broad!.slice(0, -1))), `${broad} after ${narrow} hides it`);
  }));
  const nodeLicense = readFileSync(path.join(ROOT, ".cache/node", `${target.nodePackage}-${target.nodeVersion}`, "package/LICENSE"), "utf8");
  const components = nodeLicense.match(/^- .+, located at .+ is licensed as follows:$/gm)!.length;
  assert.equal(patterns.filter((f) => f !== "node/*" && f!.startsWith("node/")).length, components, "one stanza per component of Node.js's LICENSE");
  assert.doesNotMatch(text, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
}

function versionOf(target: Target, exe: string): string {
  return versionOrHelp(target, exe, "--version");
}

function versionOrHelp(target: Target, exe: string, flag: "--version" | "--help"): string {
  const [cmd, ...pre] = [...target.run, exe];
  const r = spawnSync(cmd!, [...pre, flag], { encoding: "utf8", timeout: 180_000 });
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
  // dpkg checks the installed files against the packages' md5sums: no output when all match.
  assert.equal(run("dpkg", [`--root=${root}`, "--verify", "mender-binary-delta", "mender-binary-delta-generator"]), "");
  writeFileSync(path.join(root, "usr/share/doc/mender-binary-delta/copyright"), "changed\n");
  const verify = spawnSync("dpkg", [`--root=${root}`, "--verify", "mender-binary-delta"], { encoding: "utf8" });
  assert.match(verify.stdout, /^\?\?5\?\?\?\?\?\?   \/usr\/share\/doc\/mender-binary-delta\/copyright$/m, "a changed file fails dpkg --verify");

  const edited = `{\n  "RootfsPartA": "/dev/mmcblk0p2",\n  "RootfsPartB": "/dev/mmcblk0p3"\n}\n`;
  writeFileSync(conf, edited);
  dpkg("--force-confold", "-i", module);
  assert.equal(readFileSync(conf, "utf8"), edited, "dpkg must keep the admin's configuration");

  dpkg("--purge", "mender-binary-delta", "mender-binary-delta-generator");
  assert.ok(!existsSync(path.join(root, MODULE_PATH)) && !existsSync(conf) && !existsSync(path.join(root, GENERATOR_PATH)));
});

/** lintian's overrides of a package, as lintian prints them when used ("pkg: tag [context]"). */
function overridesOf(pkg: string): string[] {
  return readFileSync(path.join(ROOT, "targets/debian", `${pkg}.lintian-overrides`), "utf8").split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#")).map((l) => `${pkg}: ${l}`);
}

test("lintian: no error or warning on any package but the overridden ones, and every override is used", { timeout: 1_200_000 }, (t) => {
  if (!ready(t) || !needTools(t, "lintian")) return;
  const debs = readdirSync(debDir).filter((f) => f.endsWith(".deb")).map((f) => path.join(debDir, f));
  // -I: info tags too, for unused-override; --show-overrides: the overridden ones as "O:" lines.
  // The tags are judged here: with --show-overrides, lintian's --fail-on counts overridden tags too.
  const r = spawnSync("lintian", ["-I", "--show-overrides", "--fail-on", "none", ...debs], { encoding: "utf8", maxBuffer: 1 << 26 });
  const tags = r.stdout.split("\n").filter((l) => /^[A-Z]: /.test(l));
  const problems = tags.filter((l) => /^[EW]: /.test(l) || /: (unused|mismatched)-override /.test(l));
  assert.equal(r.status, 0, `lintian failed to run: ${r.stderr}`);
  assert.deepEqual(problems, [], `lintian:\n${r.stdout}${r.stderr}`);
  const overridden = [...new Set(tags.filter((l) => l.startsWith("O: ")).map((l) => l.slice(3)))].sort();
  assert.deepEqual(overridden, [...overridesOf("mender-binary-delta"), ...overridesOf("mender-binary-delta-generator")].sort());
});

test("man pages: both render with man(1) without a warning and document every option of the help", { timeout: 300_000 }, (t) => {
  if (!ready(t) || !needTools(t, "man")) return;
  const host = TARGETS.find((tg) => tg.arch === "x86_64")!;
  for (const program of host.programs) {
    const root = path.join(work, `man-${program}`);
    run("dpkg-deb", ["-x", debFile(program, host.arch), root]);
    const page = path.join(root, manPage(program));
    // lintian's own check: man's warnings (groff's) on stderr.
    const warnings = spawnSync("man", ["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page], { encoding: "utf8", env: { ...process.env, MANWIDTH: "80" } });
    assert.equal(warnings.status, 0, warnings.stderr);
    assert.equal(warnings.stderr, "", `${program}.1: man --warnings`);
    const shown = run("man", ["-l", page], { env: { ...process.env, MANWIDTH: "80" } });
    const help = versionOrHelp(host, path.join(root, PROGRAM_PATH[program]!), "--help");
    assert.ok(help.startsWith(`${program} ${VERSION}\n`));
    for (const section of ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO"]) assert.match(shown, new RegExp(`^${section}$`, "m"), `${program}.1: ${section}`);
    assert.match(shown, new RegExp(`^ {7}${program} - \\S`, "m"), `${program}.1: NAME says what it is`);
    // Every option entry of the help ("  -o, --output FILE  ...") is a term of the page (a short one
    // such as --json has its description on the same line).
    const options = help.split("\n").map((l) => /^ {2}(-[^ ].*?)(?: {2,}|$)/.exec(l)?.[1]).filter((o): o is string => o !== undefined);
    assert.ok(options.length >= (program === "mender-binary-delta" ? 5 : 15), `${program}: options found in the help: ${options.join(", ")}`);
    for (const option of options) assert.match(shown, new RegExp(`^ {7}${option.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?: |$)`, "m"), `${program}.1: option ${option}`);
    rmSync(root, { recursive: true, force: true });
  }
});

test("what the help points at exists: the man page in the package, docs/ in the source repository", { timeout: 300_000 }, (t) => {
  if (!ready(t)) return;
  const host = TARGETS.find((tg) => tg.arch === "x86_64")!;
  for (const program of host.programs) {
    const help = versionOrHelp(host, binaryPath(host, program), "--help");
    const installed = contents(debFile(program, host.arch)).map((l) => l.split(" ")[2]);
    const pages = [...help.matchAll(/\bman ([a-z0-9-]+)/g)].map((m) => m[1]!);
    assert.deepEqual(pages, [program], `${program}: its help names its man page`);
    for (const page of pages) assert.ok(installed.includes(manPage(page)), `${program}'s help: man ${page} is not in the package`);
    const docs = [...help.matchAll(/\bdocs\/[\w.-]+\.md\b/g)].map((m) => m[0]);
    assert.ok(docs.length > 0 && /in the source repository/.test(help), `${program}: docs/ is named as the source repository's`);
    for (const doc of docs) assert.ok(existsSync(path.join(ROOT, doc)), `${program}'s help: ${doc} does not exist`);
  }
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
