/**
 * Help of both programs, run from source through tsx: every command answers --help / help on
 * standard output with exit 0, within 80 columns; and the generator's mender-artifact spellings
 * parse (through cac, as the program parses them) to the same options as the spellings they alias.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { cac } from "cac";
import { addGeneratorOptions } from "../../src/cli/generator-options";
import { HELP_WIDTH } from "../../src/cli/help";
import { protectValues, resolveOptions, type GeneratorOptions, type RawOptions } from "../../src/generator";

const ROOT = path.resolve(__dirname, "../..");
const LOADER = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

function run(program: "generator" | "device", args: string[]) {
  const r = spawnSync(process.execPath, ["--import", LOADER, path.join(ROOT, "src", "cli", `${program}.ts`), ...args], {
    encoding: "utf8", timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertFits(text: string, what: string): void {
  const long = text.split("\n").filter((line) => line.length > HELP_WIDTH);
  assert.deepEqual(long, [], `${what}: lines wider than ${HELP_WIDTH} columns`);
}

const HELP_CALLS: Array<["generator" | "device", string[]]> = [
  ["generator", ["--help"]], ["generator", ["-h"]], ["generator", ["help"]], ["generator", ["selftest", "--help"]],
  ["generator", ["help", "selftest"]], ["generator", ["-o", "x.mender", "a", "b", "--help"]],
  ["device", ["--help"]], ["device", ["-h"]], ["device", ["help"]], ["device", ["selftest", "--help"]],
  ["device", ["apply", "--help"]], ["device", ["apply", "-h"]], ["device", ["help", "apply"]],
  ["device", ["apply", "--source", "old.img", "--help"]],
];

test("every help of both programs: exit 0, on stdout, nothing on stderr, within 80 columns", () => {
  for (const [program, args] of HELP_CALLS) {
    const what = `${program} ${args.join(" ")}`;
    const r = run(program, args);
    assert.equal(r.status, 0, `${what}: ${r.stderr}`);
    assert.equal(r.stderr, "", what);
    assert.match(r.stdout, /^mender-binary-delta(-generator)? \d+\.\d+\.\d+/, what);
    assertFits(r.stdout, what);
  }
});

test("apply --help prints apply's usage, not an unknown option", () => {
  for (const args of [["apply", "--help"], ["help", "apply"]]) {
    const r = run("device", args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /apply --source OLD --delta FILE\|- --target NEW/);
    assert.match(r.stdout, /--max-window-size BYTES/);
    assert.match(r.stdout, /-q, --quiet +no progress on standard error .*\n.*"applying  40%"\); also --no-progress/);
    assert.doesNotMatch(r.stdout, /Install: copy this file/, "apply's help alone");
  }
});

test("the generator's help describes progress, --json errors and the early checks", () => {
  const r = run("generator", ["--help"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /-q, --quiet +no progress on stderr \(a bar on a terminal,\n +else a line per 10% of each phase, "writing\n +40%"\); also --no-progress/);
  assert.match(r.stdout, /as \{"error": MESSAGE, "exitCode": N\}/);
  assert.match(r.stdout, /the file\nsystem of the output has room for the extracted images/);
});

test("-v, -V and --version print the version on both programs", () => {
  for (const program of ["generator", "device"] as const) {
    for (const flag of ["-v", "-V", "--version"]) {
      const r = run(program, [flag]);
      assert.equal(r.status, 0, `${program} ${flag}: ${r.stderr}`);
      assert.match(r.stdout, /^mender-binary-delta(-generator)? \d+\.\d+\.\d+\n$/);
    }
  }
});

/** A generator command line parsed as the program parses it, resolved to options. */
function parse(argv: string[]): GeneratorOptions {
  const { argv: safe, restore } = protectValues(argv);
  const cli = cac("mender-binary-delta-generator");
  addGeneratorOptions(cli.command("[...inputs]", "make a delta Artifact"));
  const parsed = cli.parse(["node", "gen", ...safe], { run: false });
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed.options)) raw[k] = restore(v);
  return resolveOptions(raw as RawOptions, (parsed.args as string[]).map((a) => String(restore(a))));
}

test("mender-artifact's spellings parse to the same options as the generator's own", () => {
  const artifacts = ["a.mender", "b.mender"];
  const pairs: Array<[string[], string[]]> = [
    [["--output-path", "d.mender", ...artifacts], ["-o", "d.mender", ...artifacts]],
    [["--output-path=d.mender", ...artifacts], ["--output", "d.mender", ...artifacts]],
    [["-o", "d.mender", "--output-path", "d.mender", ...artifacts], ["-o", "d.mender", ...artifacts]],
    [["-o", "d", "--artifact-name", "0123", ...artifacts], ["-o", "d", "-n", "0123", ...artifacts]],
    [["-o", "d", "--name", "r2", ...artifacts], ["-o", "d", "-n", "r2", ...artifacts]],
    [["-o", "d", "-k", "k.pem", ...artifacts], ["-o", "d", "--key", "k.pem", ...artifacts]],
    [["-o", "d", "--no-progress", ...artifacts], ["-o", "d", "-q", ...artifacts]],
    [["-o", "d", "--compression", "lzma", ...artifacts], ["-o", "d", "--compression", "xz", ...artifacts]],
    [["-o", "d", "--compression", "gzip", ...artifacts], ["-o", "d", "--compression=gzip", ...artifacts]],
    [["-o", "d", "--compression", "zstd_fast", ...artifacts], ["-o", "d", "--compression", "zstd", "--compression-level", "1", ...artifacts]],
    [["-o", "d", "--compression", "zstd_better", ...artifacts], ["-o", "d", "--compression", "zstd", "--compression-level", "7", ...artifacts]],
    [["-o", "d", "--compression", "zstd_best", ...artifacts], ["-o", "d", "--compression", "zstd", "--compression-level", "11", ...artifacts]],
    [["-o", "d", "--compression", "none", ...artifacts], ["-o", "d", "--compression=none", ...artifacts]],
    [
      ["-o", "d", "--from-image", "v1.ext4", "--to-image", "v2.ext4", "-n", "r2", "-t", "0x1", "-t", "-dash"],
      ["-o", "d", "--from-image", "v1.ext4", "--to-image", "v2.ext4", "-n", "r2", "--device-type", "0x1", "--device-type=-dash"],
    ],
  ];
  for (const [mender, ours] of pairs) {
    assert.deepEqual(parse(mender), parse(ours), `${mender.join(" ")} = ${ours.join(" ")}`);
  }
  const raw = ["-o", "d", "--to-image", "v2.ext4", "-n", "r2"];
  assert.deepEqual(parse([...raw, "-t", "X", "a.mender"]), parse([...raw, "--device-type", "X", "a.mender"]));
  assert.deepEqual(parse([...raw, "-t", "X", "a.mender"]).deviceTypes, ["X"]);
  assert.equal(parse(["-o", "d", "--no-progress", ...artifacts]).quiet, true);
  assert.equal(parse(["-o", "d", ...artifacts]).quiet, false);
  assert.equal(parse(["-o", "d", "--compression", "zstd_best", "--compression-level", "19", ...artifacts]).compressionLevel, 19);
  assert.throws(() => parse(["-o", "d", "--output-path", "e", ...artifacts]), /-o 'd' and --output-path 'e' disagree/);
  assert.throws(() => parse(["-o", "d", "--compression", "zstd_ultra", ...artifacts]), /--compression 'zstd_ultra' is unknown/);
});
