/**
 * Throughput of our xz decoder next to `xz -d` on the same files, as a ratio.
 *   npx tsx test/bench/xz.ts [MiB=24] [file.xz ...]
 * Without files it compresses generated mixed data (text, random runs, zeros, far repeats) with
 * xz -0, -6 and -9. Each measurement is the best of 3 runs in CPU time (the build machine is
 * shared, so wall time is noise); output is discarded (not written).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { XzDecoder } from "../../src/compress/xz.js";
import { mixedData } from "../compress/xz-fixtures.js";

const RUNS = 3;

/** CPU seconds (user + system): the machine is shared, so wall time says little. */
function ours(file: Buffer): { seconds: number; bytes: number } {
  let best = Infinity;
  let bytes = 0;
  const out = new Uint8Array(1 << 20);
  for (let run = 0; run < RUNS; run++) {
    const t0 = process.cpuUsage();
    const d = new XzDecoder();
    d.push(file);
    bytes = 0;
    for (;;) {
      const n = d.readInto(out, 0, out.length);
      if (n === 0) break;
      bytes += n;
    }
    d.end();
    const used = process.cpuUsage(t0);
    best = Math.min(best, (used.user + used.system) / 1e6);
  }
  return { seconds: best, bytes };
}

/** CPU seconds of `xz -d` as GNU time reports them. */
function xzCli(name: string): number {
  let best = Infinity;
  for (let run = 0; run < RUNS; run++) {
    const r = spawnSync("/usr/bin/time", ["-f", "%U %S", "sh", "-c", `xz -d -c -T1 '${name}' > /dev/null`], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`xz -d failed: ${r.stderr}`);
    const [user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number) as [number, number];
    best = Math.min(best, user + sys);
  }
  return best;
}

const args = process.argv.slice(2);
const mib = args[0] && /^\d+$/.test(args[0]) ? Number(args.shift()) : 24;
const dir = mkdtempSync(path.join(tmpdir(), "xz-bench-"));
try {
  const files: Array<[string, string]> = args.map((f) => [path.basename(f), f]);
  if (files.length === 0) {
    const data = mixedData(mib << 20, 1);
    for (const preset of ["-0", "-6", "-9"]) {
      const name = path.join(dir, `mixed${preset}.xz`);
      const r = spawnSync("xz", [preset, "-T1", "-c"], { input: data, maxBuffer: 1 << 30 });
      writeFileSync(name, r.stdout);
      files.push([`${mib} MiB mixed, xz ${preset}`, name]);
    }
  }
  console.log(`node ${process.version}, best of ${RUNS}, CPU time`);
  for (const [label, name] of files) {
    const file = readFileSync(name);
    const o = ours(file);
    const x = xzCli(name);
    const mbs = (s: number) => (o.bytes / 1e6 / s).toFixed(1);
    console.log(`${label}: ${(file.length / 1e6).toFixed(2)} MB -> ${(o.bytes / 1e6).toFixed(1)} MB | ours ${mbs(o.seconds)} MB/s | xz -d ${mbs(x)} MB/s | ratio ${(x / o.seconds).toFixed(2)}x`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
