/**
 * `mender-binary-delta apply` with MBDF deltas, end to end through the CLI entry (src/cli/device.ts
 * by tsx, as test/vcdiff/apply-cli.test.ts runs it): the format is told by its first bytes, from a
 * file or standard input; a newer version, a damaged record or a wrong source leaves NEW untouched.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { buildReadSet, encodeReadSetAppHeader } from "../../src/vcdiff/format/read-set";
import { makeImage, scratchDir } from "../vcdiff/helpers";
import { algorithmOfMagic, sniffDelta } from "../../src/delta/sniff";
import { mbdfTargetSize } from "../../src/delta/mbdf/target-size";
import { concat, inChunks, MemorySource, Rng, sha256 } from "./mbdf-helpers";

const ROOT = path.resolve(__dirname, "..", "..");

function apply(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/device.ts", "apply", "-q", ...args], { cwd: ROOT, input, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("apply: an MBDF delta from a file and from standard input; refusals leave NEW as it was", () => {
  const dir = scratchDir("mbdf-apply");
  const old = makeImage(12, 300_000);
  const rng = new Rng(5);
  const edited = old.slice(100_000, 180_000);
  for (let i = 0; i < edited.length; i += 211) edited[i] = edited[i]! ^ 0x40;
  const neu = concat([old.subarray(0, 100_000), edited, rng.bytes(5000), new Uint8Array(20_000)]);
  // The read set names the source bytes the records read: the COPY's and the APPROX's extent.
  const readSet = encodeReadSetAppHeader(buildReadSet([[0, 180_000]], new MemorySource(old)));
  const w = new MbdfWriter({ targetSize: neu.length, sourceSize: old.length, targetSha256: sha256(neu), readSet });
  w.copy(0, neu.subarray(0, 100_000));
  w.approx([{ sourceOffset: 100_000, length: 80_000 }], approximateDiff(old.subarray(100_000, 180_000), edited), edited);
  w.literal(neu.subarray(180_000, 185_000));
  w.zero(20_000);
  w.end();
  const delta = w.bytes();
  const oldFile = path.join(dir, "old.img");
  const deltaFile = path.join(dir, "delta.mbdf");
  const target = path.join(dir, "new.img");
  fs.writeFileSync(oldFile, old);
  fs.writeFileSync(deltaFile, delta);

  let r = apply(["--source", oldFile, "--delta", deltaFile, "--target", target]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${target}: ${neu.length} bytes written from 4 MBDF records\n`);
  assert.ok(fs.readFileSync(target).equals(Buffer.from(neu)));
  fs.rmSync(target);
  r = apply(["--source", oldFile, "--delta", "-", "--target", target], delta);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.readFileSync(target).equals(Buffer.from(neu)));

  // A source that differs outside the read set: noted, applied all the same.
  const elsewhere = Buffer.from(old);
  elsewhere[250_000] = elsewhere[250_000]! ^ 1;
  fs.writeFileSync(path.join(dir, "elsewhere.img"), elsewhere);
  fs.rmSync(target);
  r = apply(["--source", path.join(dir, "elsewhere.img"), "--delta", deltaFile, "--target", target]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.readFileSync(target).equals(Buffer.from(neu)));

  const refusals: [string, Uint8Array, string, number, RegExp][] = [
    ["a newer format version", concat([delta.subarray(0, 4), Uint8Array.of(2), delta.subarray(5)]), oldFile, 1, /unsupported MBDF delta at the MBDF header.*format version 2/],
    ["a damaged literal", (() => { const d = delta.slice(); d[d.length - 2000] = d[d.length - 2000]! ^ 0xff; return d; })(), oldFile, 1, /invalid MBDF delta at record 2 \(target byte 180000\).*CRC-32/],
  ];
  // A source changed inside the read set: refused before anything is written, exit 3.
  const inside = Buffer.from(old);
  inside[50_000] = inside[50_000]! ^ 1;
  fs.writeFileSync(path.join(dir, "inside.img"), inside);
  refusals.push(["a source changed where the delta reads", delta, path.join(dir, "inside.img"), 3, /changed/]);
  for (const [name, bad, source, status, message] of refusals) {
    fs.writeFileSync(target, "previous content");
    fs.writeFileSync(deltaFile, bad);
    r = apply(["--source", source, "--delta", deltaFile, "--target", target]);
    assert.equal(r.status, status, `${name}: ${r.stderr}`);
    assert.match(r.stderr, /^mender-binary-delta: error: /, name);
    assert.match(r.stderr, message, name);
    assert.equal(r.stderr.trim().split("\n").length, 1, `${name}: one line on stderr`);
    assert.equal(fs.readFileSync(target, "utf8"), "previous content", `${name}: NEW untouched`);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes("tmp")), [], `${name}: no temporary file left`);
  }
});

test("the format from the first bytes, and target_size from an MBDF file's header", async () => {
  assert.equal(algorithmOfMagic(Buffer.from("MBDF\x01")), "mbdf1");
  assert.equal(algorithmOfMagic(Uint8Array.of(0xd6, 0xc3, 0xc4, 0)), "xdelta3");
  assert.equal(algorithmOfMagic(Buffer.from("MBD")), undefined);
  assert.equal(algorithmOfMagic(Uint8Array.of(0xfd, 0x37, 0x7a, 0x58)), undefined);
  // The sniffed stream gives back every byte, whatever the chunking.
  const bytes = Buffer.from("MBDF and the rest of the delta");
  for (const size of [1, 3, 100]) {
    const { algorithm, delta } = await sniffDelta(inChunks(bytes, size));
    assert.equal(algorithm, "mbdf1");
    const back: Uint8Array[] = [];
    for await (const c of delta) back.push(c);
    assert.ok(Buffer.concat(back).equals(bytes), `chunks of ${size}`);
  }
  const dir = scratchDir("mbdf-size");
  const w = new MbdfWriter({ targetSize: 300_000, sourceSize: 0, targetSha256: sha256(new Uint8Array(300_000)) });
  w.zero(300_000);
  w.end();
  fs.writeFileSync(path.join(dir, "d"), w.bytes());
  assert.equal(mbdfTargetSize(path.join(dir, "d")), 300_000);
  fs.writeFileSync(path.join(dir, "v2"), concat([w.bytes().subarray(0, 4), Uint8Array.of(2), w.bytes().subarray(5)]));
  assert.equal(mbdfTargetSize(path.join(dir, "v2")), undefined);
  assert.equal(mbdfTargetSize(path.join(dir, "missing")), undefined);
});
