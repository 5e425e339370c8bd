/** findRebuild: the level and header of gzip-made files, and null (never a wrong answer) otherwise. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { constants, deflateRawSync, gzipSync } from "node:zlib";
import { gunzipSync, inflateSync, unzlibSync } from "fflate";
import { findRawRebuild, findRebuild, findZlibRebuild } from "../../src/deflate/find-rebuild.js";
import { rebuildGzip, rebuildRaw, rebuildZlib } from "../../src/deflate/rebuild.js";
import { gzipCompress, gzipNoNameHeader, gzipWrap } from "../../src/deflate/gzip-member.js";
import { mixedData } from "../compress/xz-fixtures.js";
import { needTools } from "../helpers/peers.js";
import { debianGzFiles, gnuGzip, text } from "./gzip-fixtures.js";

const data = mixedData(150_000, 11);

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), "find-rebuild-"));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** findRebuild's answer, checked: when it names a level, the device's rebuild gives the file. */
function rebuild(gz: Uint8Array) {
  const r = findRebuild(gz);
  if (r) assert.deepEqual(rebuildGzip(gunzipSync(gz), r), gz, "the answer rebuilds the file");
  return r;
}

/** Python's zlib and gzip modules: upstream zlib (the system's), unlike Node's bundled fork. */
function python(script: string, data: Uint8Array): Uint8Array {
  const r = spawnSync("python3", ["-c", `import sys, zlib, gzip\nd = sys.stdin.buffer.read()\n${script}`], { input: data, maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, String(r.stderr));
  return new Uint8Array(r.stdout);
}

test("gzip -9n and gzip -1n files: their level, a header without name or time", (t) => {
  if (!needTools(t, "gzip")) return;
  withDir((dir) => {
    for (const level of [9, 1]) {
      const r = rebuild(gnuGzip(dir, data, ["-n", `-${level}`]));
      assert.ok(r, `gzip -${level}n not rebuilt`);
      assert.equal(r.level, level);
      assert.equal(r.compressor, "gzip");
      assert.equal(r.header.mtime, 0);
      assert.equal(r.header.name, null);
    }
  });
});

test("a gzip -6 file with name and time: level 6 (or one giving the same bytes), name and mtime read back", (t) => {
  if (!needTools(t, "gzip")) return;
  withDir((dir) => {
    const file = path.join(dir, "notes.txt");
    writeFileSync(file, text(120_000, 12));
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    const r0 = spawnSync("gzip", ["-6", "-k", file]);
    assert.equal(r0.status, 0, String(r0.stderr));
    const gz = new Uint8Array(readFileSync(`${file}.gz`));
    const r = rebuild(gz);
    assert.ok(r, "gzip -6 not rebuilt");
    assert.equal(r.level, 6);
    assert.equal(new TextDecoder().decode(r.header.name!), "notes.txt");
    assert.equal(r.header.mtime, Math.floor(statSync(file).mtimeMs / 1000));
  });
});

test("every level 1..9 of gzip -n is rebuilt (the level found may differ only where the bytes are equal)", (t) => {
  if (!needTools(t, "gzip")) return;
  withDir((dir) => {
    for (let level = 1; level <= 9; level++) assert.ok(rebuild(gnuGzip(dir, data, ["-n", `-${level}`])), `level ${level}`);
  });
});

test("this machine's Debian changelogs and man pages (dh_compress: gzip -9n) are rebuilt at level 9", () => {
  const files = debianGzFiles();
  assert.ok(files.length >= 2);
  for (const { name, gz } of files) assert.equal(rebuild(gz)?.level, 9, name);
});

test("Python's gzip module (zlib inside): rebuilt with zlib's compressor, its header read back", (t) => {
  if (!needTools(t, "python3")) return;
  for (const level of [9, 6, 1]) {
    const gz = python(`sys.stdout.buffer.write(gzip.compress(d, compresslevel=${level}, mtime=1234567))`, data);
    const r = rebuild(gz);
    assert.ok(r, `level ${level}`);
    assert.deepEqual([r.compressor, r.level, r.header.mtime], ["zlib", level, 1234567]);
  }
});

test("zlib-wrapped and raw streams of upstream zlib: compressor, level and header found", (t) => {
  if (!needTools(t, "python3")) return;
  for (const level of [1, 6, 9]) {
    const z = python(`sys.stdout.buffer.write(zlib.compress(d, ${level}))`, data);
    const r = findZlibRebuild(z);
    assert.deepEqual(r && [r.compressor, r.level], ["zlib", level]);
    assert.deepEqual(rebuildZlib(unzlibSync(z), r!), z);
    const raw = python(`c = zlib.compressobj(${level}, zlib.DEFLATED, -15)\nsys.stdout.buffer.write(c.compress(d) + c.flush())`, data);
    const rr = findRawRebuild(raw);
    assert.deepEqual(rr && [rr.compressor, rr.level], ["zlib", level]);
    assert.deepEqual(rebuildRaw(inflateSync(raw), rr!), raw);
  }
  assert.equal(findZlibRebuild(new Uint8Array(deflateRawSync(data))), null, "no zlib header");
  assert.equal(findRawRebuild(new TextEncoder().encode("not deflate")), null);
});

test("streams of another producer give null: zlib with memLevel 1, Z_FILTERED, Z_HUFFMAN_ONLY", () => {
  const body = mixedData(300_000, 13);
  const producers = [
    { name: "memLevel 1", opts: { level: 9, memLevel: 1 } },
    { name: "Z_FILTERED", opts: { level: 6, strategy: constants.Z_FILTERED } },
    { name: "Z_HUFFMAN_ONLY", opts: { level: 6, strategy: constants.Z_HUFFMAN_ONLY } },
  ];
  for (const { name, opts } of producers) {
    const gz = new Uint8Array(gzipSync(body, opts));
    // Same header as gzip -n writes, so that only the deflate stream can differ.
    const framed = gzipWrap(gzipNoNameHeader(9), new Uint8Array(deflateRawSync(body, opts)), body);
    assert.equal(rebuild(gz), null, `${name} (zlib's own header)`);
    assert.equal(rebuild(framed), null, `${name} (gzip -n header)`);
  }
});

test("not a rebuildable gzip member: null", () => {
  const good = gzipCompress(data, 9);
  assert.ok(rebuild(good));
  const twoMembers = new Uint8Array([...good, ...gzipCompress(data.subarray(0, 10), 9)]);
  const badCrc = good.slice();
  badCrc[badCrc.length - 6]! ^= 1;
  const withExtra = good.slice();
  withExtra[3] = 4; // FEXTRA: gzip never writes one
  for (const [name, gz] of [
    ["empty file", new Uint8Array(0)],
    ["plain text named .gz", new TextEncoder().encode("not compressed at all, just text\n")],
    ["truncated", good.subarray(0, good.length >> 1)],
    ["two members", twoMembers],
    ["wrong CRC", badCrc],
    ["FEXTRA flag", withExtra],
  ] as const) {
    assert.equal(rebuild(gz), null, name);
  }
});
