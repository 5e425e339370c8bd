/**
 * The built generator writes its Artifact in a fresh start of itself (src/cli/write-handoff.ts):
 * the hand-off's own checks, that the built program really hands over (its --debug lines), that
 * the Artifact and summary are those of a run in one process, signed too, and that an interrupt
 * during the handed-over writing still leaves nothing behind.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { MenderDeltaError } from "../../src/errors";
import { generateDelta, resolveOptions, type EncodedDelta } from "../../src/generator";
import { recordScratchOwner } from "../../src/generator/scratch-owner";
import { HANDOFF_FROM_BYTES, serializeHandOff, takeHandOff } from "../../src/cli/write-handoff";
import { HOST_TARGET, binaryPath, runBinary } from "../helpers/targets";
import { needBuilt } from "../helpers/peers";
import { makeKeys, mender, releaseSuite, runCli, sha256File } from "./fixtures";

const PROGRAM = "mender-binary-delta-generator";
const VARIABLE = "MENDER_BINARY_DELTA_GENERATOR_HANDOFF";
// These images are small: the built generator's runs started here hand their writing over whatever
// the images' size (the default hands over from HANDOFF_FROM_BYTES; a test below runs with it).
const HANDOFF_FROM = "MENDER_BINARY_DELTA_GENERATOR_HANDOFF_FROM";
process.env[HANDOFF_FROM] = "0";
const suite = releaseSuite("mbd-gen-handoff-", ["mender-artifact", "mke2fs", "openssl"]);

/** A directory of its own for a test of the built generator; undefined (skipped) without it or the tools. */
function builtCase(t: TestContext, name: string): string | undefined {
  if (!suite.usable(t) || !needBuilt(t, binaryPath(HOST_TARGET, PROGRAM))) return undefined;
  const dir = path.join(suite.work, name);
  fs.mkdirSync(dir);
  return dir;
}

function encodedIn(workDir: string, signingKey?: Buffer, output = path.join(path.dirname(workDir), "d.mender")): EncodedDelta {
  const release = { input: "artifact" as const, path: "/r.mender", image: "rootfs.ext4", imageSize: 4096, sha256: "ab".repeat(32), inputSize: 5000 };
  return {
    workDir,
    spec: {
      artifactName: "release-2", deviceTypes: ["test-device"], signingKey, compression: "xz",
      payload: { type: "mender-binary-delta", depends: {}, provides: {}, metaData: { delta_algorithm: "mbdf1" }, files: [{ path: path.join(workDir, "delta", "d"), name: "d", mode: 0o644 }] },
      scripts: [{ path: path.join(workDir, "scripts", "ArtifactInstall_Enter_00"), name: "ArtifactInstall_Enter_00", mode: 0o755 }],
    },
    payloadSize: 123,
    summary: {
      output, compression: "xz", signed: signingKey !== undefined, from: release, to: release,
      delta: { windows: 0, windowSize: 1 << 23, level: 9, threads: 2, checksum: true },
      decoderArguments: [], rootMount: { rootMount: "ro", avoidedBytes: 0 }, warnings: ["a warning"],
    },
    startedAt: { run: 1, encoding: 2, writing: 3 },
  } as EncodedDelta;
}

test("hand-off: this process's encoded delta comes through the variable, which is then gone, its key read again and checked; anything else is refused and nothing removed", () => {
  const dir = fs.mkdtempSync(path.join(suite.work, "unit-"));
  const work = fs.mkdtempSync(path.join(dir, ".mender-delta-work-"));
  const output = path.join(dir, "d.mender");
  const keyFile = path.join(dir, "key.pem");
  const key = crypto.randomBytes(300);
  fs.writeFileSync(keyFile, key);
  const encoded = encodedIn(work, key);
  const env: NodeJS.ProcessEnv = { [VARIABLE]: serializeHandOff(encoded, keyFile), PATH: "/bin" };
  assert.ok(!env[VARIABLE]!.includes(key.toString("base64")), "the key itself is not in the environment");
  const taken = takeHandOff(env, output);
  assert.deepEqual(env, { PATH: "/bin" });
  const { signingKey: _key, ...unsignedSpec } = encoded.spec;
  assert.deepEqual(taken?.encoded, { ...encoded, spec: unsignedSpec });
  assert.deepEqual(taken?.readSigningKey(), key);
  fs.writeFileSync(keyFile, crypto.randomBytes(300));
  assert.throws(() => taken!.readSigningKey(), /^MenderDeltaError: the signing key .*key\.pem changed while the delta was encoded; keep it in place until the run ends, and run again$/);
  fs.rmSync(keyFile);
  assert.throws(() => taken!.readSigningKey(), /cannot read the signing key .*key\.pem again to sign the Artifact: .*; keep it in place until the run ends$/);
  assert.equal(takeHandOff({}, output), undefined);
  assert.equal(takeHandOff({ [VARIABLE]: serializeHandOff(encodedIn(work)) }, output)?.readSigningKey(), undefined);

  const other = fs.mkdtempSync(path.join(dir, "not-scratch-"));
  const open = fs.mkdtempSync(path.join(dir, ".mender-delta-work-"));
  fs.chmodSync(open, 0o755);
  const elsewhere = fs.mkdtempSync(path.join(suite.work, ".mender-delta-work-"));
  const withPid = (pid: number): string => JSON.stringify({ ...JSON.parse(serializeHandOff(encodedIn(work))), pid });
  const outside = encodedIn(work);
  outside.spec.payload.files[0]!.path = "/etc/shadow";
  const climbing = encodedIn(work);
  climbing.spec.scripts![0]!.path = path.join(work, "..", "key.pem");
  const refusals: [string, RegExp][] = [
    ["{not json", /not JSON/],
    [withPid(process.pid + 1), new RegExp(`it is process ${process.pid + 1}'s, this is ${process.pid}`)],
    [serializeHandOff(encodedIn(other)), /not this run's scratch directory/],
    [serializeHandOff(encodedIn("relative/.mender-delta-work-x", undefined, output)), /not this run's scratch directory/],
    [serializeHandOff(encodedIn(elsewhere, undefined, output)), /not this run's scratch directory/],
    [serializeHandOff(encodedIn(path.join(dir, ".mender-delta-work-gone"))), /does not exist/],
    [serializeHandOff(encodedIn(open)), /not a scratch directory of this user's/],
    [serializeHandOff(outside), /it names files outside/],
    [serializeHandOff(climbing), /it names files outside/],
  ];
  for (const [value, why] of refusals) {
    assert.throws(() => takeHandOff({ [VARIABLE]: value }, output), (err: unknown) => {
      assert.ok(err instanceof MenderDeltaError);
      assert.match(err.message, why);
      assert.match(err.message, new RegExp(`^${VARIABLE} is set \\(.*\\): .*unset it and run again$`));
      return true;
    });
  }
  assert.throws(() => takeHandOff({ [VARIABLE]: serializeHandOff(encoded, keyFile) }, "/elsewhere.mender"), /it writes .*d\.mender, this command line \/elsewhere\.mender/);
  for (const d of [work, other, open, elsewhere]) assert.ok(fs.statSync(d).isDirectory(), `${d} kept`);
});

test("the built generator hands its writing to a fresh start: the same Artifact and summary as one process, signed too", { timeout: 300_000 }, async (t) => {
  const dir = builtCase(t, "same");
  if (dir === undefined) return;
  const { key, pub } = makeKeys(dir, "rsa");
  const built = path.join(dir, "built.mender");
  const r = runBinary(HOST_TARGET, PROGRAM, ["--debug", "--json", "-k", key, "-o", built, suite.rel.r1, suite.rel.r2]);
  assert.equal(r.status, 0, r.stderr);
  const debug = (m: string): RegExp => new RegExp(`^${PROGRAM}: debug: ${m}`, "gm");
  assert.equal(r.stderr.match(debug("runs with GLIBC_TUNABLES="))?.length, 1, r.stderr);
  assert.equal(r.stderr.match(debug("the delta is encoded; the Artifact is written by a fresh start of the program$"))?.length, 1, r.stderr);
  assert.deepEqual(fs.readdirSync(dir).sort(), ["built.mender", "rsa.key", "rsa.pub"], "no scratch directory left");
  const validated = mender(["validate", "-k", pub, built]);
  assert.equal(validated.status, 0, validated.stderr);

  const single = path.join(dir, "single.mender");
  const s = runCli(["--json", "-k", key, "-o", single, suite.rel.r1, suite.rel.r2]);
  assert.equal(s.status, 0, s.stderr);
  const [a, b] = [JSON.parse(r.stdout), JSON.parse(s.stdout)];
  assert.equal(a.artifactSize, fs.statSync(built).size);
  assert.equal(a.signed, true);
  for (const phase of ["read", "encode", "write"]) assert.ok(a.timeMs[phase] >= 0 && a.timeMs[phase] <= a.timeMs.total, `timeMs.${phase}`);
  for (const summary of [a, b]) {
    delete summary.timeMs;
    delete summary.output;
    delete summary.delta.threads;
  }
  assert.deepEqual(a, b);
  // RSA signatures (PKCS#1 v1.5) are deterministic: the whole Artifact is the same bytes.
  assert.equal(sha256File(built), sha256File(single));
});

/** FROM zeros, TO 24 MiB of random bytes: a payload xz takes seconds over (made once). */
function randomPair(): { from: string; to: string } {
  const images = path.join(suite.work, "images");
  const from = path.join(images, "from.img");
  const to = path.join(images, "to.img");
  if (!fs.existsSync(images)) {
    fs.mkdirSync(images);
    fs.writeFileSync(from, Buffer.alloc(24 << 20));
    fs.writeFileSync(to, crypto.randomBytes(24 << 20));
  }
  return { from, to };
}

/** Starts `program` on the random pair writing `out`; resolves `seen` once stderr matches `line`. */
function startOn(program: string, out: string, extra: string[], line: RegExp) {
  const { from, to } = randomPair();
  const child = spawn(program, [...extra, "--from-image", from, "--to-image", to, "-n", "r2", "-t", "test-device", "-o", out], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const output = { stderr: "" };
  const seen = new Promise<void>((resolve) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      output.stderr += chunk.toString();
      if (line.test(output.stderr)) resolve();
    });
    child.on("exit", () => resolve());
  });
  return { child, exited, seen, output };
}

/** Sends `signal` to the run: it must end by it, with nothing left in `dir`. */
async function endsBy(run: ReturnType<typeof startOn>, signal: NodeJS.Signals, dir: string): Promise<void> {
  run.child.kill(signal);
  assert.deepEqual(await run.exited, { code: null, signal }, run.output.stderr);
  assert.deepEqual(fs.readdirSync(dir), [], "nothing left behind");
}

test("SIGINT during the handed-over writing: the process ends by the signal and leaves no scratch files or output", { timeout: 300_000 }, async (t) => {
  const dir = builtCase(t, "interrupted");
  if (dir === undefined) return;
  // The fresh start prints the writing's first line once its signal handlers are in place.
  const run = startOn(binaryPath(HOST_TARGET, PROGRAM), path.join(dir, "d.mender"), [], /^writing +0%$/m);
  await run.seen;
  assert.match(run.output.stderr, /^writing +0%$/m, run.output.stderr);
  await endsBy(run, "SIGINT", dir);
});

test("a program file replaced during the run (an upgrade) does not write its Artifact: the writing stays in the first start", { timeout: 300_000 }, async (t) => {
  const dir = builtCase(t, "replaced");
  if (dir === undefined) return;
  const program = path.join(dir, PROGRAM);
  fs.copyFileSync(binaryPath(HOST_TARGET, PROGRAM), program);
  fs.copyFileSync(binaryPath(HOST_TARGET, PROGRAM), `${program}.new`);
  fs.chmodSync(program, 0o755);
  fs.chmodSync(`${program}.new`, 0o755);
  const run = startOn(program, path.join(dir, "d.mender"), ["--debug"], /^reading TO +0%$/m);
  await run.seen;
  fs.renameSync(`${program}.new`, program);
  assert.deepEqual(await run.exited, { code: 0, signal: null }, run.output.stderr);
  assert.match(run.output.stderr, /^writing +100%$/m);
  assert.doesNotMatch(run.output.stderr, /written by a fresh start/, "no hand-off to the replaced file");
  const validated = mender(["validate", path.join(dir, "d.mender")]);
  assert.equal(validated.status, 0, validated.stderr);
});

/** The pid of a child of `parent` whose command line holds `arg`, or undefined (a scan of /proc). */
function childWith(parent: number, arg: string): number | undefined {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The parent pid is the 4th field of stat, after the command name in parentheses.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== parent) continue;
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(arg)) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}

test("SIGTERM while the first start tries its second (the trial start): the run ends by the signal, nothing left, nothing written", { timeout: 300_000 }, async (t) => {
  const dir = builtCase(t, "trial");
  if (dir === undefined) return;
  const run = startOn(binaryPath(HOST_TARGET, PROGRAM), path.join(dir, "d.mender"), [], /^encoding +100%$/m);
  await run.seen;
  // The hand-off's trial is a child running the program with --version, after the encoding ends.
  let trial: number | undefined;
  while (trial === undefined && run.child.exitCode === null) {
    trial = childWith(run.child.pid!, "--version");
    if (trial === undefined) await new Promise((r) => setImmediate(r));
  }
  assert.ok(trial !== undefined, `no trial start seen: ${run.output.stderr}`);
  await endsBy(run, "SIGTERM", dir);
});

test("a signing key read from a pipe (-k <(…)), or an environment too large for another start: the writing stays in one process", { timeout: 300_000 }, async (t) => {
  const dir = builtCase(t, "one-process");
  if (dir === undefined) return;
  const { key, pub } = makeKeys(dir, "rsa");
  const piped = path.join(dir, "piped.mender");
  // bash's process substitution: the key arrives through a pipe, which cannot be read twice.
  const p = spawnSync("bash", ["-c", 'exec "$0" --debug -k <(cat "$1") -o "$2" "$3" "$4"', binaryPath(HOST_TARGET, PROGRAM), key, piped, suite.rel.r1, suite.rel.r2], { encoding: "utf8", timeout: 180_000 });
  const stderr = p.stderr;
  assert.equal(p.status, 0, stderr);
  assert.match(stderr, /debug: runs with GLIBC_TUNABLES=/, "the built program, started again for the threshold");
  assert.doesNotMatch(stderr, /written by a fresh start/);
  const validated = mender(["validate", "-k", pub, piped]);
  assert.equal(validated.status, 0, validated.stderr);

  // 1.2 MB of variables: more than this program passes to another start (1 MiB), less than Linux takes.
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.GLIBC_TUNABLES;
  for (let i = 0; i < 12; i++) env[`MBD_TEST_FILLER_${i}`] = "x".repeat(100_000);
  const big = path.join(dir, "big-env.mender");
  const r = runBinary(HOST_TARGET, PROGRAM, ["--debug", "-o", big, suite.rel.r1, suite.rel.r2], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /debug: runs with GLIBC_TUNABLES=\(unset\)$/m, "not started again for the threshold either");
  assert.doesNotMatch(r.stderr, /written by a fresh start/);
  assert.equal(mender(["validate", big]).status, 0);
});

test("what is handed over: the scratch directory holds the delta and scripts, not the extracted images (a run that ends before the second start can remove it leaves little); raw input images stay", async (t) => {
  if (!suite.usable(t)) return;
  for (const [name, positional, extra] of [
    ["artifacts", [suite.rel.r1, suite.rel.r2], {}],
    ["raw", [], { fromImage: suite.rel.v1, toImage: suite.rel.v2, artifactName: "raw-2", deviceType: "test-device" }],
  ] as const) {
    const dir = fs.mkdtempSync(path.join(suite.work, `kept-${name}-`));
    let handed: string[] | undefined;
    await generateDelta(resolveOptions({ output: path.join(dir, "d.mender"), ...extra }, [...positional]), {
      handOff: async (encoded) => {
        handed = fs.readdirSync(encoded.workDir).sort();
      },
    });
    assert.deepEqual(handed, ["delta", "owner.json"], name);
    assert.ok(fs.existsSync(path.join(dir, "d.mender")), name);
    if (name === "raw") for (const img of [suite.rel.v1, suite.rel.v2]) assert.ok(fs.statSync(img).size > 0, `${img} is still there`);
  }
});

test("a scratch directory an earlier run left behind (its process gone) is removed by the next run beside it; a live run's, an unrecorded or a shared one stays", async (t) => {
  if (!suite.usable(t)) return;
  const dir = fs.mkdtempSync(path.join(suite.work, "stale-"));
  const scratch = (name: string, owner: object | undefined, mode = 0o700): string => {
    const d = path.join(dir, `.mender-delta-work-${name}`);
    fs.mkdirSync(d, { mode });
    fs.chmodSync(d, mode);
    fs.writeFileSync(path.join(d, "delta"), Buffer.alloc(4096));
    if (owner) fs.writeFileSync(path.join(d, "owner.json"), JSON.stringify(owner));
    return d;
  };
  const gone = spawnSync("true").pid!;
  const stale = scratch("gone", { pid: gone, start: "1" });
  const reused = scratch("reused", { pid: process.pid, start: "1" }); // this id, another start: a later process
  const live = scratch("live", undefined);
  recordScratchOwner(live);
  const unrecorded = scratch("unrecorded", undefined);
  const shared = scratch("shared", { pid: gone, start: "1" }, 0o755);
  const summary = await generateDelta(resolveOptions({ output: path.join(dir, "d.mender") }, [suite.rel.r1, suite.rel.r2]));
  for (const d of [stale, reused]) {
    assert.ok(!fs.existsSync(d), `${d} removed`);
    assert.ok(summary.warnings.some((w) => w.startsWith(`removed ${d}, the scratch directory an earlier run left behind`)), summary.warnings.join("\n"));
  }
  for (const d of [live, unrecorded, shared]) assert.ok(fs.existsSync(path.join(d, "delta")), `${d} stays`);
  assert.equal(summary.warnings.filter((w) => w.startsWith("removed ")).length, 2);
});

test("below HANDOFF_FROM_BYTES (by default 128 MiB of the larger image) the writing stays in the first start; the variable that sets it must be a number", { timeout: 300_000 }, (t) => {
  const dir = builtCase(t, "small");
  if (dir === undefined) return;
  assert.equal(HANDOFF_FROM_BYTES, 128 << 20);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env[HANDOFF_FROM];
  const r = runBinary(HOST_TARGET, PROGRAM, ["--debug", "-o", path.join(dir, "d.mender"), suite.rel.r1, suite.rel.r2], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /written by a fresh start/);
  assert.equal(mender(["validate", path.join(dir, "d.mender")]).status, 0);
  const bad = runBinary(HOST_TARGET, PROGRAM, ["-o", path.join(dir, "e.mender"), suite.rel.r1, suite.rel.r2], { env: { ...env, [HANDOFF_FROM]: "128M" } });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, `${PROGRAM}: error: ${HANDOFF_FROM} must be a number of bytes (0: always), got '128M'\n`);
  assert.deepEqual(fs.readdirSync(dir).sort(), ["d.mender"]);
});
