/**
 * `--delta-format mbdf`: the generator's file-aware delta between two small ext4 images made by
 * mke2fs -d (a changed binary, a changed .gz made by `gzip -9n`, an unchanged file, a new and a
 * removed one). The delta applies to exactly TO, uses APPROX and REDEFLATE records, and its
 * Artifact is smaller than the VCDIFF one of the same pair.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readArtifactHeaders } from "../../src/artifact";
import { generate, sha256File } from "./fixtures";
import { Rng } from "../vcdiff/helpers";
import { needTools } from "../helpers/peers";
import { scratchDir } from "../vcdiff/helpers";

const ROOT = path.resolve(__dirname, "..", "..");
const BINARY = "/usr/bin/tar";

/** Text that compresses like a changelog: lines of words from a small vocabulary. */
function text(rng: Rng, lines: number): string {
  const words = ["update", "fix", "security", "package", "release", "version", "build", "kernel", "library", "patch", "memory", "overflow"];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const n = 4 + rng.below(8);
    const line: string[] = [`${i}:`];
    for (let k = 0; k < n; k++) line.push(words[rng.below(words.length)]!);
    out.push(line.join(" "));
  }
  return `${out.join("\n")}\n`;
}

function put(root: string, rel: string, data: string | Uint8Array): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
}

function gzip9n(root: string, rel: string, data: string): void {
  put(root, rel.replace(/\.gz$/, ""), data);
  execFileSync("gzip", ["-9n", path.join(root, rel.replace(/\.gz$/, ""))]);
}

function image(dir: string, name: string, fill: (root: string) => void): string {
  const root = path.join(dir, `${name}.d`);
  fs.rmSync(root, { recursive: true, force: true });
  fill(root);
  const file = path.join(dir, `${name}.ext4`);
  fs.rmSync(file, { force: true });
  execFileSync("truncate", ["-s", "8M", file]);
  execFileSync("mke2fs", ["-q", "-t", "ext4", "-b", "4096", "-F", "-d", root, "-U", "11111111-2222-3333-4444-555555555555", "-E", "hash_seed=11111111-2222-3333-4444-555555555555", file], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: "1600000000" },
  });
  return file;
}

function payloadOf(artifact: string, out: string): string {
  execFileSync("sh", ["-c", `tar -xOf "$1" data/0000.tar.xz | xz -dc | tar -xO > "$2"`, "sh", artifact, out]);
  return out;
}

test("--delta-format mbdf: APPROX and REDEFLATE records, applies to TO, smaller than VCDIFF", async (t) => {
  if (!needTools(t, "mke2fs", "gzip", "xz", "tar")) return;
  const dir = scratchDir("mbdf-planner");
  // mke2fs -d stores all-zero blocks as holes; a file record needs its file in one run of the image.
  const binary = fs.readFileSync(BINARY);
  for (let at = 0; at < binary.length; at += 4096) if (binary.subarray(at, at + 4096).every((b) => b === 0)) binary[at] = 1;
  const rng = new Rng(7);
  const changelog = text(rng, 6000);
  const same = rng.bytes(64 * 1024);
  const removed = rng.bytes(20_000);
  const from = image(dir, "from", (root) => {
    put(root, "usr/bin/tool", binary);
    gzip9n(root, "usr/share/doc/changelog.gz", changelog);
    put(root, "etc/same", same);
    put(root, "opt/removed", removed);
  });
  // The new binary as a rebuild makes it: addresses all across it moved by a few bytes (a byte
  // every 61 shifted by 3, which VCDIFF must add one by one) and 300 bytes inserted in its middle.
  const patched = Buffer.from(binary);
  for (let i = 1000; i < patched.length; i += 61) patched[i] = (patched[i]! + 3) & 0xff;
  const half = patched.length >> 1;
  const newBinary = Buffer.concat([patched.subarray(0, half), Buffer.from(rng.bytes(300)), patched.subarray(half)]);
  const newChangelog = `${text(new Rng(8), 40)}${changelog.replace(/security/g, "SECURITY")}`;
  const to = image(dir, "to", (root) => {
    put(root, "usr/bin/tool", newBinary);
    gzip9n(root, "usr/share/doc/changelog.gz", newChangelog);
    put(root, "etc/same", same);
    put(root, "opt/new", rng.bytes(10_000));
  });

  const common = { fromImage: from, toImage: to, name: "release-2", deviceType: "test-device", quiet: true, rootMount: "ro" };
  const vcdiffOut = path.join(dir, "vcdiff.mender");
  const mbdfOut = path.join(dir, "mbdf.mender");
  const vcdiff = await generate({ ...common, output: vcdiffOut });
  const mbdf = await generate({ ...common, output: mbdfOut, deltaFormat: "mbdf" });

  assert.equal(vcdiff.delta.format, undefined, "a VCDIFF run's summary is as before");
  assert.equal(mbdf.delta.format, "mbdf");
  const records = mbdf.delta.mbdf!.records;
  assert.ok(records.approx.count >= 1, `APPROX records: ${JSON.stringify(records)}`);
  assert.equal(records.redeflate.count, 1, `REDEFLATE records: ${JSON.stringify(records)}`);
  const produced = Object.values(records).reduce((sum, r) => sum + r.targetBytes, 0);
  assert.equal(produced, fs.statSync(to).size, "the records produce all of TO");
  assert.ok(mbdf.artifactSize < vcdiff.artifactSize, `MBDF Artifact ${mbdf.artifactSize} bytes, VCDIFF ${vcdiff.artifactSize}`);

  const headers = await readArtifactHeaders(mbdfOut);
  assert.equal(headers.payloads[0]!.metaData?.delta_algorithm, "mbdf1");

  const target = path.join(dir, "applied.img");
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/device.ts", "apply", "-q", "--source", from, "--delta", payloadOf(mbdfOut, path.join(dir, "payload")), "--target", target], {
    cwd: ROOT, encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(sha256File(target), sha256File(to));
});

test("--delta-format: vcdiff is accepted, others and --root-mount rw with mbdf are refused", async () => {
  const { resolveOptions } = await import("../../src/generator/index.js");
  const base = { fromImage: "a", toImage: "b", name: "n", deviceType: "t", output: "/tmp/x.mender" };
  assert.equal(resolveOptions({ ...base, deltaFormat: "vcdiff" }, []).deltaFormat, "vcdiff");
  assert.equal(resolveOptions(base, []).deltaFormat, "vcdiff");
  const mbdf = resolveOptions({ ...base, deltaFormat: "mbdf" }, []);
  assert.equal(mbdf.rootMount, "ro");
  assert.match(mbdf.notes.join("\n"), /--delta-format mbdf: the delta needs FROM's exact bytes/);
  assert.throws(() => resolveOptions({ ...base, deltaFormat: "zip" }, []), /--delta-format 'zip' is unknown/);
  assert.throws(() => resolveOptions({ ...base, deltaFormat: "mbdf", rootMount: "rw" }, []), /use --root-mount ro/);
});
