/**
 * `apply` in the built single-file binaries (dist/<arch>/mender-binary-delta, foreign arches under
 * qemu-user): the decoder on the runtimes the devices run, armhf's Node 20.11 included (LZMA
 * secondary, wasm SIMD Adler-32, stdin delta). DIST=dir selects another build output.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { needBuilt, needTools } from "../helpers/peers";
import { TARGETS, binaryPath, runBinary } from "../helpers/targets";
import { makeImage, mutateImage, scratchDir, xdelta3Encode } from "./helpers";

for (const target of TARGETS.filter((t) => t.programs.includes("mender-binary-delta"))) {
  test(`${target.arch} binary: apply a stock xdelta3 delta (LZMA, checksums), from a file and from stdin`, (t) => {
    if (!needTools(t, "xdelta3", ...target.run.slice(0, 1))) return;
    const bin = binaryPath(target, "mender-binary-delta");
    if (!needBuilt(t, bin)) return;
    const dir = scratchDir(`apply-${target.arch}`);
    const old = makeImage(11, 600_000);
    const neu = mutateImage(old, 12);
    const delta = xdelta3Encode(dir, old, neu, ["-W", "65536"]);
    const oldFile = path.join(dir, "old");
    const deltaFile = path.join(dir, "delta");
    fs.writeFileSync(oldFile, old);
    fs.writeFileSync(deltaFile, delta);
    for (const [name, args, input] of [
      ["file", ["--delta", deltaFile], undefined],
      ["stdin", ["--delta", "-"], Buffer.from(delta)],
    ] as const) {
      const out = path.join(dir, `new-${name}`);
      const r = runBinary(target, "mender-binary-delta", ["apply", "--source", oldFile, ...args, "--target", out], { input });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(fs.readFileSync(out).equals(Buffer.from(neu)), `${name}: output differs`);
    }
    // A wrong source (every byte differs) is refused with exit code 3 (host only: qemu runs are slow).
    if (target.run.length > 0) return;
    fs.writeFileSync(oldFile, old.map((b) => b ^ 0x55));
    const r = runBinary(target, "mender-binary-delta", ["apply", "--source", oldFile, "--delta", deltaFile, "--target", path.join(dir, "x")]);
    assert.equal(r.status, 3, r.stderr);
  });
}
