/**
 * What executable-aware prediction saves on a corpus pair's changed ELF files of an architecture EXEC
 * knows (read only; the pair from $CORPUS or ~/.cache/mbd-corpus-u, test/bench/corpus/make-corpus.sh
 * with B_EXTRA=apt; the arm64 pair: CORPUS=~/.cache/mbd-corpus-arm, F1-arm64-minbase F2-arm64-upgrade;
 * an armhf pair: CORPUS=~/.cache/mbd-corpus-armhf, F1-armhf-minbase F2-armhf-upgrade):
 *   npx tsx test/bench/exec-diff.ts [FROM TO]        (image names, default A1-minbase B2-upgrade)
 * Per changed ELF file of at least 4 KiB that the planner would diff (paired, changed, not
 * compressed): the fast-xz size of its approximate diff's three streams without and with
 * prediction (compress/xz-size.ts; execDiff, which applies each predicted diff again as the device does), the
 * references found in the old file and the time; then the totals.
 */
import os from "node:os";
import path from "node:path";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { architectureOfMachine } from "../../src/filediff/exec/architectures";
import { execDiff } from "../../src/filediff/exec/exec-diff";
import { isLittleEndianElf } from "../../src/filediff/elf-filter";
import { Ext4FileReader, type Ext4FileList, listExt4Files, pairFiles, readExt4Layout } from "../../src/fs/ext4";
import { xzSize } from "../../src/compress/xz-size";
import { FileBlockSource } from "../../src/io/file-source";

const [fromName = "A1-minbase", toName = "B2-upgrade"] = process.argv.slice(2);
const images = path.join(process.env.CORPUS ?? path.join(os.homedir(), ".cache", "mbd-corpus-u"), "images");

function open(name: string): { files: Ext4FileList; reader: Ext4FileReader } {
  const src = new FileBlockSource(path.join(images, `${name}.ext4`));
  const layout = readExt4Layout(src);
  if (!layout) throw new Error(`${name} is not ext4`);
  const files = listExt4Files(src, layout);
  return { files, reader: new Ext4FileReader(src, files) };
}

function content(side: { files: Ext4FileList; reader: Ext4FileReader }, i: number): Uint8Array {
  const out = new Uint8Array(side.files.size[i]!);
  let at = 0;
  side.reader.forEachChunk(i, (chunk) => {
    out.set(chunk.subarray(0, out.length - at), at);
    at += chunk.length;
  });
  return out;
}

const a = open(fromName);
const b = open(toName);
const pairs = pairFiles(a.files, b.files, (side, i) => (side === "old" ? a : b).reader.contentDigest(i));
let files = 0;
let approxTotal = 0;
let predictedTotal = 0;
let bytesTotal = 0;
let diffMs = 0;
let predictMs = 0;
const rows: string[] = [];
for (let i = 0; i < b.files.count; i++) {
  const j = pairs.old[i]!;
  const size = b.files.size[i]!;
  if (j < 0 || pairs.unchanged[i] || size < 4096 || size > 16 << 20) continue;
  const neu = content(b, i);
  if (!isLittleEndianElf(neu) || !architectureOfMachine(neu[18]! | (neu[19]! << 8))) continue;
  const old = content(a, j);
  const t0 = performance.now();
  const diff = approximateDiff(old, neu);
  const t1 = performance.now();
  const approx = xzSize([diff.control, diff.differences, diff.literals]);
  const exec = execDiff(old, neu, diff, (d) => xzSize([d.control, d.differences, d.literals]));
  const predicted = exec ? xzSize([exec.diff.control, exec.diff.differences, exec.diff.literals]) : approx;
  const note = exec ? `${exec.referenceCount} references` : "no prediction";
  const t2 = performance.now();
  diffMs += t1 - t0;
  predictMs += t2 - t1;
  files++;
  bytesTotal += neu.length;
  approxTotal += approx;
  predictedTotal += Math.min(approx, predicted);
  rows.push(
    `${String(approx).padStart(8)} ${String(predicted).padStart(8)} ${(predicted / approx).toFixed(3).padStart(6)}  ${b.files.paths[i]![0]} (${neu.length} bytes; ${note})`,
  );
}
process.stdout.write(`${fromName} -> ${toName}: changed ELF files of an EXEC architecture, fast-xz bytes of the three streams\n`);
process.stdout.write("  approx predicted  ratio  file\n" + rows.join("\n") + "\n");
process.stdout.write(
  `total: ${files} files, ${bytesTotal} bytes; approx ${approxTotal}, with prediction (the smaller per file) ${predictedTotal} ` +
    `(${(100 * (1 - predictedTotal / approxTotal)).toFixed(1)} % saved); diff ${(diffMs / 1000).toFixed(1)} s, prediction ${(predictMs / 1000).toFixed(1)} s\n`,
);
