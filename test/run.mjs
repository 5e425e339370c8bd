#!/usr/bin/env node
// Runs the test files (test/**/*.test.ts) with node's test runner, TypeScript through tsx.
// Node 20's runner does not search for .ts files itself, hence this list.
//   node test/run.mjs [substring ...]   only the files whose path contains one of the substrings
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";

const ROOT = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const filters = process.argv.slice(2);

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.name.endsWith(".test.ts")) yield path.relative(ROOT, full);
  }
}

const files = [...walk(path.join(ROOT, "test"))].filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  process.stderr.write(`test/run.mjs: no test file matches ${filters.join(" ")}\n`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files], { cwd: ROOT, stdio: "inherit" });
process.exit(r.status ?? 1);
