/**
 * Encoder test vector 12 (1-11 are in encode-vectors.test.ts): a real ext4 image pair (mke2fs -d, a security update plus a new package),
 * encoded with worker threads (the eval-worker path the program uses) and on one thread: the two
 * deltas are identical, decode byte-exact with xdelta3 -d, our decoder and (checksum off) ably, and
 * after xz -9 the delta is smaller than what stock `xdelta3 -e` (LZMA secondary) makes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { encodeVcdiff } from "../../src/vcdiff/encoder/encode";
import { needTools } from "../helpers/peers";
import { assertAblyDecodes, assertOurDecoderDecodes, assertXdelta3Decodes, tempDir } from "./encode-oracles";
import { makeExt4Pair } from "./ext4-pair";

test("ext4 image pair: parallel = serial, decodes everywhere, beats stock xdelta3 after xz", async (t) => {
  if (!needTools(t, "xdelta3", "mke2fs", "xz")) return;
  const dir = tempDir(t);
  const { v1, v2 } = makeExt4Pair(dir, {
    base: ["/usr/share/perl/5.36.0/Pod", "/usr/share/perl/5.36.0/Unicode", "/usr/lib/python3.11/email", "/usr/lib/python3.11/lib-dynload"],
    added: "/usr/share/perl5/Debconf",
    imageSize: "24M",
  });
  const parallel = path.join(dir, "p.vcdiff");
  const serial = path.join(dir, "s.vcdiff");
  const stats = await encodeVcdiff(v1, v2, parallel, { threads: 2, windowSize: 1 << 20 });
  assert.equal(stats.threads, 2);
  assert.equal(stats.windows, 24);
  await encodeVcdiff(v1, v2, serial, { threads: 1, windowSize: 1 << 20 });
  assert.ok(readFileSync(parallel).equals(readFileSync(serial)), "worker and single-thread deltas differ");

  assertXdelta3Decodes(v1, parallel, v2, path.join(dir, "out"));
  await assertOurDecoderDecodes(v1, parallel, v2, path.join(dir, "out"));
  const plain = path.join(dir, "plain.vcdiff");
  await encodeVcdiff(v1, v2, plain, { threads: 2, checksum: false });
  assertAblyDecodes(readFileSync(v1), readFileSync(plain), readFileSync(v2));

  const stock = path.join(dir, "stock.vcdiff");
  assert.equal(spawnSync("xdelta3", ["-e", "-f", "-s", v1, v2, stock]).status, 0);
  const ours = spawnSync("xz", ["-9", "-T1", "-c", parallel], { maxBuffer: 1 << 28 }).stdout.length;
  const theirs = statSync(stock).size;
  t.diagnostic(`ours + xz -9: ${ours} bytes; stock xdelta3 -e: ${theirs} bytes (${(ours / theirs).toFixed(3)}x)`);
  assert.ok(ours < theirs, `ours ${ours} >= stock ${theirs}`);
});
