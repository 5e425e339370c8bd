/**
 * `npm run fuzz -- [--seconds N] [--target vcdiff|xz|artifact|mbdf|ext4] [--seed S] [--timeout MS]`:
 * fuzzes the untrusted parsers for a while (default 60 s per target, all targets), in batches of
 * inputs with a fresh seed per batch unless --seed is given. Every finding is saved as a regression
 * file under test/fuzz/regressions/<target>/, which the test suite replays. Exit code 1 when
 * something was found.
 */
import { parseArgs } from "node:util";
import { describe, emptyReport, fuzz, saveRegressions } from "./harness";
import { makeSeeds } from "./seeds";
import { TARGET_NAMES, type TargetName } from "./targets";

const BATCH = 2000;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "60" },
      target: { type: "string" },
      seed: { type: "string" },
      timeout: { type: "string", default: "10000" },
    },
  });
  const targets = values.target ? [values.target as TargetName] : [...TARGET_NAMES];
  for (const t of targets) {
    if (!(TARGET_NAMES as readonly string[]).includes(t)) {
      process.stderr.write(`unknown target '${t}' (use one of: ${TARGET_NAMES.join(", ")})\n`);
      return 2;
    }
  }
  const seconds = Number(values.seconds);
  const timeoutMs = Number(values.timeout);
  let found = 0;
  for (const target of targets) {
    const { seeds, source, verifyKey } = makeSeeds(target);
    const deadline = Date.now() + seconds * 1000;
    let seed = values.seed !== undefined ? Number(values.seed) : Date.now() >>> 0;
    const total = emptyReport();
    while (Date.now() < deadline) {
      const r = await fuzz({ target, seeds, seed, count: BATCH, source, verifyKey, xzOracle: target === "xz", timeoutMs });
      total.runs += r.runs;
      total.accepted += r.accepted;
      for (const [k, v] of Object.entries(r.typed)) total.typed[k] = (total.typed[k] ?? 0) + v;
      if (r.maxMs > total.maxMs) total.maxMs = r.maxMs;
      for (const f of r.findings) {
        process.stdout.write(`FOUND ${target} ${f.kind} (seed ${seed}, input ${f.index}): ${f.message.split("\n").slice(0, 4).join(" | ")}\n`);
      }
      for (const file of saveRegressions(target, r.findings)) process.stdout.write(`  saved ${file}\n`);
      total.findings.push(...r.findings);
      seed = (seed + 1) >>> 0;
    }
    process.stdout.write(describe(target, total) + "\n");
    found += total.findings.length;
  }
  return found > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
