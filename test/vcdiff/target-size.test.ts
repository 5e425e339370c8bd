/**
 * deltaTargetSize: the new image's size from a delta file's window headers alone (what `apply`
 * checks a block device against before writing), and undefined whenever it cannot be told
 * reliably, so that the decoder reports the problem itself.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { needTools } from "../helpers/peers";
import { deltaTargetSize } from "../../src/vcdiff/decoder/target-size";
import { makeImage, mutateImage, scratchDir, xdelta3Encode } from "./helpers";

test("the sum of the windows' target lengths, for stock xdelta3 deltas (LZMA, DJW, none, with an application header)", (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = scratchDir("target-size");
  const old = makeImage(31, 600_000);
  const neu = mutateImage(old, 32);
  for (const flags of [["-W", "65536"], ["-S", "djw", "-W", "131072"], ["-S", "none"], ["-A=app-header", "-W", "65536"]]) {
    const file = path.join(dir, `d${flags.join("")}`);
    fs.writeFileSync(file, xdelta3Encode(dir, old, neu, flags));
    assert.equal(deltaTargetSize(file), neu.length, flags.join(" "));
  }
});

test("undefined for a cut, padded or foreign file, a missing file and a FIFO (whose bytes a pre-read would consume)", (t) => {
  if (!needTools(t, "xdelta3", "mkfifo")) return;
  const dir = scratchDir("target-size-bad");
  const old = makeImage(33, 300_000);
  const delta = xdelta3Encode(dir, old, mutateImage(old, 34), ["-W", "65536"]);
  const write = (name: string, bytes: Uint8Array): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  };
  assert.equal(deltaTargetSize(write("cut", delta.subarray(0, delta.length - 10))), undefined);
  assert.equal(deltaTargetSize(write("padded", Buffer.concat([delta, Buffer.alloc(3)]))), undefined);
  assert.equal(deltaTargetSize(write("text", Buffer.from("not a delta\n"))), undefined);
  assert.equal(deltaTargetSize(path.join(dir, "missing")), undefined);
  // Not even opened: with no writer, opening it for reading would block this test forever.
  const fifo = path.join(dir, "fifo");
  execFileSync("mkfifo", [fifo]);
  assert.equal(deltaTargetSize(fifo), undefined);
});
