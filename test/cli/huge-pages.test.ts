/**
 * The built generator starts itself again with glibc's huge-page tunable where transparent huge
 * pages are in "madvise" mode (src/cli/huge-pages.ts): when it does, what the caller set is kept,
 * the output is the same bytes, and exit codes and outputs are those of one run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { hugePagesEnvironment, type HugePagesHost } from "../../src/cli/huge-pages";
import { binaryPath, HOST_TARGET, runBinary } from "../helpers/targets";
import { needBuilt } from "../helpers/peers";

const PROGRAM = "mender-binary-delta-generator";
const HOST: HugePagesHost = { platform: "linux", builtProgram: true, canExec: true, env: { PATH: "/bin" }, thpMode: "madvise", glibc: "2.36" };

test("huge pages: the tunable is added where THP is 'madvise' and nothing set it; otherwise no restart", () => {
  assert.deepEqual(hugePagesEnvironment(HOST), { PATH: "/bin", GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" });
  // Other tunables the caller set stay, in their order.
  assert.equal(hugePagesEnvironment({ ...HOST, env: { GLIBC_TUNABLES: "glibc.malloc.check=0" } })?.GLIBC_TUNABLES, "glibc.malloc.check=0:glibc.malloc.hugetlb=1");
  // The caller's own choice (0 turns it off), and the restarted process itself: no restart.
  assert.equal(hugePagesEnvironment({ ...HOST, env: { GLIBC_TUNABLES: "glibc.malloc.hugetlb=0" } }), undefined);
  assert.equal(hugePagesEnvironment({ ...HOST, env: { GLIBC_TUNABLES: "glibc.malloc.check=0:glibc.malloc.hugetlb=1" } }), undefined);
  // A longer name that merely starts like it is another tunable.
  assert.ok(hugePagesEnvironment({ ...HOST, env: { GLIBC_TUNABLES: "glibc.malloc.hugetlbx=1" } }));
  for (const thpMode of ["always", "never", undefined]) assert.equal(hugePagesEnvironment({ ...HOST, thpMode }), undefined, `THP ${thpMode}`);
  assert.equal(hugePagesEnvironment({ ...HOST, platform: "darwin" }), undefined);
  assert.ok(hugePagesEnvironment({ ...HOST, glibc: "2.35" }));
  assert.ok(hugePagesEnvironment({ ...HOST, glibc: "3.0" }));
  for (const glibc of ["2.34", "2.31", undefined, "unknown"]) assert.equal(hugePagesEnvironment({ ...HOST, glibc }), undefined, `glibc ${glibc}: no tunable to set`);
  assert.equal(hugePagesEnvironment({ ...HOST, builtProgram: false }), undefined, "a source run keeps its Node flags: not restarted");
  assert.equal(hugePagesEnvironment({ ...HOST, canExec: false }), undefined, "Node 20 (armhf) has no process.execve");
});

function thpMode(): string | undefined {
  try {
    return /\[(\w+)\]/.exec(fs.readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

test("huge pages: the built generator restarted with the tunable writes the same Artifact, its JSON and exit codes unchanged", (t) => {
  const exe = binaryPath(HOST_TARGET, PROGRAM);
  if (!needBuilt(t, exe)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-huge-"));
  try {
    const from = path.join(dir, "from.img");
    const to = path.join(dir, "to.img");
    const data = crypto.randomBytes(3 << 20);
    fs.writeFileSync(from, data);
    data.fill(7, 1 << 20, (1 << 20) + 5000);
    fs.writeFileSync(to, data);
    const run = (out: string, tunables: string | undefined, from_ = from) => {
      const env = { ...process.env };
      delete env.GLIBC_TUNABLES;
      if (tunables !== undefined) env.GLIBC_TUNABLES = tunables;
      return runBinary(HOST_TARGET, PROGRAM, ["--debug", "--json", "-q", "--from-image", from_, "--to-image", to, "-n", "r2", "-t", "dev", "-o", path.join(dir, out)], { env });
    };
    const madvise = thpMode() === "madvise";
    const plain = run("plain.mender", undefined);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal((JSON.parse(plain.stdout) as { artifactName: string }).artifactName, "r2");
    const state = plain.stderr.split("\n").find((l) => l.includes("transparent huge pages"));
    assert.ok(state, `no huge-page line in --debug: ${plain.stderr}`);
    if (madvise) assert.match(state, /madvise; glibc\.malloc\.hugetlb=1$/, "restarted with the tunable");
    else assert.match(state, /not set$/, "THP not in madvise mode here: no restart");

    const off = run("off.mender", "glibc.malloc.hugetlb=0");
    assert.equal(off.status, 0, off.stderr);
    assert.match(off.stderr, /glibc\.malloc\.hugetlb=0\n/, "the caller's setting is kept");
    assert.ok(fs.readFileSync(path.join(dir, "plain.mender")).equals(fs.readFileSync(path.join(dir, "off.mender"))), "huge pages changed the Artifact's bytes");

    // A failure after the restart: one error line (as JSON too), exit 1, no output file.
    const failed = run("failed.mender", undefined, path.join(dir, "missing.img"));
    assert.equal(failed.status, 1, failed.stderr);
    if (madvise) assert.match(failed.stderr, /glibc\.malloc\.hugetlb=1\n/, "the failing run was the restarted one");
    assert.equal(failed.stderr.split("\n").filter((l) => l.includes("error")).length, 1, failed.stderr);
    assert.equal((JSON.parse(failed.stdout) as { exitCode: number }).exitCode, 1);
    assert.ok(!fs.existsSync(path.join(dir, "failed.mender")));
    if (!madvise) t.diagnostic("transparent huge pages are not in madvise mode here: the restart itself was not exercised");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
