/** Inputs for the deflate tests, and GNU gzip run the way Debian's packaging runs it (on files). */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "fflate";
import { mixedData, rng } from "../compress/xz-fixtures.js";

export function randomBytes(size: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(r() * 256);
  return out;
}

/** English-like text: words from a small vocabulary, lines of varying length. */
export function text(size: number, seed: number): Uint8Array {
  const r = rng(seed);
  const words = "the of package debian changelog fix security update upstream release version bug closes urgency medium".split(" ");
  let s = "";
  while (s.length < size) s += words[Math.floor(r() * words.length)] + (r() < 0.1 ? "\n  * " : " ");
  return new TextEncoder().encode(s.slice(0, size));
}

/** The `count` largest files matching `pattern` under `dir` (depth 2), uncompressed. */
function largestGz(dir: string, pattern: RegExp, count: number): { name: string; gz: Uint8Array }[] {
  const found: { file: string; size: number }[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  for (const e of entries) {
    const sub = path.join(dir, e);
    let names: string[];
    try {
      names = readdirSync(sub);
    } catch {
      continue;
    }
    for (const n of names) {
      const f = path.join(sub, n);
      if (!pattern.test(n)) continue;
      const st = statSync(f, { throwIfNoEntry: false });
      if (st?.isFile()) found.push({ file: f, size: st.size });
    }
  }
  found.sort((a, b) => b.size - a.size || a.file.localeCompare(b.file));
  return found.slice(0, count).map(({ file }) => ({ name: file, gz: new Uint8Array(readFileSync(file)) }));
}

/** Debian changelogs and man pages of this machine as their packages ship them (gzip -9n). */
export function debianGzFiles(): { name: string; gz: Uint8Array }[] {
  return [...largestGz("/usr/share/doc", /^changelog\.Debian\.gz$/, 3), ...largestGz("/usr/share/man", /\.1\.gz$/, 3)];
}

/** Named test inputs: edge sizes, text, binary, repetitive, past the 64 KiB window and past 1 MiB. */
export function inputs(): { name: string; data: Uint8Array }[] {
  const list = [
    { name: "empty", data: new Uint8Array(0) },
    { name: "1 byte", data: Uint8Array.of(0x41) },
    { name: "2 bytes", data: Uint8Array.of(0, 0) },
    { name: "text 5 KB", data: text(5000, 1) },
    { name: "random 40 KB (stored blocks)", data: randomBytes(40_000, 2) },
    { name: "random 200 KB (stored blocks after window slides)", data: randomBytes(200_000, 7) },
    { name: "text then random then text 300 KB", data: new Uint8Array([...text(100_000, 8), ...randomBytes(100_000, 9), ...text(100_000, 8)]) },
    { name: "zeros 300 KB", data: new Uint8Array(300_000) },
    { name: "period-3 repeat 200 KB", data: text(200_000, 3).map((_, i) => 97 + (i % 3)) },
    { name: "mixed 70 KB (window slide)", data: mixedData(70_000, 4) },
    { name: "mixed 1.2 MB", data: mixedData(1_200_000, 5) },
    { name: "text 1.1 MB", data: text(1_100_000, 6) },
  ];
  for (const { name, gz } of debianGzFiles()) list.push({ name, data: gunzipSync(gz) });
  return list;
}

/** `gzip <args>` of `data` written to a file in `dir`. */
export function gnuGzip(dir: string, data: Uint8Array, args: string[]): Uint8Array {
  const file = path.join(dir, "input");
  writeFileSync(file, data);
  const r = spawnSync("gzip", [...args, "-c", file], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`gzip ${args.join(" ")} failed: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}

/** Index of the first differing byte, or -1 when equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
