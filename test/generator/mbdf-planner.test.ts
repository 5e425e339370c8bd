/**
 * `--delta-format mbdf`: the generator's file-aware delta between two small ext4 images made by
 * mke2fs -d (update-pair.ts: a changed binary, a changed .gz made by `gzip -9n`, an unchanged file,
 * new and removed ones, a metadata change). The delta applies to exactly TO, uses APPROX and
 * REDEFLATE records, and its Artifact is smaller than the VCDIFF one of the same pair.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readArtifactHeaders } from "../../src/artifact";
import { generate, sha256File } from "./fixtures";
import { makeUpdatePair } from "./update-pair";
import { needTools } from "../helpers/peers";
import { scratchDir } from "../vcdiff/helpers";

const ROOT = path.resolve(__dirname, "..", "..");

function payloadOf(artifact: string, out: string): string {
  execFileSync("sh", ["-c", `tar -xOf "$1" data/0000.tar.xz | xz -dc | tar -xO > "$2"`, "sh", artifact, out]);
  return out;
}

test("--delta-format mbdf: APPROX and REDEFLATE records, applies to TO, smaller than VCDIFF", async (t) => {
  if (!needTools(t, "mke2fs", "gzip", "xz", "tar")) return;
  const dir = scratchDir("mbdf-planner");
  const { from, to } = makeUpdatePair(dir);

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
