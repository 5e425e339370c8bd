/**
 * The built one-file programs, for every target: x86_64 natively, aarch64 and armhf under
 * qemu-user-static. `npm test` builds them first (node build.mjs).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { TARGETS, binaryPath, runBinary, ROOT } from "./helpers/targets";
import { needBuilt, needTools } from "./helpers/peers";

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;

for (const target of TARGETS) {
  for (const program of target.programs) {
    const exe = binaryPath(target, program);
    test(`${target.arch} ${program}`, async (t) => {
      if (!needBuilt(t, exe)) return;
      if (target.run.length > 0 && !needTools(t, target.run[0]!)) return;

      await t.test("--version prints '<program> <version>', exit 0, nothing on stderr", () => {
        const r = runBinary(target, program, ["--version"]);
        assert.equal(r.stderr, "");
        assert.equal(r.status, 0);
        assert.equal(r.stdout, `${program} ${VERSION}\n`);
      });

      await t.test("--help teaches usage, exit 0, nothing on stderr", () => {
        const r = runBinary(target, program, ["--help"]);
        assert.equal(r.stderr, "");
        assert.equal(r.status, 0);
        assert.match(r.stdout, /Usage:/);
        assert.match(r.stdout, new RegExp(`${program} ${VERSION.replace(/\./g, "\\.")}`));
      });

      await t.test("an unknown option is a usage error: exit 2, one hint on stderr", () => {
        const r = runBinary(target, program, ["--no-such-option"]);
        assert.equal(r.status, 2);
        assert.equal(r.stdout, "");
        assert.equal(r.stderr, `${program}: unknown option '--no-such-option'\nRun '${program} --help' for usage.\n`);
      });

      if (program === "mender-binary-delta") {
        await t.test("an unknown command is a usage error: exit 2", () => {
          const r = runBinary(target, program, ["no-such-command"]);
          assert.equal(r.status, 2);
          assert.equal(r.stdout, "");
          assert.match(r.stderr, /unknown command 'no-such-command'\nRun 'mender-binary-delta --help' for usage\.\n$/);
        });
      } else {
        await t.test("an incomplete command line is a usage error: exit 2", () => {
          // The generator's words are FROM and TO: one Artifact and no -o is not enough.
          const r = runBinary(target, program, ["only-one.mender"]);
          assert.equal(r.status, 2);
          assert.equal(r.stdout, "");
          assert.match(r.stderr, /^mender-binary-delta-generator: .*\nRun 'mender-binary-delta-generator --help' for usage\.\n$/);
        });
      }

      await t.test("selftest: an eval worker thread round-trips data", () => {
        const r = runBinary(target, program, ["selftest"]);
        assert.equal(r.stderr, "");
        assert.equal(r.status, 0);
        const report = JSON.parse(r.stdout) as Record<string, unknown>;
        assert.equal(report.worker, "ok");
        assert.equal(report.program, program);
        assert.equal(report.node, `v${target.nodeVersion}`);
        // Built-in runtime flags (build.mjs RUNTIME_FLAGS): only Node 22 and later honour them.
        const flagged = program === "mender-binary-delta" && Number(target.nodeVersion.split(".")[0]) >= 22;
        assert.deepEqual(report.flags, flagged ? ["--v8-pool-size=1", "--no-concurrent-recompilation"] : []);
      });

      if (program === "mender-binary-delta") {
        await t.test("an Update Module state it does not know: exit 0, no output", () => {
          const tree = mkdtempSync(path.join(tmpdir(), "mbd-tree-"));
          try {
            const r = runBinary(target, program, ["SomeFutureState", tree]);
            assert.equal(r.status, 0);
            assert.equal(r.stdout, "");
            assert.equal(r.stderr, "");
          } finally {
            rmSync(tree, { recursive: true, force: true });
          }
        });
      }
    });
  }
}
