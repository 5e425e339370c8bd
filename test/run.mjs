#!/usr/bin/env node
// Runs the test files (test/**/*.test.ts) with node's test runner, TypeScript through tsx.
// Node 20's runner does not search for .ts files itself, hence this list.
//
//   node test/run.mjs [substring ...] [--node-test-option ...]
//     substrings: only the files whose path contains one of them;
//     options (e.g. --test-name-pattern='EIO'): passed on to node --test.
//
// Concurrency. Test files run in two lanes at the same time:
//   - the parallel lane: every file not listed below, up to TEST_CONCURRENCY files at once
//     (default 3: on 2 cores one file often waits for a child process or the disk);
//   - the serial lane: the files in SERIAL, one after the other.
// A file belongs in SERIAL when it attaches loop devices or runs the real Mender clients: they
// write and fsync whole partitions through the kernel's loop driver, and the clients' runs have
// timeouts; side by side they slow each other down for no gain and make those timeouts flaky. A
// file that opens a fixed network port must be listed too (or listen on port 0). Every other file
// must not depend on what another file does: its own temporary directory (mkdtemp) and mount points
// (FUSE in faulty-file.ts), no fixed paths, no writes to dist/ (test/helpers/release.ts packs the
// release archive under a lock).
// To add a serial file: add its path to SERIAL. A parallel file that takes minutes goes into LONG
// (it then starts first). TEST_CONCURRENCY=1 runs everything one by one.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";

const SERIAL = [
  "test/device/binaries.test.ts",
  "test/device/direct-source.test.ts",
  "test/device/mbdf-client.test.ts",
  "test/device/mender-client.test.ts",
  "test/device/mender-daemon.test.ts",
  "test/device/storage-guard-client.test.ts",
  "test/device/storage-guard.test.ts",
  "test/fs/ext4-mount.test.ts",
  "test/generator/client-e2e.test.ts",
  "test/device/read-write-root-client.test.ts",
  "test/reliability/fault-injection.test.ts",
];

// Files that take minutes (qemu-user, packing ~700 MB): they start first, so that the short files
// fill the gaps instead of the long ones making a tail at the end.
const LONG = [
  "test/sea.test.ts",
  "test/shipping/deb.test.ts",
  "test/generator/foreign-arch.test.ts",
  "test/shipping/yocto.test.ts",
  "test/shipping/archive.test.ts",
];

const ROOT = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith("--"));
const nodeOptions = args.filter((a) => a.startsWith("--"));
const concurrency = Number(process.env.TEST_CONCURRENCY ?? 3);

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.name.endsWith(".test.ts")) yield path.relative(ROOT, full);
  }
}

const all = [...walk(path.join(ROOT, "test"))];
const unknown = [...SERIAL, ...LONG].filter((f) => !all.includes(f));
if (unknown.length > 0) {
  process.stderr.write(`test/run.mjs: SERIAL or LONG lists files that do not exist: ${unknown.join(", ")}\n`);
  process.exit(1);
}
const files = all.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  process.stderr.write(`test/run.mjs: no test file matches ${filters.join(" ")}\n`);
  process.exit(1);
}

/** One `node --test` over `group`, `n` files at a time; resolves to its exit code. */
function lane(group, n) {
  if (group.length === 0) return Promise.resolve(0);
  const child = spawn(process.execPath, ["--import", "tsx", "--test", `--test-concurrency=${n}`, "--test-reporter=spec", ...nodeOptions, ...group],
    { cwd: ROOT, stdio: "inherit" });
  return new Promise((resolve) => child.on("close", (code) => resolve(code ?? 1)));
}

const serial = concurrency > 1 ? files.filter((f) => SERIAL.includes(f)) : [];
const parallel = files.filter((f) => !serial.includes(f))
  .sort((a, b) => (LONG.includes(a) ? LONG.indexOf(a) : LONG.length) - (LONG.includes(b) ? LONG.indexOf(b) : LONG.length));
const started = Date.now();
const [p, q] = await Promise.all([lane(parallel, Math.max(1, concurrency)), lane(serial, 1)]);
// Two runners report above, each with its own totals: this line says how both ended.
process.stdout.write(`test/run.mjs: ${parallel.length} files in the parallel lane (exit ${p}), ${serial.length} in the serial lane (exit ${q}), ` +
  `${Math.round((Date.now() - started) / 1000)} s\n`);
process.exit(p !== 0 ? p : q);
