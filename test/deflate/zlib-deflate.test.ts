/** Our zlib-compatible compressor against upstream zlib (Python's zlib module), level by level. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { zlibDeflate, zlibDeflateMatches } from "../../src/deflate/zlib-deflate.js";
import { gzipDeflate } from "../../src/deflate/gzip-deflate.js";
import { needTools } from "../helpers/peers.js";
import { firstDifference, inputs } from "./gzip-fixtures.js";

/** Raw deflate by the system's zlib (not Node's bundled fork): levels 1..9 of one input at once. */
function upstreamZlib(dir: string, data: Uint8Array): Uint8Array[] {
  const file = path.join(dir, "input");
  writeFileSync(file, data);
  const script =
    "import sys, zlib\n" +
    "d = open(sys.argv[1], 'rb').read()\n" +
    "for level in range(1, 10):\n" +
    "    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8)\n" +
    "    s = c.compress(d) + c.flush()\n" +
    "    sys.stdout.buffer.write(len(s).to_bytes(4, 'little') + s)\n";
  const r = spawnSync("python3", ["-c", script, file], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`python3 zlib failed: ${r.stderr}`);
  const out: Uint8Array[] = [];
  for (let at = 0; at < r.stdout.length; ) {
    const n = r.stdout.readUInt32LE(at);
    out.push(new Uint8Array(r.stdout.subarray(at + 4, at + 4 + n)));
    at += 4 + n;
  }
  return out;
}

test("zlibDeflate(data, level) equals upstream zlib's raw deflate for levels 1..9", (t) => {
  if (!needTools(t, "python3")) return;
  const dir = mkdtempSync(path.join(tmpdir(), "zlib-deflate-"));
  try {
    for (const { name, data } of inputs()) {
      const want = upstreamZlib(dir, data);
      assert.equal(want.length, 9);
      for (let level = 1; level <= 9; level++) {
        const got = zlibDeflate(data, level);
        const d = firstDifference(got, want[level - 1]!);
        assert.equal(d, -1, `${name}, level ${level}: first difference at byte ${d} of ${want[level - 1]!.length}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("zlib's and gzip's streams differ on large inputs, and each check tells them apart", () => {
  const data = inputs().find((i) => i.name === "mixed 1.2 MB")!.data;
  const z = zlibDeflate(data, 6);
  const g = gzipDeflate(data, 6);
  assert.notEqual(firstDifference(z, g), -1);
  assert.ok(zlibDeflateMatches(data, 6, z));
  assert.ok(!zlibDeflateMatches(data, 6, g));
});
