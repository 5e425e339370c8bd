/**
 * zstd Artifacts: written and read through Node's zlib where the runtime has it (Node 22.15+, the
 * generator's Node 24). On an older test host this file re-runs itself on the cached Node 24 that
 * the build downloads, and checks the clear error of the older runtime.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import * as zlib from "node:zlib";
import { readArtifact, writeArtifact, type ArtifactSpec } from "../../src/artifact";
import { createDecompressor } from "../../src/artifact/compression";
import { MenderDeltaError } from "../../src/errors";
import { needTools } from "../helpers/peers";
import { cachedNodePath, HOST_TARGET, ROOT } from "../helpers/targets";
import { makeFile, ok, tempDir } from "./fixtures";

const HAS_ZSTD = typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === "function";
const NODE_WITH_ZSTD = cachedNodePath(HOST_TARGET);

function spec(dir: string): ArtifactSpec {
  return {
    artifactName: "release-z",
    deviceTypes: ["qemux86-64"],
    compression: "zstd",
    payload: { type: "mender-binary-delta", provides: { "rootfs-image.version": "release-z" }, files: [{ path: makeFile(path.join(dir, "p.delta"), 300_000, 4) }] },
  };
}

if (HAS_ZSTD) {
  test(`zstd Artifact written and read back (Node ${process.versions.node}); the zstd tool decodes its members`, async (t) => {
    const dir = tempDir(t);
    const s = spec(dir);
    const out = path.join(dir, "z.mender");
    const written = await writeArtifact(out, s);
    assert.deepEqual(written.manifest.map((e) => e.name), ["data/0000/p.delta", "header.tar.zst", "version"]);
    const chunks: Uint8Array[] = [];
    const info = await readArtifact(out, { onPayloadFile: () => ({ write: (c: Uint8Array) => void chunks.push(c) }) });
    assert.equal(info.compression, "zstd");
    assert.ok(Buffer.concat(chunks).equals(readFileSync(s.payload.files[0]!.path)));
    // Deterministic with zstd too.
    const again = path.join(dir, "z2.mender");
    await writeArtifact(again, s);
    assert.ok(readFileSync(again).equals(readFileSync(out)));
    if (!needTools(t, "zstd", "tar")) return;
    ok("tar", ["xf", out, "-C", dir, "data/0000.tar.zst"]);
    ok("zstd", ["-q", "-d", "-f", path.join(dir, "data/0000.tar.zst"), "-o", path.join(dir, "data.tar")]);
    ok("tar", ["xf", path.join(dir, "data.tar"), "-C", dir, "--transform", "s/^/x-/"]);
    const sha = (f: string): string => createHash("sha256").update(readFileSync(f)).digest("hex");
    assert.equal(sha(path.join(dir, "x-p.delta")), written.payloadFiles[0]!.sha256);
  });
} else {
  test(`Node ${process.versions.node} has no zstd: writing and reading zstd fail with a clear error`, async (t) => {
    const dir = tempDir(t);
    await assert.rejects(writeArtifact(path.join(dir, "z.mender"), spec(dir)), (err) => {
      assert.ok(err instanceof MenderDeltaError);
      assert.match(err.message, /no zstd \(Node 22\.15\+ has it\).*gzip.*Mender client 3\.5/);
      return true;
    });
    assert.equal(existsSync(path.join(dir, "z.mender")), false);
    assert.throws(() => createDecompressor("zstd"), /cannot read zstd: this program runs on Node/);
  });

  test("zstd on the generator's runtime (cached Node 24): this file re-run there", (t) => {
    if (!existsSync(NODE_WITH_ZSTD)) {
      const msg = `no cached Node 24 at ${NODE_WITH_ZSTD} (run a build first)`;
      if (process.env.REQUIRE_PEERS === "1") throw new Error(msg);
      process.stderr.write(`SKIPPED: ${msg}\n`);
      t.skip(msg);
      return;
    }
    // Without NODE_TEST_CONTEXT the child reports in plain text instead of to this runner.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(NODE_WITH_ZSTD, ["--import", "tsx", "--test", "--test-reporter=spec", __filename], { cwd: ROOT, env, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /zstd Artifact written and read back \(Node 24/);
  });
}
