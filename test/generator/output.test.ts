/**
 * The delta Artifact itself: accepted by the real mender-artifact (validate, read; signed with RSA
 * and ECDSA, unsigned), laid out as docs/generator.md ("The delta Artifact") says, and its payload decodes with stock xdelta3 to
 * TO's image. Inputs are made by the real `mender-artifact write rootfs-image`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import fs from "node:fs";
import path from "node:path";
import { readArtifactHeaders, writeArtifact } from "../../src/artifact";
import { binaryPath, HOST_TARGET, ROOT, runBinary } from "../helpers/targets";
import { extractPayload, generate as generateAny, makeKeys, mender, rootfsArtifact, runCli, sha256File, releaseSuite } from "./fixtures";

/**
 * Most tests here check the VCDIFF delta (stock `xdelta3 -d` decodes it); the default, file-aware
 * format is checked where it says so (and installed by real clients in test/device/mbdf-client).
 */
const generate: typeof generateAny = (raw, ...positional) => generateAny({ deltaFormat: "vcdiff", ...raw }, ...positional);

const suite = releaseSuite("mbd-gen-out-", ["mender-artifact", "xdelta3", "mke2fs", "openssl"]);
const usable = (t: import("node:test").TestContext): boolean => suite.usable(t);

/** Stock `xdelta3 -d -s FROM` must rebuild TO from the payload. */
async function assertDecodesToTo(artifact: string, fromImage: string, toImage: string): Promise<void> {
  const delta = path.join(suite.work, `payload-${path.basename(artifact)}`);
  await extractPayload(artifact, delta);
  const out = `${delta}.out`;
  execFileSync("xdelta3", ["-d", "-f", "-s", fromImage, delta, out]);
  assert.equal(sha256File(out), sha256File(toImage), "xdelta3 -d gives TO's image");
}

test("unsigned delta: mender-artifact validate and read accept it; headers as docs/generator.md says; xdelta3 -d rebuilds TO", async (t) => {
  if (!usable(t)) return;
  const out = path.join(suite.work, "unsigned.mender");
  const s = await generate({ output: out }, suite.rel.r1, suite.rel.r2);
  assert.equal(mender(["validate", out]).status, 0);
  const read = mender(["read", out]);
  assert.equal(read.status, 0, read.stderr);
  assert.match(read.stdout, /Type:\s+mender-binary-delta/);
  assert.match(read.stdout, /Signature: no signature/);

  const h = await readArtifactHeaders(out);
  assert.deepEqual(h.headerInfo, { payloadTypes: ["mender-binary-delta"], artifactName: "release-2", deviceTypes: ["test-device"] });
  const p = h.payloads[0]!;
  assert.equal(p.typeInfo.type, "mender-binary-delta");
  assert.deepEqual(p.typeInfo.depends, { "rootfs-image.checksum": sha256File(suite.rel.v1) });
  assert.deepEqual(p.typeInfo.provides, { "rootfs-image.checksum": sha256File(suite.rel.v2), "rootfs-image.version": "release-2" });
  assert.deepEqual(p.typeInfo.clearsProvides, ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"]);
  const size = fs.statSync(suite.rel.v2).size;
  assert.deepEqual(p.metaData, { decoder_arguments: [], delta_algorithm: "xdelta3", rootfs_file_size: size, source_rootfs_file_size: fs.statSync(suite.rel.v1).size });
  assert.deepEqual(p.files.map((f) => f.name), ["rootfs-v2.ext4.delta"]);
  assert.equal(h.compression, "xz");
  assert.equal(h.signed, false);

  assert.equal(s.artifactSize, fs.statSync(out).size);
  assert.ok(s.artifactSize < fs.statSync(suite.rel.r2).size, `delta Artifact (${s.artifactSize}) smaller than the full one (${fs.statSync(suite.rel.r2).size})`);
  await assertDecodesToTo(out, suite.rel.v1, suite.rel.v2);

  // The default format: the same Artifact layout, delta_algorithm mbdf1, accepted by mender-artifact.
  const mbdfOut = path.join(suite.work, "unsigned-default.mender");
  const d = await generateAny({ output: mbdfOut }, suite.rel.r1, suite.rel.r2);
  assert.equal(mender(["validate", mbdfOut]).status, 0);
  const dp = (await readArtifactHeaders(mbdfOut)).payloads[0]!;
  assert.equal(dp.metaData?.delta_algorithm, d.delta.format === "mbdf" ? "mbdf1" : "xdelta3");
  assert.deepEqual(dp.typeInfo, p.typeInfo);
});

for (const kind of ["rsa", "ec"] as const) {
  test(`signed with ${kind === "rsa" ? "RSA" : "ECDSA P-256"}: mender-artifact validate/read verify it with the public key`, async (t) => {
    if (!usable(t)) return;
    const keys = makeKeys(suite.work, kind);
    const out = path.join(suite.work, `signed-${kind}.mender`);
    const s = await generate({ output: out, key: keys.key }, suite.rel.r1, suite.rel.r2);
    assert.equal(s.signed, true);
    const v = mender(["validate", "-k", keys.pub, out]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const r = mender(["read", "-k", keys.pub, out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Signature: signed and verified correctly/);
    await assertDecodesToTo(out, suite.rel.v1, suite.rel.v2);
  });
}

test("-n names the delta; -D is recorded as decoder_arguments and its -W bounds the windows; --compression none", async (t) => {
  if (!usable(t)) return;
  const out = path.join(suite.work, "named.mender");
  const s = await generate({ output: out, name: "release-2-from-1", decoderArgs: "-B67108864 -W100000", compression: "none" }, suite.rel.r1, suite.rel.r2);
  assert.equal(s.delta.windowSize, 98304);
  assert.equal(s.delta.windows, Math.ceil(fs.statSync(suite.rel.v2).size / 98304));
  assert.equal(mender(["validate", out]).status, 0);
  const h = await readArtifactHeaders(out);
  assert.equal(h.headerInfo.artifactName, "release-2-from-1");
  assert.equal(h.compression, "none");
  assert.deepEqual(h.payloads[0]!.metaData!.decoder_arguments, ["-B67108864", "-W100000"]);
  assert.equal(h.payloads[0]!.typeInfo.provides["rootfs-image.version"], "release-2", "the software version stays TO's");
  await assertDecodesToTo(out, suite.rel.v1, suite.rel.v2);
});

test("--compression gzip and --compression xz --compression-level 1 (fast parser): mender-artifact validates, xdelta3 -d rebuilds TO", async (t) => {
  if (!usable(t)) return;
  for (const [compression, compressionLevel] of [["gzip", undefined], ["xz", "1"]] as const) {
    const out = path.join(suite.work, `level-${compression}.mender`);
    await generate({ output: out, compression, compressionLevel }, suite.rel.r1, suite.rel.r2);
    assert.equal(mender(["validate", out]).status, 0);
    assert.equal((await readArtifactHeaders(out)).compression, compression);
    await assertDecodesToTo(out, suite.rel.v1, suite.rel.v2);
  }
});

test("group, state scripts and extra provides come from TO; a legacy checksum key in FROM is kept in depends", async (t) => {
  if (!usable(t)) return;
  const script = path.join(suite.work, "ArtifactInstall_Enter_00_hello");
  fs.writeFileSync(script, "#!/bin/sh\necho hello\n", { mode: 0o755 });
  const r1 = rootfsArtifact(path.join(suite.work, "legacy-1.mender"), suite.rel.v1, "release-1", ["--legacy-rootfs-image-checksum"]);
  const r2 = rootfsArtifact(path.join(suite.work, "fancy-2.mender"), suite.rel.v2, "release-2", ["-g", "beta", "-s", script, "-p", "rootfs-image.update-module.mender-binary-delta.version:release-2"]);
  const out = path.join(suite.work, "inherit.mender");
  await generate({ output: out }, r1, r2);
  assert.equal(mender(["validate", out]).status, 0);
  const h = await readArtifactHeaders(out);
  assert.equal(h.headerInfo.artifactGroup, "beta");
  assert.deepEqual(h.scripts.map((s) => [s.name, s.mode & 0o777, Buffer.from(s.content).toString()]), [["ArtifactInstall_Enter_00_hello", 0o755, "#!/bin/sh\necho hello\n"]]);
  const ti = h.payloads[0]!.typeInfo;
  assert.deepEqual(ti.depends, { rootfs_image_checksum: sha256File(suite.rel.v1) });
  assert.equal(ti.provides["rootfs-image.update-module.mender-binary-delta.version"], "release-2");
  assert.equal(ti.provides["rootfs-image.checksum"], sha256File(suite.rel.v2));
});

test("raw images as input: --from-image/--to-image with --artifact-name and --device-type", async (t) => {
  if (!usable(t)) return;
  const out = path.join(suite.work, "raw.mender");
  const s = await generate({ output: out, fromImage: suite.rel.v1, toImage: suite.rel.v2, artifactName: "raw-2", deviceType: ["dev-a", "dev-b"] });
  assert.equal(s.to.input, "image");
  assert.equal(mender(["validate", out]).status, 0);
  const h = await readArtifactHeaders(out);
  assert.deepEqual(h.headerInfo.deviceTypes, ["dev-a", "dev-b"]);
  assert.deepEqual(h.payloads[0]!.typeInfo.provides, { "rootfs-image.checksum": sha256File(suite.rel.v2), "rootfs-image.version": "raw-2" });
  assert.deepEqual(h.payloads[0]!.files.map((f) => f.name), ["rootfs-v2.ext4.delta"]);
  await assertDecodesToTo(out, suite.rel.v1, suite.rel.v2);
});

test("CLI without mender-artifact or xdelta3 on PATH: --json summary with sizes, checksums, ratio, time; no scratch files left", (t) => {
  if (!usable(t)) return;
  const dir = path.join(suite.work, "cli");
  fs.mkdirSync(dir);
  const out = path.join(dir, "delta.mender");
  const r = runCli(["--json", "-o", out, suite.rel.r1, suite.rel.r2], { ...process.env, PATH: "/nonexistent" });
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.artifactName, "release-2");
  assert.equal(s.artifactSize, fs.statSync(out).size);
  assert.equal(s.from.sha256, sha256File(suite.rel.v1));
  assert.equal(s.to.sha256, sha256File(suite.rel.v2));
  assert.equal(s.to.inputSize, fs.statSync(suite.rel.r2).size);
  assert.ok(Math.abs(s.ratio - s.artifactSize / s.to.inputSize) < 1e-12);
  assert.ok(s.delta.size > 0 && s.delta.sha256.length === 64);
  assert.ok(s.timeMs.total >= s.timeMs.encode);
  assert.doesNotMatch(r.stderr, /\r|\x1b/, "no progress bar when stderr is not a terminal");
  assert.deepEqual(r.stderr.split("\n").filter((l) => l !== "" && !/^(reading FROM|reading TO|encoding|writing) +\d+%$/.test(l)), [], "only progress lines on stderr");
  assert.deepEqual(fs.readdirSync(dir), ["delta.mender"]);
});

test("reproducible: the built binary and the source give byte-identical Artifacts, in both formats; a failed run leaves an existing output alone", async (t) => {
  if (!usable(t)) return;
  const a = path.join(suite.work, "repro-a.mender");
  for (const format of ["vcdiff", "mbdf"]) {
    const one = path.join(suite.work, `repro-${format}-1.mender`);
    // Windows of 1 MiB, so the threads really split the work; xz blocks of 4 KiB, so they split the xz too.
    const s = await generateAny({ output: one, deltaFormat: format, threads: "1", decoderArgs: "-W1048576", xzBlockSize: "4096" }, suite.rel.r1, suite.rel.r2);
    if (format === "vcdiff") assert.equal(s.delta.windows, 4);
    else assert.ok(s.delta.mbdf!.records.vcdiff.count >= 2, `VCDIFF pieces: ${JSON.stringify(s.delta.mbdf?.records)}`);
    const exe = binaryPath(HOST_TARGET, "mender-binary-delta-generator");
    if (fs.existsSync(exe)) {
      const b = path.join(suite.work, `repro-${format}-2.mender`);
      const r = runBinary(HOST_TARGET, "mender-binary-delta-generator", ["--delta-format", format, "--threads", "2", "--xz-block-size", "4096", "-D", "-W1048576", "-o", b, suite.rel.r1, suite.rel.r2]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(sha256File(b), sha256File(one), `${format}: built binary (2 threads) = source (1 thread); a stale dist/ also differs: rebuild`);
    } else {
      process.stderr.write(`SKIPPED part: ${exe} not built\n`);
    }
    if (format === "vcdiff") fs.copyFileSync(one, a);
  }
  const before = sha256File(a);
  const wrongTo = path.join(suite.work, "repro-wrong.mender");
  await writeArtifact(wrongTo, {
    artifactName: "wrong", deviceTypes: ["test-device"],
    payload: { type: "rootfs-image", provides: { "rootfs-image.checksum": "1".repeat(64) }, files: [{ path: suite.rel.v2 }] },
  });
  await assert.rejects(generate({ output: a }, suite.rel.r1, wrongTo), /hashes to/);
  assert.equal(sha256File(a), before, "the existing output is untouched");
  assert.deepEqual(fs.readdirSync(suite.work).filter((f) => f.startsWith(".")), [], "no scratch directories left");
});

test("stderr closed by its reader (generator ... | head): exit 141, no scratch files or partial output", async (t) => {
  if (!usable(t)) return;
  const dir = path.join(suite.work, "closed-stderr");
  fs.mkdirSync(dir);
  const loader = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
  const child = spawn(process.execPath, ["--import", loader, path.join(ROOT, "src", "cli", "generator.ts"), "-o", path.join(dir, "d.mender"), suite.rel.r1, suite.rel.r2], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  // Closed before the first line: that line ("reading FROM") comes after the scratch directory is made.
  child.stderr!.destroy();
  assert.deepEqual(await exited, { code: 141, signal: null });
  assert.deepEqual(fs.readdirSync(dir), [], "nothing left behind");
});

for (const signal of ["SIGINT", "SIGHUP"] as const) {
  test(`${signal} during a run: the process ends by the signal and leaves no scratch files or partial output`, async (t) => {
    if (!usable(t)) return;
    const dir = path.join(suite.work, `interrupted-${signal}`);
    fs.mkdirSync(dir);
    const loader = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
    const child = spawn(process.execPath, ["--import", loader, path.join(ROOT, "src", "cli", "generator.ts"), "-o", path.join(dir, "d.mender"), "--threads", "1", "-D", "-W65536", suite.rel.r1, suite.rel.r2, "--", "--", "-9"], { stdio: "ignore" });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    // Interrupt as soon as the scratch directory exists (the run is then reading or encoding).
    for (let i = 0; i < 3000 && child.exitCode === null && fs.readdirSync(dir).length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    child.kill(signal);
    const end = await exited;
    if (end.signal === signal) assert.deepEqual(fs.readdirSync(dir), [], "nothing left behind");
    else assert.deepEqual([end.code, fs.readdirSync(dir)], [0, ["d.mender"]], "finished before the signal: only the complete output");
  });
}
