/**
 * The LZMA decoder's warm-up stream (src/compress/lzma-warm-up.ts): a standard .xz file that real
 * `xz` decodes to the documented content, exactly what scripts/make-lzma-warm-up.ts makes, and a
 * warm-up that runs once per thread without ever failing the decoder it precedes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { XzDecoder } from "../../src/compress/xz-decoder";
import { decodeWarmUpStream, WARM_UP_SIZE, warmUpLzmaDecoder } from "../../src/compress/lzma-warm-up";
import { WARM_UP_STREAM_BASE64 } from "../../src/compress/lzma-warm-up-stream";
import { needTools } from "../helpers/peers";
import { makeWarmUpStream, warmUpContent } from "../../scripts/make-lzma-warm-up";

const stream = Buffer.from(WARM_UP_STREAM_BASE64, "base64");

test("the built-in stream is what the script makes, and real xz decodes it to warmUpContent()", (t) => {
  const content = warmUpContent();
  assert.equal(content.length, WARM_UP_SIZE);
  assert.ok(makeWarmUpStream().equals(stream), "src/compress/lzma-warm-up-stream.ts is stale: run npx tsx scripts/make-lzma-warm-up.ts");
  if (!needTools(t, "xz")) return;
  const r = spawnSync("xz", ["-dc"], { input: stream, maxBuffer: 1 << 20 });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(Buffer.from(r.stdout).equals(Buffer.from(content)), "xz -dc gives other bytes");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "warm-up-")), "stream.xz");
  fs.writeFileSync(file, stream);
  const list = spawnSync("xz", ["--robot", "--list", "-vv", file]).stdout.toString();
  fs.rmSync(path.dirname(file), { recursive: true });
  assert.match(list, /--lzma2=dict=4KiB/, "the dictionary is 4 KiB, so the decoder's ring wraps");
});

test("the content has what warms every path: incompressible bytes at each 4 KiB, runs, text", () => {
  const content = warmUpContent();
  for (let at = 0; at < content.length; at += 4096) {
    const head = content.subarray(at, at + 48);
    assert.ok(new Set(head).size > 32, `bytes at ${at} look random`);
  }
  assert.ok(stream.length < content.length / 3, "compressible, so most of it is matches");
  assert.ok(Buffer.from(content).includes(Buffer.alloc(100)), "a run of 100 zero bytes (long lengths)");
});

test("the warm-up decodes the whole stream in pieces, once per thread, and a decoder that fails is not an error", () => {
  const decoded = decodeWarmUpStream(() => new XzDecoder());
  assert.ok(decoded && Buffer.from(decoded).equals(Buffer.from(warmUpContent())), "the pieces make the content");
  const failing = decodeWarmUpStream(() => ({
    push() {},
    readInto() {
      throw new Error("a broken decoder");
    },
  }));
  assert.equal(failing, undefined);
  // The first XzDecoder of a thread warms up (its constructor calls it): later calls return
  // without creating a decoder.
  new XzDecoder();
  let made = 0;
  warmUpLzmaDecoder(() => {
    made++;
    return new XzDecoder();
  });
  assert.equal(made, 0, "warmed up already by the first decoder");
});
