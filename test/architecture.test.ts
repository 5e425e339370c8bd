/**
 * Keeps the rooms' imports one-way (docs/architecture.md): reads every relative import in src/
 * and checks it against the rules below. A new arrow back up fails here, naming file and import.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const SRC = path.join(__dirname, "..", "src");

interface Import { from: string; to: string; spec: string }

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(full);
    else if (entry.name.endsWith(".ts")) yield full;
  }
}

/** Every relative import of src/, as paths relative to src/ ("vcdiff/encoder/encode.ts"). */
function imports(): Import[] {
  const found: Import[] = [];
  const pattern = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s+)"(\.{1,2}\/[^"]*)"/gm;
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(pattern)) {
      const spec = m[1]!;
      const to = path.relative(SRC, path.resolve(path.dirname(file), spec.replace(/\.js$/, "")));
      found.push({ from: path.relative(SRC, file), to, spec });
    }
  }
  return found;
}

const within = (file: string, room: string) => file === room || file.startsWith(room + "/");

/** [importing room, room it must not import, files of that room it may still import]. */
const FORBIDDEN: [from: string, to: string, allowed?: string[]][] = [
  // The pool runs any task; the tasks and the worker program's registry depend on it, not back.
  ["workers", "vcdiff"],
  ["workers", "cli"],
  // The format is shared by both directions; neither direction needs the other.
  ["vcdiff/format", "vcdiff/decoder"],
  ["vcdiff/format", "vcdiff/encoder"],
  ["vcdiff/decoder", "vcdiff/encoder"],
  ["vcdiff/encoder", "vcdiff/decoder"],
  ["vcdiff/decoder", "workers"],
  // The device program never carries the generator, and the codec knows neither program.
  ["device", "generator"],
  // Both programs share the delta Artifact's names through delta/contract.ts, not each other.
  ["generator", "device"],
  // The contract and the decoder registry sit below both programs.
  ...["delta", "filediff", "deflate"].flatMap((low): [string, string][] => ["cli", "device", "generator"].map((high) => [low, high])),
  ...["vcdiff", "io", "fs", "compress", "artifact", "workers"].flatMap((low): [string, string][] =>
    ["cli", "device", "generator", "demo"].map((high) => [low, high])),
  ["io", "vcdiff"],
  ["device", "cli"],
  ["generator", "cli"],
];

test("imports between rooms run one way only", () => {
  const all = imports();
  const wrong = all.filter(({ from, to }) =>
    FORBIDDEN.some(([a, b, allowed = []]) => within(from, a) && within(to, b) && !allowed.includes(to)));
  assert.deepEqual(wrong.map(({ from, spec }) => `${from} imports ${spec}`), []);
});

test("the import scan sees the arrows that do exist", () => {
  // Guards the scan itself: were its pattern broken, the rules above would pass on nothing.
  const seen = new Set(imports().map(({ from, to }) => `${from} -> ${to}`));
  for (const arrow of [
    "vcdiff/encoder/encode.ts -> workers/worker-lanes",
    "cli/worker.ts -> vcdiff/encoder/encode-worker",
    "cli/worker.ts -> workers/task",
    "vcdiff/decoder/decode.ts -> vcdiff/format/constants",
    "vcdiff/encoder/window-writer.ts -> vcdiff/format/constants",
  ]) assert.ok(seen.has(arrow), `expected ${arrow}`);
});
