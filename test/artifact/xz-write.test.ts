/**
 * xz Artifacts written with the project's own encoder: mender-artifact 3.9 validates and reads
 * them (signed too), the xz CLI decodes their members, our reader reads them back, the bytes are
 * reproducible, and the dictionary fits the payload.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { build } from "esbuild";
import { readArtifact, writeArtifact, type ArtifactSpec } from "../../src/artifact";
import { needTools } from "../helpers/peers";
import { makeFile, makeKeys, ok, run, tempDir } from "./fixtures";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

function spec(dir: string, extra: Partial<ArtifactSpec> = {}): ArtifactSpec {
  return {
    artifactName: "release-x",
    deviceTypes: ["qemux86-64"],
    compression: "xz",
    payload: {
      type: "mender-binary-delta",
      provides: { "rootfs-image.version": "release-x" },
      metaData: { delta_algorithm: "xdelta3" },
      files: [{ path: makeFile(path.join(dir, "p.delta"), 400_000, 5) }],
    },
    ...extra,
  };
}

test("xz Artifact: mender-artifact validate/read accept it, xz decodes its members, our reader reads it back, reproducible", async (t) => {
  if (!needTools(t, "mender-artifact", "xz", "tar")) return;
  const dir = tempDir(t);
  const s = spec(dir);
  const out = path.join(dir, "x.mender");
  const written = await writeArtifact(out, s);
  assert.deepEqual(written.manifest.map((e) => e.name), ["data/0000/p.delta", "header.tar.xz", "version"]);

  ok("mender-artifact", ["validate", out]);
  const read = run("mender-artifact", ["read", out]);
  assert.equal(read.status, 0, read.stderr);
  assert.match(read.stdout, /Type:\s+mender-binary-delta/);
  assert.match(read.stdout, /delta_algorithm/);

  ok("tar", ["xf", out, "-C", dir, "data/0000.tar.xz", "header.tar.xz"]);
  ok("xz", ["-t", path.join(dir, "data/0000.tar.xz"), path.join(dir, "header.tar.xz")]);
  // The dictionary is sized to the payload (about 400 KB), not xz -9's 64 MiB.
  const list = run("xz", ["--robot", "--list", "-vv", path.join(dir, "data/0000.tar.xz")]);
  const dict = /--lzma2=dict=(\d+)KiB/.exec(list.stdout);
  assert.ok(dict, list.stdout);
  assert.equal(Number(dict[1]), 512);
  ok("xz", ["-d", "-k", path.join(dir, "data/0000.tar.xz")]);
  ok("tar", ["xf", path.join(dir, "data/0000.tar"), "-C", dir, "--transform", "s/^/x-/"]);
  assert.equal(sha(readFileSync(path.join(dir, "x-p.delta"))), written.payloadFiles[0]!.sha256);

  const chunks: Uint8Array[] = [];
  const info = await readArtifact(out, { onPayloadFile: () => ({ write: (c: Uint8Array) => void chunks.push(c) }) });
  assert.equal(info.compression, "xz");
  assert.ok(Buffer.concat(chunks).equals(readFileSync(s.payload.files[0]!.path)));

  const again = path.join(dir, "x2.mender");
  await writeArtifact(again, s);
  assert.ok(readFileSync(again).equals(readFileSync(out)), "the same spec gave different bytes");
});

test("xz Artifact signed with RSA: mender-artifact validate -k verifies it", async (t) => {
  if (!needTools(t, "mender-artifact", "openssl")) return;
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const out = path.join(dir, "xs.mender");
  await writeArtifact(out, spec(dir, { signingKey: readFileSync(keys.rsaKey) }));
  ok("mender-artifact", ["validate", "-k", keys.rsaPub, out]);
});

test("xz writer without the memory for its dictionary: a clear error that names the way out, not a crash", async (t) => {
  // Run under a virtual-memory limit that Node itself fits in but the 64 MiB dictionary's tables do
  // not (one 64 MiB part: the default's two parts of 32 MiB share a 16 MiB one, which would fit) (tsx reserves too much for such a limit, so the check runs as a small esbuild bundle).
  const dir = tempDir(t);
  const script = path.join(dir, "alloc.ts");
  writeFileSync(
    script,
    `import { createCompressor } from ${JSON.stringify(path.resolve(__dirname, "../../src/artifact/compression"))};\n` +
      `try { createCompressor("xz", 9, 64 << 20, { partSize: 64 << 20 }); console.log("allocated"); } catch (e) { console.log(String((e as Error).name), (e as Error).message); }\n`,
  );
  const bundle = path.join(dir, "alloc.js");
  await build({ entryPoints: [script], bundle: true, platform: "node", outfile: bundle, logLevel: "error" });
  const limited = run("sh", ["-c", `ulimit -v 1200000 && exec "${process.execPath}" "${bundle}"`]);
  assert.equal(limited.status, 0, limited.stderr);
  assert.match(limited.stdout, /MenderDeltaError not enough memory for the xz encoder at level 9 .*--compression-level 6.* or gzip/);
  const unlimited = run(process.execPath, [bundle]);
  assert.equal(unlimited.stdout.trim(), "allocated");
});
