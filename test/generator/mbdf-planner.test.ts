/**
 * `--delta-format mbdf`: the generator's file-aware delta between two small ext4 images made by
 * mke2fs -d (update-pair.ts: a changed binary, a changed .gz made by `gzip -9n`, an unchanged file,
 * new and removed ones, a metadata change). The delta applies to exactly TO, uses APPROX, EXEC and
 * REDEFLATE records, and its Artifact is smaller than the VCDIFF one of the same pair.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { readArtifactHeaders } from "../../src/artifact";
import { generate, runCli, sha256File } from "./fixtures";
import { ext4Image, makeUpdatePair } from "./update-pair";
import { Rng } from "../vcdiff/helpers";
import { needTools } from "../helpers/peers";
import { scratchDir } from "../vcdiff/helpers";

const ROOT = path.resolve(__dirname, "..", "..");

function payloadOf(artifact: string, out: string): string {
  execFileSync("sh", ["-c", `tar -xOf "$1" data/0000.tar.xz | xz -dc | tar -xO > "$2"`, "sh", artifact, out]);
  return out;
}

test("MBDF (the default): APPROX, EXEC, REDEFLATE and filtered LITERAL records, applies to TO, smaller than VCDIFF", async (t) => {
  if (!needTools(t, "mke2fs", "gzip", "xz", "tar")) return;
  const dir = scratchDir("mbdf-planner");
  const { from, to } = makeUpdatePair(dir);

  const common = { fromImage: from, toImage: to, name: "release-2", deviceType: "test-device", quiet: true, rootMount: "ro" };
  const vcdiffOut = path.join(dir, "vcdiff.mender");
  const mbdfOut = path.join(dir, "mbdf.mender");
  const vcdiff = await generate({ ...common, output: vcdiffOut, deltaFormat: "vcdiff" });
  const mbdf = await generate({ ...common, output: mbdfOut });

  assert.equal(vcdiff.delta.format, undefined, "a VCDIFF run's summary is as before");
  assert.equal(mbdf.delta.format, "mbdf");
  const records = mbdf.delta.mbdf!.records;
  assert.ok(records.approx.count >= 1, `APPROX records: ${JSON.stringify(records)}`);
  assert.equal(records.exec.count, 1, `an EXEC record (Socket.so): ${JSON.stringify(records)}`);
  // The changed changelog and note (one block), the two new .gz files (contents stored).
  assert.equal(records.redeflate.count, 4, `REDEFLATE records: ${JSON.stringify(records)}`);
  if (process.arch === "x64") assert.ok(records.literal.count >= 1, `a filtered LITERAL record (the new program): ${JSON.stringify(records)}`);
  const produced = Object.values(records).reduce((sum, r) => sum + r.targetBytes, 0);
  assert.equal(produced, fs.statSync(to).size, "the records produce all of TO");
  assert.ok(mbdf.artifactSize < vcdiff.artifactSize, `MBDF Artifact ${mbdf.artifactSize} bytes, VCDIFF ${vcdiff.artifactSize}`);

  const headers = await readArtifactHeaders(mbdfOut);
  assert.equal(headers.payloads[0]!.metaData?.delta_algorithm, "mbdf1");
  assert.equal(sha256File(apply(from, payloadOf(mbdfOut, path.join(dir, "payload")), path.join(dir, "applied.img")).target), sha256File(to));
});

test("--no-executable-diffs: the same delta without its EXEC record (APPROX in its place), larger, still TO; --debug says why each file got its record", async (t) => {
  if (!needTools(t, "mke2fs", "gzip", "xz", "tar")) return;
  const dir = scratchDir("mbdf-planner-no-exec");
  const { from, to } = makeUpdatePair(dir);
  const args = (out: string): string[] => ["--from-image", from, "--to-image", to, "-n", "release-2", "-t", "test-device", "--root-mount", "ro", "-q", "--json", "-o", out];
  const withExec = runCli([...args(path.join(dir, "exec.mender")), "--debug"]);
  const without = runCli([...args(path.join(dir, "no-exec.mender")), "--no-executable-diffs", "--debug"]);
  assert.equal(withExec.status, 0, withExec.stderr);
  assert.equal(without.status, 0, without.stderr);
  const records = (r: { stdout: string }): Record<string, { count: number }> => JSON.parse(r.stdout).delta.mbdf.records;
  assert.equal(records(withExec).exec!.count, 1);
  assert.equal(records(without).exec!.count, 0, JSON.stringify(records(without)));
  assert.equal(records(without).approx!.count, records(withExec).approx!.count + 1, "Socket.so is an APPROX record instead");
  // The payloads as xz compresses them (the Artifacts' sizes are rounded to tar blocks).
  const xzBytes = (name: string): number =>
    execFileSync("xz", ["-9", "-c", payloadOf(path.join(dir, `${name}.mender`), path.join(dir, `${name}.payload`))], { maxBuffer: 64 << 20 }).length;
  assert.ok(xzBytes("no-exec") > xzBytes("exec"), `payloads as xz: ${xzBytes("no-exec")} B without EXEC, ${xzBytes("exec")} B with`);
  // The debug log: one line per changed file, the chosen record and its estimate against VCDIFF's.
  assert.match(withExec.stderr, /^mender-binary-delta-generator: debug: \/usr\/lib\/perl\/Socket\.so: EXEC ~\d+ B, VCDIFF ~\d+ B$/m);
  assert.match(without.stderr, /^mender-binary-delta-generator: debug: \/usr\/lib\/perl\/Socket\.so: APPROX ~\d+ B, VCDIFF ~\d+ B$/m);
  const quiet = runCli(args(path.join(dir, "quiet.mender")));
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /debug:/, "no debug lines without --debug");
  const payload = payloadOf(path.join(dir, "no-exec.mender"), path.join(dir, "payload"));
  assert.equal(sha256File(apply(from, payload, path.join(dir, "applied.img")).target), sha256File(to));
});

test("a changed file with holes (zero blocks mke2fs -d leaves unallocated, as in arm64 programs): an APPROX record of its data, TO exactly", async (t) => {
  if (!needTools(t, "mke2fs", "debugfs", "xz", "tar")) return;
  const dir = scratchDir("mbdf-planner-sparse");
  // A program-like file: 20 KiB of code, 64 KiB of zero padding (16 blocks: a hole), 12 KB more;
  // the new build changes a byte every 97 and moves the second part by 8 KiB (a longer hole). Its
  // 8 data blocks are stored in one run, as a record writes them.
  const rng = new Rng(41);
  const code = rng.bytes(32_480);
  const build = (a: Uint8Array, padding: number, b: Uint8Array): Uint8Array => new Uint8Array(Buffer.concat([a, new Uint8Array(padding), b]));
  const oldFile = build(code.subarray(0, 20_480), 65_536, code.subarray(20_480));
  const changed = code.slice();
  for (let i = 0; i < changed.length; i += 97) changed[i] = changed[i]! ^ 0x40;
  const newFile = build(changed.subarray(0, 20_480), 73_728, changed.subarray(20_480));
  const from = ext4Image(dir, "from", 4, (root) => {
    fs.mkdirSync(path.join(root, "usr/bin"), { recursive: true });
    fs.writeFileSync(path.join(root, "usr/bin/padded"), oldFile);
  });
  const to = ext4Image(dir, "to", 4, (root) => {
    fs.mkdirSync(path.join(root, "usr/bin"), { recursive: true });
    fs.writeFileSync(path.join(root, "usr/bin/padded"), newFile);
  });
  // The case under test: both versions are stored with a hole.
  for (const image of [from, to]) {
    const blocks = execFileSync("debugfs", ["-R", "stat /usr/bin/padded", image], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    assert.match(blocks, /\(0-4\):\d+-\d+, \(2[0-9]-2[0-9]\):\d+-\d+\n/, `a hole after block 4 in ${image}: ${blocks}`);
  }
  const out = path.join(dir, "sparse.mender");
  const r = runCli(["--from-image", from, "--to-image", to, "-n", "release-2", "-t", "test-device", "--root-mount", "ro", "-q", "--json", "--debug", "-o", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /debug: \/usr\/bin\/padded: APPROX ~\d+ B, VCDIFF ~\d+ B$/m);
  assert.equal(JSON.parse(r.stdout).delta.mbdf.records.approx.count, 1);
  const payload = payloadOf(out, path.join(dir, "payload"));
  assert.equal(sha256File(apply(from, payload, path.join(dir, "applied.img")).target), sha256File(to));
});

test("a changed arm64 program with holes (apt's cdrom method, 62 KB of padding): an EXEC record with holes, TO exactly", async (t) => {
  if (!needTools(t, "mke2fs", "debugfs", "xz", "tar")) return;
  const dir = scratchDir("mbdf-planner-sparse-exec");
  const fixture = (name: string): Buffer => gunzipSync(fs.readFileSync(path.join(ROOT, "test/filediff/fixtures", name)));
  const image = (name: string, file: Buffer): string => ext4Image(dir, name, 8, (root) => {
    fs.mkdirSync(path.join(root, "usr/lib/apt/methods"), { recursive: true });
    fs.writeFileSync(path.join(root, "usr/lib/apt/methods/cdrom"), file);
  });
  const from = image("from", fixture("cdrom.arm64.old.gz"));
  const to = image("to", fixture("cdrom.arm64.new.gz"));
  // The case under test: mke2fs -d stores the padding's zero blocks (17 to 30) as a hole; 8 MiB images keep the data in one run.
  for (const img of [from, to]) {
    const blocks = execFileSync("debugfs", ["-R", "stat /usr/lib/apt/methods/cdrom", img], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    assert.match(blocks, /EXTENTS:\n\(0-16\):\d+-\d+, \(31-32\):\d+-\d+\n/, `a hole in ${img}: ${blocks}`);
  }
  const out = path.join(dir, "sparse-exec.mender");
  const r = runCli(["--from-image", from, "--to-image", to, "-n", "release-2", "-t", "test-device", "--root-mount", "ro", "-q", "--json", "--debug", "-o", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /debug: \/usr\/lib\/apt\/methods\/cdrom: the executable-aware diff of the whole files \(1 and 1 holes\) \(~\d+ B\) is smaller than the approximate one of the data/);
  assert.match(r.stderr, /debug: \/usr\/lib\/apt\/methods\/cdrom: EXEC ~\d+ B, VCDIFF ~\d+ B$/m);
  assert.equal(JSON.parse(r.stdout).delta.mbdf.records.exec.count, 1);
  const payload = payloadOf(out, path.join(dir, "payload"));
  assert.equal(sha256File(apply(from, payload, path.join(dir, "applied.img")).target), sha256File(to));
  // Without EXEC the same file gets an APPROX record of its data: the EXEC Artifact is the smaller.
  const plain = path.join(dir, "sparse-plain.mender");
  const p = runCli(["--from-image", from, "--to-image", to, "-n", "release-2", "-t", "test-device", "--root-mount", "ro", "-q", "--json", "--no-executable-diffs", "-o", plain]);
  assert.equal(p.status, 0, p.stderr);
  assert.equal(JSON.parse(p.stdout).delta.mbdf.records.exec.count, 0);
  assert.ok(fs.statSync(out).size <= fs.statSync(plain).size, `${fs.statSync(out).size} B with EXEC, ${fs.statSync(plain).size} B without`);
});

/** `mender-binary-delta apply` of `delta` onto `source`: its exit status and stderr. */
function apply(source: string, delta: string, target: string): { status: number | null; stderr: string; target: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/device.ts", "apply", "-q", "--source", source, "--delta", delta, "--target", target], {
    cwd: ROOT, encoding: "utf8",
  });
  return { status: r.status, stderr: r.stderr, target };
}

test("MBDF for a read-write root: a read set in the header; a source changed where it does not read still applies, one changed where it reads is refused", async (t) => {
  if (!needTools(t, "mke2fs", "gzip", "xz", "tar", "debugfs")) return;
  const dir = scratchDir("mbdf-planner-rw");
  const { from, to } = makeUpdatePair(dir);
  const out = path.join(dir, "rw.mender");
  const summary = await generate({ fromImage: from, toImage: to, name: "release-2", deviceType: "test-device", quiet: true, output: out });
  assert.equal(summary.delta.format, "mbdf");
  assert.equal(summary.rootMount.rootMount, "rw");
  assert.ok((summary.rootMount.readSetBytes ?? 0) > 0, `a read set: ${JSON.stringify(summary.rootMount)}`);
  const payload = payloadOf(out, path.join(dir, "payload"));
  assert.equal(fs.readFileSync(payload).subarray(0, 4).toString("latin1"), "MBDF");

  // The device ran read-write: its superblock (mount count, times) and a free block changed.
  const drifted = path.join(dir, "drifted.ext4");
  fs.copyFileSync(from, drifted);
  const fd = fs.openSync(drifted, "r+");
  fs.writeSync(fd, Buffer.from("mounted"), 0, 7, 1024 + 0x80);
  fs.writeSync(fd, Buffer.alloc(4096, 0xee), 0, 4096, fs.statSync(drifted).size - 4096);
  fs.closeSync(fd);
  const ok = apply(drifted, payload, path.join(dir, "applied.img"));
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(sha256File(ok.target), sha256File(to));

  // A byte the delta reads (inside the old version of the rebuilt program) changed: exit 3, nothing written.
  const toolBlock = Number(/(\d+)\s*$/.exec(execFileSync("debugfs", ["-R", "bmap /usr/bin/tool 5", from], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))![1]);
  const broken = path.join(dir, "broken.ext4");
  fs.copyFileSync(from, broken);
  const bfd = fs.openSync(broken, "r+");
  fs.writeSync(bfd, Buffer.from([0x55, 0xaa]), 0, 2, toolBlock * 4096 + 100);
  fs.closeSync(bfd);
  const refused = apply(broken, payload, path.join(dir, "refused.img"));
  assert.equal(refused.status, 3, refused.stderr);
  assert.match(refused.stderr, /read set|source/);
  assert.equal(fs.existsSync(refused.target), false, "nothing written");
});

test("images that are not ext4: the delta is VCDIFF, with a warning that says why", async () => {
  const dir = scratchDir("mbdf-planner-raw");
  const from = path.join(dir, "from.img");
  const to = path.join(dir, "to.img");
  const old = Buffer.alloc(1 << 20);
  for (let i = 0; i < old.length; i++) old[i] = (i * 7919) >>> 5;
  const neu = Buffer.from(old);
  neu.write("a new release", 300_000);
  fs.writeFileSync(from, old);
  fs.writeFileSync(to, neu);
  const out = path.join(dir, "raw.mender");
  const summary = await generate({ fromImage: from, toImage: to, name: "release-2", deviceType: "test-device", quiet: true, output: out });
  assert.equal(summary.delta.format, undefined, "a VCDIFF delta");
  assert.match(summary.warnings.join("\n"), /not an ext4 image.*the delta is VCDIFF/);
  const headers = await readArtifactHeaders(out);
  assert.equal(headers.payloads[0]!.metaData?.delta_algorithm, "xdelta3");
  const decoded = path.join(dir, "decoded.img");
  execFileSync("xdelta3", ["-d", "-f", "-s", from, payloadOf(out, path.join(dir, "payload")), decoded]);
  assert.equal(sha256File(decoded), sha256File(to), "stock xdelta3 decodes it");
});

test("ext4 images this reader refuses (bigalloc; a corrupt extent tree in TO): the delta is VCDIFF, with a warning naming the image and why; rw refuses bigalloc with what to do", async (t) => {
  if (!needTools(t, "mke2fs", "gzip", "xdelta3", "tar", "xz")) return;
  const dir = scratchDir("mbdf-planner-unreadable");
  const { from, to } = makeUpdatePair(dir);
  const { readExt4Layout } = await import("../../src/fs/ext4.js");
  const { FileBlockSource } = await import("../../src/io/file-source.js");
  const vcdiffOf = async (fromImage: string, toImage: string, name: string): Promise<string[]> => {
    const out = path.join(dir, `${name}.mender`);
    const summary = await generate({ fromImage, toImage, name: "release-2", deviceType: "test-device", quiet: true, rootMount: "ro", output: out });
    assert.equal(summary.delta.format, undefined, `${name}: a VCDIFF delta`);
    assert.equal((await readArtifactHeaders(out)).payloads[0]!.metaData?.delta_algorithm, "xdelta3");
    const decoded = path.join(dir, `${name}.decoded`);
    execFileSync("xdelta3", ["-d", "-f", "-s", fromImage, payloadOf(out, path.join(dir, `${name}.payload`)), decoded]);
    assert.equal(sha256File(decoded), sha256File(toImage), `${name}: stock xdelta3 decodes it to TO`);
    return summary.warnings;
  };

  // A valid file system with a feature the reader refuses: clusters of 4 blocks.
  const bigalloc = (n: number): string => {
    const file = path.join(dir, `bigalloc-${n}.ext4`);
    execFileSync("truncate", ["-s", "8M", file]);
    execFileSync("mke2fs", ["-q", "-t", "ext4", "-O", "bigalloc", "-C", "16384", "-F", "-d", path.join(ROOT, n === 1 ? "src/vcdiff" : "src/compress"), file]);
    return file;
  };
  const [bigFrom, bigTo] = [bigalloc(1), bigalloc(2)];
  const warnings = await vcdiffOf(bigFrom, bigTo, "bigalloc");
  assert.match(warnings.join("\n"), /FROM's ext4 file system cannot be read here \(ext4: bigalloc[^\n]*\), so the delta cannot follow its files; the delta is VCDIFF/);
  // A read-write root's delta must know what the running system rewrites: refused, saying what to do (not e2fsck: nothing is wrong).
  await assert.rejects(
    generate({ fromImage: bigFrom, toImage: bigTo, name: "release-2", deviceType: "test-device", quiet: true, rootMount: "rw", output: path.join(dir, "rw.mender") }),
    (err: Error) => /^--root-mount rw: FROM's ext4 has a feature this generator does not read \(ext4: bigalloc[^\n]*--root-mount ro; else update them with the full rootfs-image Artifact$/.test(err.message),
  );
  assert.equal(fs.existsSync(path.join(dir, "rw.mender")), false, "no Artifact written");

  // TO's superblock reads, one of its inodes does not: the listing fails after the pair was accepted.
  const corrupt = path.join(dir, "corrupt-to.ext4");
  const bytes = fs.readFileSync(to);
  const src = new FileBlockSource(to);
  const layout = readExt4Layout(src)!;
  src.close();
  // Inode 12's extent header magic (the first inode table, 0x28 into the inode).
  bytes.writeUInt16LE(0x1234, layout.groups.inodeTable[0]! * layout.blockSize + 11 * layout.inodeSize + 0x28);
  fs.writeFileSync(corrupt, bytes);
  const corruptWarnings = await vcdiffOf(from, corrupt, "corrupt");
  assert.match(corruptWarnings.join("\n"), /TO's ext4 file system cannot be read here \(ext4: inode 12[^\n]*\), so the delta cannot follow its files; the delta is VCDIFF/);
});

test("--delta-format: mbdf is the default, vcdiff is accepted, others are refused; both work with either --root-mount", async () => {
  const { resolveOptions } = await import("../../src/generator/index.js");
  const base = { fromImage: "a", toImage: "b", name: "n", deviceType: "t", output: "/tmp/x.mender" };
  assert.equal(resolveOptions(base, []).deltaFormat, "mbdf");
  assert.equal(resolveOptions({ ...base, deltaFormat: "vcdiff" }, []).deltaFormat, "vcdiff");
  for (const rootMount of ["rw", "ro"]) {
    const mbdf = resolveOptions({ ...base, deltaFormat: "mbdf", rootMount }, []);
    assert.equal(mbdf.rootMount, rootMount);
    assert.deepEqual(mbdf.notes, []);
  }
  assert.throws(() => resolveOptions({ ...base, deltaFormat: "zip" }, []), /--delta-format 'zip' is unknown/);
});
