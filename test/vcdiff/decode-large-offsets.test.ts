/**
 * Source positions beyond 2^31 and 2^32: a sparse 5 GiB source file with data
 * near its end, a hand-made delta copying from there, checked against `xdelta3 -d` too. Catches
 * `<<` / `|0` arithmetic anywhere on the source path.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { FileBlockSource } from "../../src/io/file-source";
import { decodeVcdiff } from "../../src/vcdiff/decoder/decode";
import { needTools } from "../helpers/peers";
import { MemorySink, scratchDir } from "./helpers";
import { file, window } from "./vectors";

test("COPYs from source offsets above 2^31 and 2^32 (sparse 5 GiB source), same as xdelta3 -d", async (t) => {
  const dir = scratchDir("large");
  const sourceFile = path.join(dir, "source");
  const size = 5 * 2 ** 30;
  const fd = fs.openSync(sourceFile, "w");
  const marks: [number, string][] = [
    [2 ** 31 + 12345, "above-2^31"],
    [2 ** 32 - 5, "straddles-2^32"],
    [size - 8, "lastbyte"],
  ];
  for (const [at, text] of marks) fs.writeSync(fd, Buffer.from(text), 0, text.length, at);
  fs.ftruncateSync(fd, size);
  fs.closeSync(fd);

  // One window per mark: VCD_SOURCE segment at the mark, COPY of the whole segment (mode SELF 0).
  const expected = Buffer.concat(marks.map(([, text]) => Buffer.from(text)));
  const windows = marks.map(([at, text]) =>
    window({ source: [text.length, at], targetLength: text.length, inst: [0x13, text.length], addr: [0x00], checksumOf: Buffer.from(text) }),
  );
  const delta = file(windows);
  const sink = new MemorySink();
  const source = new FileBlockSource(sourceFile);
  try {
    await decodeVcdiff((async function* () {
      yield delta;
    })(), source, sink);
  } finally {
    source.close();
  }
  assert.deepEqual(Buffer.from(sink.bytes()), expected);

  if (!needTools(t, "xdelta3")) return;
  const deltaFile = path.join(dir, "delta");
  fs.writeFileSync(deltaFile, delta);
  const r = spawnSync("xdelta3", ["-d", "-c", "-s", sourceFile, deltaFile]);
  assert.equal(r.status, 0, r.stderr?.toString());
  assert.deepEqual(r.stdout, expected);
});
