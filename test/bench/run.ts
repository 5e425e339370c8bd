/**
 * `npm run bench [-- NAME ...]`: runs the benchmarks in this folder (all, or those named, e.g.
 * `decode`, `encode`). Each prints its numbers next to the peer tools run in the same invocation.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";

// A *.test.ts here tests a benchmark's helpers (test/run.mjs runs it); it is no benchmark.
const available = readdirSync(__dirname)
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown benchmark ${unknown.join(", ")}; available: ${available.join(", ")}\n`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : available) {
  process.stdout.write(`\n=== bench: ${name} ===\n`);
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(__dirname, `${name}.ts`)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
