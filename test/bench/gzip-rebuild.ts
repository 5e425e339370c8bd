/**
 * How many .gz files of a root filesystem tree our gzip-compatible compressor rebuilds byte for
 * byte, and its speed next to `gzip -9` on the same content.
 *   npx tsx test/bench/gzip-rebuild.ts [tree=~/.cache/mbd-corpus/trees/amd64-upgrade]
 * Speed is CPU time (user + system; the machine is shared): ours over every rebuilt file's
 * content at its level, gzip -9 over the same content concatenated into one file (one process,
 * so its start-up cost does not count against it).
 */
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { findRebuild, gunzipSingleMember } from "../../src/deflate/find-rebuild.js";
import { zlibDeflateMatches } from "../../src/deflate/zlib-deflate.js";
import { gzipDeflate } from "../../src/deflate/gzip-deflate.js";

const tree = process.argv[2] ?? path.join(homedir(), ".cache/mbd-corpus/trees/amd64-upgrade");
if (!existsSync(tree)) {
  process.stderr.write(`gzip-rebuild: no tree at ${tree} (test/bench/corpus/make-corpus.sh makes it, or name one)\n`);
  process.exit(1);
}

function* gzFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* gzFiles(p);
    else if (e.isFile() && e.name.endsWith(".gz")) yield p;
  }
}

function cpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

const levels = new Map<string, number>();
const failed: string[] = [];
const contents: Uint8Array[] = [];
/** The rebuilt files gzip's compressor reproduced: content and raw stream. */
const streams: { data: Uint8Array; stream: Uint8Array }[] = [];
let files = 0;
let gzBytes = 0;
let rebuiltGzBytes = 0;
const t0 = cpu();
for (const f of gzFiles(tree)) {
  if (!lstatSync(f).isFile()) continue;
  const gz = new Uint8Array(readFileSync(f));
  files++;
  gzBytes += gz.length;
  const r = findRebuild(gz);
  if (r) {
    const key = `${r.compressor} -${r.level}`;
    levels.set(key, (levels.get(key) ?? 0) + 1);
    rebuiltGzBytes += gz.length;
    const m = gunzipSingleMember(gz)!;
    contents.push(m.data);
    if (r.compressor === "gzip") streams.push({ data: m.data, stream: gz.subarray(m.bodyStart, gz.length - 8) });
  } else failed.push(f);
}
const searchSeconds = cpu() - t0;
const rebuilt = files - failed.length;
console.log(`tree ${tree}`);
console.log(`.gz files: ${files} (${(gzBytes / 1e6).toFixed(1)} MB); rebuilt byte for byte: ${rebuilt} (${((100 * rebuilt) / files).toFixed(1)} %, ${((100 * rebuiltGzBytes) / gzBytes).toFixed(1)} % of the bytes)`);
console.log(`compressor and level found: ${[...levels].sort().map(([l, n]) => `${l}: ${n}`).join(", ")}`);
console.log(`search time (inflate + tries): ${searchSeconds.toFixed(1)} s CPU`);
{
  // Which deflate implementation covers more of these streams: zlib's alone, at any level?
  let zlibToo = 0;
  for (const { data, stream } of streams) {
    for (let level = 1; level <= 9; level++) {
      if (zlibDeflateMatches(data, level, stream)) {
        zlibToo++;
        break;
      }
    }
  }
  console.log(`of the ${streams.length} gzip-made ones, zlib's deflate (any level) alone rebuilds: ${zlibToo}`);
}
for (const f of failed.slice(0, 20)) console.log(`  not rebuilt: ${path.relative(tree, f)}`);
if (failed.length > 20) console.log(`  ... and ${failed.length - 20} more`);

const total = contents.reduce((s, c) => s + c.length, 0);
const all = new Uint8Array(total);
contents.reduce((at, c) => (all.set(c, at), at + c.length), 0);
const dir = mkdtempSync(path.join(tmpdir(), "gzip-rebuild-"));
try {
  const file = path.join(dir, "all");
  writeFileSync(file, all);
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    const t = cpu();
    for (const c of contents) gzipDeflate(c, 9);
    best = Math.min(best, cpu() - t);
  }
  let gzipBest = Infinity;
  for (let run = 0; run < 3; run++) {
    const t = spawnSync("bash", ["-c", `TIMEFORMAT='%U %S'; time gzip -9 -c '${file}' >/dev/null`], { encoding: "utf8" });
    if (t.status !== 0) throw new Error(`gzip -9 failed: ${t.stderr}`);
    const [u, s] = t.stderr.trim().split(/\s+/).map(Number);
    gzipBest = Math.min(gzipBest, u! + s!);
  }
  const mb = total / 1e6;
  console.log(`compression of the rebuilt files' content (${mb.toFixed(1)} MB) at -9, CPU time, best of 3:`);
  console.log(`  ours   : ${best.toFixed(2)} s = ${(mb / best).toFixed(1)} MB/s`);
  console.log(`  gzip -9: ${gzipBest.toFixed(2)} s = ${(mb / gzipBest).toFixed(1)} MB/s  (ours at ${((100 * gzipBest) / best).toFixed(0)} % of gzip's speed)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
