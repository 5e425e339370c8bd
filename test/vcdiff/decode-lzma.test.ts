/**
 * Stock `xdelta3 -e` output with its default LZMA secondary compression (what Mender's tooling
 * makes): the flag matrix, multi-window files whose sections alternate between LZMA-compressed and
 * raw (< 10 bytes), chunking, and a delta of two ext4 images made exactly like Mender does
 * (`xdelta3 -e -S lzma -A -s old new`).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { needTools } from "../helpers/peers";
import { assertSameBytes, decodeBuffers, makeImage, mutateImage, Rng, scratchDir, xdelta3, xdelta3Encode, XDELTA3_FLAG_MATRIX } from "./helpers";

const OLD = makeImage(1, 1_500_000);
const NEW = mutateImage(OLD, 2);

const same = assertSameBytes;

/** Plus Mender's documented window size (150 000 bytes: not a power of two). */
const MATRIX: string[][] = [...XDELTA3_FLAG_MATRIX, ["-S", "lzma"], ["-S", "lzma", "-A", "-W", "150000"]];

test("stock xdelta3 -e (LZMA secondary) flag matrix: byte-exact", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("lzma-matrix");
  for (const flags of MATRIX) {
    const delta = xdelta3Encode(dir, OLD, NEW, flags);
    assert.equal(delta[4]! & 1, 1, `${flags.join(" ")}: secondary compression expected`);
    same(await decodeBuffers(delta, OLD), NEW);
  }
});

/** Windows in `file`, and how many have an LZMA data section (`xdelta3 printhdrs`; it omits a zero indicator). */
function countWindows(file: string): { windows: number; compressed: number } {
  const r = spawnSync("xdelta3", ["printhdrs", file], { encoding: "utf8" });
  return {
    windows: [...r.stdout.matchAll(/VCDIFF window number:/g)].length,
    compressed: [...r.stdout.matchAll(/VCDIFF delta indicator:.*VCD_DATACOMP/g)].length,
  };
}

test("multi-window LZMA: sections alternate between compressed and raw, any chunking", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("lzma-alt");
  // Unchanged stretches give windows of one COPY (sections < 10 bytes, stored raw); changed ones
  // give compressed sections. Windows of 16 KiB.
  const rng = new Rng(99);
  const target = OLD.slice(0, 400_000);
  for (let w = 0; w < 24; w += 3) target.set(rng.bytes(3000), w * 16384 + 5000);
  const delta = xdelta3Encode(dir, OLD, target, ["-W", "16384"]);
  const file = path.join(dir, "alt.vcdiff");
  fs.writeFileSync(file, delta);
  const { windows, compressed } = countWindows(file);
  assert.ok(compressed > 0 && compressed < windows, `${compressed} of ${windows} windows with LZMA data: want some of each`);
  same(await decodeBuffers(delta, OLD), target);
  same(await decodeBuffers(delta, OLD, { chunking: "bytes" }), target);
  for (const seed of [5, 6]) same(await decodeBuffers(delta, OLD, { chunking: { randomSeed: seed, max: 5000 } }), target);
});

test("LZMA without a source and after xdelta3 recode", async (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("lzma-nosrc");
  same(await decodeBuffers(xdelta3Encode(dir, null, NEW, ["-W", "65536"]), new Uint8Array(0)), NEW);
  // recode turns a plain delta into an LZMA one (and DJW9) on the same instruction mix.
  const plain = path.join(dir, "plain");
  fs.writeFileSync(plain, xdelta3Encode(dir, OLD, NEW, ["-S", "none", "-n", "-A="]));
  for (const s of ["lzma", "djw9"]) {
    const out = path.join(dir, `recoded-${s}`);
    xdelta3(["recode", "-f", "-S", s, plain, out]);
    same(await decodeBuffers(new Uint8Array(fs.readFileSync(out)), OLD), NEW);
  }
});

test("Mender-style delta of two ext4 images (mke2fs -d, xdelta3 -e -S lzma -A)", async (t) => {
  if (!needTools(t, "xdelta3", "mke2fs")) return;
  const dir = scratchDir("ext4");
  const tree = path.join(dir, "tree");
  const write = (name: string, data: Uint8Array | string) => {
    fs.mkdirSync(path.dirname(path.join(tree, name)), { recursive: true });
    fs.writeFileSync(path.join(tree, name), data);
  };
  for (let i = 0; i < 40; i++) write(`usr/lib/lib${i}.so`, makeImage(100 + i, 20_000 + i * 997));
  write("etc/os-release", "VERSION=1\n");
  const mkfs = (img: string) => {
    const r = spawnSync("mke2fs", ["-q", "-F", "-t", "ext4", "-U", "0e5b7f4a-1c52-4a4e-9d1e-0b3f2a6f9c11", "-E", "hash_seed=0e5b7f4a-1c52-4a4e-9d1e-0b3f2a6f9c12", "-d", tree, img, "6M"], {
      encoding: "utf8",
      env: { ...process.env, E2FSPROGS_FAKE_TIME: "1767225600" },
    });
    assert.equal(r.status, 0, r.stderr);
  };
  const oldImg = path.join(dir, "old.ext4");
  const newImg = path.join(dir, "new.ext4");
  mkfs(oldImg);
  write("etc/os-release", "VERSION=2\n");
  write("usr/lib/lib7.so", mutateImage(makeImage(107, 20_000 + 7 * 997), 5));
  write("usr/bin/added", makeImage(200, 50_000));
  fs.rmSync(path.join(tree, "usr/lib/lib3.so"));
  mkfs(newImg);
  const deltaFile = path.join(dir, "delta");
  // Exactly Mender's documented invocation (-A without a value: no app header).
  xdelta3(["-e", "-f", "-S", "lzma", "-A", "-s", oldImg, newImg, deltaFile]);
  const oldBytes = new Uint8Array(fs.readFileSync(oldImg));
  const newBytes = new Uint8Array(fs.readFileSync(newImg));
  assert.ok(!Buffer.from(oldBytes).equals(Buffer.from(newBytes)));
  same(await decodeBuffers(new Uint8Array(fs.readFileSync(deltaFile)), oldBytes), newBytes);
});
