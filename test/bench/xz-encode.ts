/**
 * Our xz encoder next to the xz CLI on the same data: sizes and CPU time, as ratios.
 *   npx tsx test/bench/xz-encode.ts          (or: npm run bench -- xz-encode)
 *
 * Data: the VCDIFF delta of corpus pair A (A1-minbase -> A2-ssh from test/bench/corpus/make-corpus.sh, found
 * through $CORPUS or ~/.cache/mbd-corpus), which is what the generator compresses; without the
 * corpus, 16 MiB of generated mixed data. One run each (the optimal parser takes a while); CPU
 * seconds, since the machine is shared.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { XzEncoder, type XzEncoderOptions } from "../../src/compress/xz.js";
import { encodeVcdiff } from "../../src/vcdiff/encoder/encode.js";
import { mixedData } from "../compress/xz-fixtures.js";

function ours(data: Uint8Array, options: XzEncoderOptions): { bytes: number; cpu: number } {
  const t0 = process.cpuUsage();
  let bytes = 0;
  const enc = new XzEncoder({ sizeHint: data.length, ...options }, (b) => (bytes += b.length));
  for (let at = 0; at < data.length; at += 1 << 20) enc.write(data.subarray(at, at + (1 << 20)));
  enc.end();
  const used = process.cpuUsage(t0);
  return { bytes, cpu: (used.user + used.system) / 1e6 };
}

function cli(file: string, cmd: string): { bytes: number; cpu: number } {
  const r = spawnSync("/usr/bin/time", ["-f", "CPU %U %S", "sh", "-c", `${cmd} < '${file}' | wc -c`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr)!;
  return { bytes: Number(r.stdout.trim()), cpu: Number(m[1]) + Number(m[2]) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "xz-encode-bench-"));
  try {
    const corpus = process.env.CORPUS ?? path.join(homedir(), ".cache", "mbd-corpus");
    const a1 = path.join(corpus, "images", "A1-minbase.ext4");
    const a2 = path.join(corpus, "images", "A2-ssh.ext4");
    const file = path.join(dir, "data");
    let label: string;
    if (existsSync(a1) && existsSync(a2)) {
      await encodeVcdiff(a1, a2, file, { threads: 2 });
      label = "corpus A delta payload (VCDIFF)";
    } else {
      writeFileSync(file, mixedData(16 << 20, 5));
      label = "16 MiB generated mixed data (no corpus)";
    }
    const data = readFileSync(file);
    console.log(`${label}: ${(data.length / 1e6).toFixed(2)} MB; node ${process.version}; CPU seconds, one run each`);
    const rows: Array<[string, { bytes: number; cpu: number }]> = [
      ["ours, default (optimal parser)", ours(data, {})],
      ["ours, fast parser (levels 0-3)", ours(data, { mode: "fast" })],
      ["xz -9", cli(file, "xz -9 -T1 -c")],
      ["xz -6", cli(file, "xz -6 -T1 -c")],
      ["xz -3", cli(file, "xz -3 -T1 -c")],
      ["gzip -9", cli(file, "gzip -9 -c")],
    ];
    const base = rows[0]![1];
    for (const [name, r] of rows) {
      console.log(
        `  ${name.padEnd(32)} ${(r.bytes / 1e6).toFixed(3).padStart(8)} MB  ${r.cpu.toFixed(1).padStart(6)} s   size ours/this ${(base.bytes / r.bytes).toFixed(3)}  time ours/this ${(base.cpu / r.cpu).toFixed(2)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
