/**
 * Listing and pairing the files of two ext4 images, on the corpus pairs (test/bench/corpus/
 * make-corpus.sh, found through $CORPUS or ~/.cache/mbd-corpus; read only):
 *   npx tsx test/bench/ext4-files.ts      (or: npm run bench -- ext4-files)
 * Per pair: files on each side, pieces, new files paired by each rule, the new image's file bytes
 * that are unchanged (a pure copy), changed (diffed against their pair) or new, and the time and
 * memory of listing both images and pairing (with SHA-256 of the content where a rule needs it).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type Ext4FileList,
  Ext4FileReader,
  listExt4Files,
  PAIR_NONE,
  PAIR_RULE_NAMES,
  pairFiles,
  readExt4Layout,
} from "../../src/fs/ext4";
import { FileBlockSource } from "../../src/io/file-source";

const MIB = 1024 * 1024;
const PAIRS: Array<[string, string]> = [
  ["A1-minbase", "B2-upgrade"],
  ["A1-minbase", "A2-ssh"],
];

function list(file: string): { src: FileBlockSource; files: Ext4FileList; content: Ext4FileReader } {
  const src = new FileBlockSource(file);
  const layout = readExt4Layout(src);
  if (!layout) throw new Error(`${file} is not ext4`);
  const files = listExt4Files(src, layout);
  return { src, files, content: new Ext4FileReader(src, files) };
}

/** The list's typed arrays and the characters of its paths (two bytes each, at most). */
function listBytes(files: Ext4FileList): number {
  let chars = 0;
  for (const names of files.paths) for (const p of names) chars += p.length;
  return files.inode.byteLength + files.size.byteLength + files.flags.byteLength + files.pieceStart.byteLength + files.pieces.byteLength + 2 * chars;
}

function bench(from: string, to: string): void {
  const t0 = performance.now();
  const a = list(from);
  const b = list(to);
  const t1 = performance.now();
  let hashed = 0;
  const pairs = pairFiles(a.files, b.files, (side, i) => {
    const s = side === "old" ? a : b;
    hashed += s.files.size[i]!;
    return s.content.contentDigest(i);
  });
  const t2 = performance.now();
  const byRule = [0, 0, 0, 0];
  let unchanged = 0;
  let changed = 0;
  let fresh = 0;
  for (let n = 0; n < b.files.count; n++) {
    byRule[pairs.rule[n]!]!++;
    const size = b.files.size[n]!;
    if (pairs.rule[n] === PAIR_NONE) fresh += size;
    else if (pairs.unchanged[n]) unchanged += size;
    else changed += size;
  }
  const mib = (n: number) => `${(n / MIB).toFixed(1)} MiB`;
  process.stdout.write(
    `\n${path.basename(from)} -> ${path.basename(to)}\n` +
      `  files: old ${a.files.count} (${a.files.pieces.length / 3} pieces), new ${b.files.count} (${b.files.pieces.length / 3} pieces)\n` +
      `  new files by rule: ${PAIR_RULE_NAMES.map((name, r) => `${name} ${byRule[r]}`).join(", ")}\n` +
      `  new file bytes: unchanged ${mib(unchanged)}, changed ${mib(changed)}, new ${mib(fresh)}\n` +
      `  time: listing both ${((t1 - t0) / 1000).toFixed(2)} s, pairing ${((t2 - t1) / 1000).toFixed(2)} s (hashed ${mib(hashed)})\n` +
      `  memory: both lists ${mib(listBytes(a.files) + listBytes(b.files))} (typed arrays, path characters), peak RSS ${mib(process.resourceUsage().maxRSS * 1024)}\n`,
  );
  a.src.close();
  b.src.close();
}

const images = path.join(process.env.CORPUS ?? path.join(os.homedir(), ".cache", "mbd-corpus"), "images");
let ran = 0;
for (const [from, to] of PAIRS) {
  const f = path.join(images, `${from}.ext4`);
  const t = path.join(images, `${to}.ext4`);
  if (!fs.existsSync(f) || !fs.existsSync(t)) {
    process.stdout.write(`skipped ${from} -> ${to}: no corpus images in ${images} (test/bench/corpus/make-corpus.sh makes them)\n`);
    continue;
  }
  bench(f, t);
  ran++;
}
if (ran === 0) process.stdout.write("no corpus: nothing measured\n");
