/**
 * Every command in the documentation is exercised: the shell command lines of the ```sh blocks in
 * README.md and docs/*.md are either run here, in a scratch directory holding small images and
 * Artifacts under the names the docs use, or mapped in COVERAGE to the test file that runs them
 * (which must mention the command's program and key flags). A new command in the docs fails this
 * test until it gets an entry; an entry whose command left the docs fails it too.
 *
 * Blocks marked ```console-device (commands for a real device or a Yocto build host) and ```text
 * (synopses, output) are not commands for this test; docs/manual.md states the convention.
 *
 * Extraction: lines ending in `\` are joined with the next; blank lines and `#` comment lines are
 * dropped, as is a trailing ` # comment`; a line that is only variable assignments
 * (`XDELTA_FLAGS="..."`, `SIZE=$(...)`) is not a command but is run before the later commands of
 * its block.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { needTools } from "../helpers/peers";
import { HOST_TARGET, binaryPath } from "../helpers/targets";
import { makeExt4 } from "../device/fixtures";

const ROOT = path.resolve(__dirname, "../..");
const PROGRAMS = ["mender-binary-delta", "mender-binary-delta-generator"];

/** Run here, or: the test file that runs it and the words that file must contain (default: program and flags). */
type Coverage = "run" | { test: string; needs?: string[]; why?: string };

const COVERAGE: Record<string, Coverage> = {
  // README.md
  "scripts/install-deps.sh demo && npm ci && npm run demo": { test: "test/fresh-machine.sh", needs: ["README_LINES", "debootstrap", "chroot"], why: "the quick start's line 1 run as written in a fresh Debian 12 chroot (.ci/run)" },
  "scripts/install-deps.sh test && npm ci && npm test": { test: "test/fresh-machine.sh", needs: ["README_LINES", "debootstrap", "chroot"], why: "the quick start's line 2 run as written in a fresh Debian 12 chroot" },
  "mender-binary-delta --version": "run",
  "mender-binary-delta selftest": "run",
  "mender-binary-delta apply --source old.img --delta delta.vcdiff --target new.img": "run",
  "mender-binary-delta STATE FILE-TREE": { test: "test/device/protocol.test.ts", needs: ["ArtifactInstall", "Download", "ArtifactCommit"], why: "every state on prepared trees" },
  "mender-binary-delta-generator --help": "run",
  "mender-binary-delta-generator -o delta.mender rootfs-v1.mender rootfs-v2.mender": "run",
  // docs/fresh-machine.md
  "test/fresh-machine.sh": { test: ".ci/run", needs: ["test/fresh-machine.sh"], why: "CI runs it (line 1); it is the script itself" },
  "test/fresh-machine.sh 1": { test: ".ci/run", needs: ["test/fresh-machine.sh 1"] },
  // docs/apply.md
  "mender-binary-delta apply --source OLD --delta FILE --target NEW": "run",
  // docs/device.md: the Update Module by hand (also run for every --compression below)
  "mkdir artifact && tar -xf delta-v1-v2.mender -C artifact": "run",
  "mkdir artifact/header && tar -xf artifact/header.tar* -C artifact/header": "run",
  "mkdir payload && tar -xf artifact/data/0000.tar* -C payload": "run",
  "mkdir -p device/bin": "run",
  "cp rootfs-v1.ext4 device/mmcblk0p2": "run",
  "truncate -s $(stat -c %s rootfs-v2.ext4) device/mmcblk0p3": "run",
  "printf '{\"RootfsPartA\": \"%s\", \"RootfsPartB\": \"%s\"}\\n' \"$PWD/device/mmcblk0p2\" \"$PWD/device/mmcblk0p3\" > device/mender-binary-delta.conf": "run",
  "truncate -s 16K device/uboot.env": "run",
  'echo "$PWD/device/uboot.env 0x0 0x4000" > device/fw_env.config': "run",
  "printf 'mender_boot_part=2\\nmender_boot_part_hex=2\\nupgrade_available=0\\nbootcount=0\\n' | fw_setenv -c device/fw_env.config -f /dev/null -s -": "run",
  "printf '#!/bin/sh\\nexec %s -c %s \"$@\"\\n' \"$(command -v fw_printenv)\" \"$PWD/device/fw_env.config\" > device/bin/fw_printenv": "run",
  "printf '#!/bin/sh\\nexec %s -c %s \"$@\"\\n' \"$(command -v fw_setenv)\" \"$PWD/device/fw_env.config\" > device/bin/fw_setenv": "run",
  "chmod +x device/bin/fw_printenv device/bin/fw_setenv": "run",
  "mkdir -p tree/header tree/tmp tree/streams": "run",
  "printf 3 > tree/version": "run",
  "printf release-1 > tree/current_artifact_name": "run",
  "printf '' > tree/current_artifact_group": "run",
  "printf raspberrypi4 > tree/current_device_type": "run",
  "printf release-2 > tree/header/artifact_name": "run",
  "printf '' > tree/header/artifact_group": "run",
  "printf mender-binary-delta > tree/header/payload_type": "run",
  "cp artifact/header/header-info artifact/header/headers/0000/type-info artifact/header/headers/0000/meta-data tree/header/": "run",
  'mkfifo tree/stream-next "tree/streams/$PAYLOAD"': "run",
  '$DEVICE mender-binary-delta Download "$PWD/tree" & echo "streams/$PAYLOAD" > tree/stream-next && cat "payload/$PAYLOAD" > "tree/streams/$PAYLOAD" && : > tree/stream-next && wait $!': "run",
  '$DEVICE mender-binary-delta ArtifactInstall "$PWD/tree"': "run",
  "fw_printenv -c device/fw_env.config mender_boot_part upgrade_available": "run",
  '$DEVICE mender-binary-delta ArtifactVerifyReboot "$PWD/tree"': "run",
  '$DEVICE mender-binary-delta ArtifactCommit "$PWD/tree"': "run",
  '$DEVICE mender-binary-delta Cleanup "$PWD/tree"': "run",
  "cmp device/mmcblk0p3 rootfs-v2.ext4": "run",
  // docs/debian.md
  "node build.mjs": { test: "test/build.test.ts", needs: ["build.mjs"] },
  "node targets/deb.mjs --out dist": { test: "test/shipping/deb.test.ts", needs: ["targets/deb.mjs", "--out"] },
  "node targets/deb.mjs --out dist --arch armhf": { test: "test/shipping/deb.test.ts", needs: ["targets/deb.mjs", "--out", "--arch", "armhf"] },
  "dpkg-deb --contents dist/mender-binary-delta_0.1.0_armhf.deb": { test: "test/shipping/deb.test.ts", needs: ["dpkg-deb", "--contents", "armhf"] },
  "dpkg-deb --field dist/mender-binary-delta_0.1.0_armhf.deb Depends": { test: "test/shipping/deb.test.ts", needs: ["dpkg-deb", "--field", "Depends"] },
  "lintian dist/mender-binary-delta_0.1.0_armhf.deb": { test: "test/shipping/deb.test.ts", needs: ['"lintian"', "--show-overrides"], why: "lintian on all six packages" },
  "dpkg -i mender-binary-delta_0.1.0_armhf.deb": { test: "test/shipping/deb.test.ts", needs: ['"dpkg"', '"-i"'], why: "dpkg --root -i into a scratch root" },
  "man mender-binary-delta": { test: "test/shipping/deb.test.ts", needs: ['"man"', '"-l"', "manPage(program)"], why: "man -l on the page the package installs" },
  "man mender-binary-delta-generator": { test: "test/shipping/deb.test.ts", needs: ['"man"', '"-l"', "manPage(program)"], why: "man -l on the page the package installs" },
  "/usr/share/mender/modules/v3/mender-binary-delta --version": { test: "test/shipping/deb.test.ts", needs: ["usr/share/mender/modules/v3", "--version"] },
  "dpkg -L mender-binary-delta": { test: "test/shipping/deb.test.ts", needs: ['"dpkg"', '"-L"'] },
  "dpkg-query -W -f='${Conffiles}\\n' mender-binary-delta": { test: "test/shipping/deb.test.ts", needs: ["dpkg-query", '"-W"', "${Conffiles}"] },
  "dpkg -i mender-binary-delta-generator_0.1.0_amd64.deb": { test: "test/shipping/deb.test.ts", needs: ['"dpkg"', '"-i"', "mender-binary-delta-generator"] },
  "mender-binary-delta-generator --version": "run",
  // docs/generator.md
  "mender-binary-delta-generator -o delta-1.0-1.1.mender rootfs-1.0.mender rootfs-1.1.mender": "run",
  'mender-binary-delta-generator -o delta.mender -D "${XDELTA_FLAGS}" rootfs-1.0.mender rootfs-1.1.mender -- -- ${XDELTA_FLAGS}': "run",
  "mender-binary-delta-generator -n 1.1-from-1.0 -k release.key --verify-key release.pub --json -o delta.mender rootfs-1.0.mender rootfs-1.1.mender": "run",
  "mender-binary-delta-generator --from-image core-image-1.0.ext4 --to-image core-image-1.1.ext4 --artifact-name release-1.1 --device-type raspberrypi4 -o delta.mender": "run",
  // docs/manual.md
  "mender-artifact write rootfs-image -t raspberrypi4 -n release-1 -f rootfs-v1.ext4 -o rootfs-v1.mender": "run",
  "mender-artifact write rootfs-image -t raspberrypi4 -n release-2 -f rootfs-v2.ext4 -o rootfs-v2.mender": "run",
  "mender-binary-delta-generator -o delta-v1-v2.mender rootfs-v1.mender rootfs-v2.mender": "run",
  "mender-artifact read delta-v1-v2.mender": "run",
  "mkdir delta-v1-v2 && tar -xf delta-v1-v2.mender -C delta-v1-v2": "run",
  "tar -xOf delta-v1-v2/data/0000.tar* > delta.vcdiff": "run",
  "mender-binary-delta apply --source rootfs-v1.ext4 --delta delta.vcdiff --target check.ext4": "run",
  "cmp check.ext4 rootfs-v2.ext4": "run",
  "dd if=rootfs-v1.ext4 bs=1M count=$SIZE iflag=direct,count_bytes status=none | sha256sum": "run",
  'mender-binary-delta-generator -D "-B4194304 -W1048576" -o delta-small.mender rootfs-v1.mender rootfs-v2.mender': "run",
  "openssl genrsa -traditional -out private.key 3072": "run",
  "openssl rsa -in private.key -pubout -out public.key": "run",
  "mender-binary-delta-generator -k private.key -o delta-signed.mender rootfs-v1.mender rootfs-v2.mender": "run",
  "mender-artifact validate -k public.key delta-signed.mender": "run",
  "mender-artifact sign -k private.key rootfs-v1.mender": "run",
  "mender-artifact sign -k private.key rootfs-v2.mender": "run",
  "mender-binary-delta-generator -k private.key --verify-key public.key -o delta-signed.mender rootfs-v1.mender rootfs-v2.mender": "run",
  // docs/reliability.md
  "npm run fuzz": { test: "package.json", needs: ['"fuzz"', "test/fuzz/run.ts"], why: "the fuzzer itself; test/fuzz/fuzz.test.ts runs the same harness briefly" },
  "npm run fuzz -- --target vcdiff --seconds 600": { test: "test/fuzz/run.ts", needs: ["--target", "--seconds"] },
  "npm run fuzz -- --target xz --seed 1234": { test: "test/fuzz/fuzz.test.ts", needs: ["npm run fuzz -- --target", "--seed"] },
};

interface DocCommand {
  file: string;
  line: number;
  command: string;
  /** Assignment lines before it in the same block. */
  prelude: string[];
}

const ASSIGNMENTS = /^([A-Za-z_][A-Za-z0-9_]*=("[^"]*"|'[^']*'|\$\([^)]*\)|[^\s"'$]*)\s*)+$/;

export function extractCommands(file: string, text: string): DocCommand[] {
  const out: DocCommand[] = [];
  const lines = text.split("\n");
  /** Language of the fenced block the line is in, undefined outside blocks. */
  let block: string | undefined;
  let prelude: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^\s*```(\S*)\s*$/.exec(lines[i]!);
    if (fence) {
      block = block === undefined ? fence[1]! : undefined;
      prelude = [];
      continue;
    }
    if (block !== "sh") continue;
    const start = i + 1;
    let command = lines[i]!;
    while (command.endsWith("\\") && i + 1 < lines.length) command = command.slice(0, -1) + " " + lines[++i]!.trim();
    command = command.replace(/\s+#\s.*$/, "").replace(/\s+/g, " ").trim();
    if (command === "" || command.startsWith("#")) continue;
    if (ASSIGNMENTS.test(command)) {
      prelude.push(command);
      continue;
    }
    out.push({ file, line: start, command, prelude: [...prelude] });
  }
  return out;
}

function docFiles(): string[] {
  const docs = fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`);
  return ["README.md", ...docs];
}

function allCommands(): DocCommand[] {
  return docFiles().flatMap((f) => extractCommands(f, fs.readFileSync(path.join(ROOT, f), "utf8")));
}

/** Program and flags of a command: what a test running it must mention. */
function defaultNeeds(command: string): string[] {
  const words = command.split(" ");
  return [path.basename(words[0]!), ...words.filter((w) => /^-{1,2}[A-Za-z]/.test(w))];
}

test("the extractor joins continuations, drops comments and keeps assignments as preludes", () => {
  const doc = ["```sh", "# comment", "A=\"1 2\"", "prog --x \\", "    y   # note", "```", "```text", "not a command", "```", "```console-device", "dev cmd", "```"].join("\n");
  assert.deepEqual(extractCommands("x.md", doc), [{ file: "x.md", line: 4, command: "prog --x y", prelude: ['A="1 2"'] }]);
});

test("every command in the docs has exactly one entry in COVERAGE, and every entry is in the docs", () => {
  const commands = allCommands();
  const seen = new Set(commands.map((c) => c.command));
  const missing = commands.filter((c) => !(c.command in COVERAGE)).map((c) => `${c.file}:${c.line}: ${c.command}`);
  const stale = Object.keys(COVERAGE).filter((c) => !seen.has(c));
  assert.deepEqual(missing, [], `commands with no entry in COVERAGE (run them here or map them to a test):\n${missing.join("\n")}`);
  assert.deepEqual(stale, [], `COVERAGE entries no longer in the docs:\n${stale.join("\n")}`);
});

test("mapped commands: the named test file exists and mentions the program and key flags", () => {
  const problems: string[] = [];
  for (const [command, how] of Object.entries(COVERAGE)) {
    if (how === "run") continue;
    const file = path.join(ROOT, how.test);
    if (!fs.existsSync(file)) {
      problems.push(`${command}: ${how.test} does not exist`);
      continue;
    }
    const text = fs.readFileSync(file, "utf8");
    for (const word of how.needs ?? defaultNeeds(command)) {
      if (!text.includes(word)) problems.push(`${command}: ${how.test} does not mention ${word}`);
    }
  }
  assert.deepEqual(problems, []);
});

/**
 * The programs the docs call: the built host binaries when they exist (npm test builds them first),
 * else wrappers that run the sources through tsx.
 */
function programDir(sandbox: string): string {
  const bin = path.join(sandbox, "bin");
  fs.mkdirSync(bin);
  const loader = path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs");
  const sources: Record<string, string> = { "mender-binary-delta": "src/cli/device.ts", "mender-binary-delta-generator": "src/cli/generator.ts" };
  for (const program of PROGRAMS) {
    const built = binaryPath(HOST_TARGET, program);
    const target = path.join(bin, program);
    if (fs.existsSync(built)) fs.symlinkSync(built, target);
    else fs.writeFileSync(target, `#!/bin/sh\nexec "${process.execPath}" --import "file://${loader}" "${path.join(ROOT, sources[program]!)}" "$@"\n`, { mode: 0o755 });
  }
  return bin;
}

/** The images' size: 4100 KiB, not a whole number of MiB, as the docs' commands must not assume one. */
const IMAGE_MIB = 4100 / 1024;

/** The files the run commands expect, under the names the docs use. */
function makeFixtures(dir: string): void {
  const at = (name: string) => path.join(dir, name);
  makeExt4(at("rootfs-v1.ext4"), 1, IMAGE_MIB);
  makeExt4(at("rootfs-v2.ext4"), 2, IMAGE_MIB);
  const copy = (from: string, ...to: string[]) => to.forEach((t) => fs.copyFileSync(at(from), at(t)));
  copy("rootfs-v1.ext4", "old.img", "OLD", "core-image-1.0.ext4");
  copy("rootfs-v2.ext4", "core-image-1.1.ext4");
  const quiet = { cwd: dir, stdio: "ignore" as const };
  execFileSync("xdelta3", ["-e", "-f", "-s", "old.img", "rootfs-v2.ext4", "delta.vcdiff"], quiet);
  copy("delta.vcdiff", "FILE");
  execFileSync("openssl", ["genrsa", "-traditional", "-out", "release.key", "2048"], quiet);
  execFileSync("openssl", ["rsa", "-in", "release.key", "-pubout", "-out", "release.pub"], quiet);
  const artifact = (image: string, name: string, out: string, signed: boolean) =>
    execFileSync("mender-artifact", ["write", "rootfs-image", "-t", "raspberrypi4", "-n", name, "-f", image, "-o", out, ...(signed ? ["-k", "release.key"] : [])], quiet);
  artifact("rootfs-v1.ext4", "release-1", "rootfs-v1.mender", false);
  artifact("rootfs-v2.ext4", "release-2", "rootfs-v2.mender", false);
  artifact("rootfs-v1.ext4", "release-1.0", "rootfs-1.0.mender", true);
  artifact("rootfs-v2.ext4", "release-1.1", "rootfs-1.1.mender", true);
}

test("the cheap commands run as written, in document order, in a scratch directory", { timeout: 240_000 }, (t) => {
  if (!needTools(t, "mke2fs", "xdelta3", "mender-artifact", "openssl", "fw_printenv", "fw_setenv", "zstd")) return;
  const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-doc-commands-"));
  try {
    const bin = programDir(sandbox);
    const work = path.join(sandbox, "work");
    fs.mkdirSync(work);
    makeFixtures(work);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    let ran = 0;
    for (const c of allCommands()) {
      if (COVERAGE[c.command] !== "run") continue;
      const script = ["set -e -o pipefail", ...c.prelude, c.command].join("\n");
      const r = spawnSync("bash", ["-c", script], { cwd: work, env, encoding: "utf8", timeout: 120_000 });
      assert.equal(r.status, 0, `${c.file}:${c.line}: '${c.command}' exited with ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      ran++;
    }
    // Outcomes, not only exit codes: the rebuilt image is the new one, the signed delta verifies.
    assert.ok(fs.readFileSync(path.join(work, "check.ext4")).equals(fs.readFileSync(path.join(work, "rootfs-v2.ext4"))));
    assert.ok(fs.readFileSync(path.join(work, "NEW")).equals(fs.readFileSync(path.join(work, "rootfs-v2.ext4"))));
    assert.ok(fs.readFileSync(path.join(work, "new.img")).equals(fs.readFileSync(path.join(work, "rootfs-v2.ext4"))));
    t.diagnostic(`${ran} documented commands ran`);
  } finally {
    fs.rmSync(sandbox, { recursive: true, force: true });
  }
});

/** The commands of one section of a doc (from its `## heading` to the next), with their preludes. */
function sectionCommands(file: string, heading: string): DocCommand[] {
  const lines = fs.readFileSync(path.join(ROOT, file), "utf8").split("\n");
  const start = lines.indexOf(`## ${heading}`);
  assert.ok(start >= 0, `${file} has no section '## ${heading}'`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  return extractCommands(file, lines.slice(start, end < 0 ? undefined : end).join("\n"));
}

const BY_HAND = "Running the Update Module by hand";

test("the Update Module by hand (docs/device.md) holds for every --compression and an image that is not whole MiB", { timeout: 240_000 }, (t) => {
  if (!needTools(t, "mke2fs", "mender-artifact", "fw_printenv", "fw_setenv", "zstd")) return;
  const commands = sectionCommands("docs/device.md", BY_HAND);
  const generator = commands.filter((c) => c.command.startsWith("mender-binary-delta-generator "));
  assert.equal(generator.length, 1, "the section makes its delta Artifact with one generator command");
  const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-doc-by-hand-"));
  try {
    const bin = programDir(sandbox);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const members = { xz: ".xz", gzip: ".gz", zstd: ".zst", none: "" };
    for (const [compression, ext] of Object.entries(members)) {
      const work = path.join(sandbox, compression);
      fs.mkdirSync(work);
      const at = (name: string) => path.join(work, name);
      makeExt4(at("rootfs-v1.ext4"), 1, IMAGE_MIB);
      makeExt4(at("rootfs-v2.ext4"), 2, IMAGE_MIB);
      for (const v of [1, 2]) {
        execFileSync("mender-artifact", ["write", "rootfs-image", "-t", "raspberrypi4", "-n", `release-${v}`, "-f", `rootfs-v${v}.ext4`, "-o", `rootfs-v${v}.mender`], { cwd: work, stdio: "ignore" });
      }
      // The section's generator command, with this compression.
      const run = (c: DocCommand, command = c.command) => {
        const r = spawnSync("bash", ["-c", ["set -e -o pipefail", ...c.prelude, command].join("\n")], { cwd: work, env, encoding: "utf8", timeout: 120_000 });
        assert.equal(r.status, 0, `${compression}: '${command}' exited with ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
        return r;
      };
      run(generator[0]!, generator[0]!.command.replace(" -o ", ` --compression ${compression} -o `));
      const listing = execFileSync("tar", ["-tf", at("delta-v1-v2.mender")], { encoding: "utf8" }).split("\n");
      assert.ok(listing.includes(`data/0000.tar${ext}`), `${compression}: ${listing.join(" ")}`);
      let printed = "";
      for (const c of commands) {
        if (c === generator[0]) continue;
        const r = run(c);
        if (c.command.startsWith("fw_printenv ")) printed = r.stdout;
      }
      // Outcomes: B holds the new image, byte for byte; after ArtifactInstall the environment booted B
      // once; after the commit it is B for good.
      assert.ok(fs.readFileSync(at("device/mmcblk0p3")).equals(fs.readFileSync(at("rootfs-v2.ext4"))), compression);
      assert.equal(printed, "mender_boot_part=3\nupgrade_available=1\n", compression);
      const after = execFileSync("fw_printenv", ["-c", at("device/fw_env.config"), "mender_boot_part", "upgrade_available"], { encoding: "utf8" });
      assert.equal(after, "mender_boot_part=3\nupgrade_available=0\n", compression);
    }
  } finally {
    fs.rmSync(sandbox, { recursive: true, force: true });
  }
});
