/**
 * Read faults of the active partition (the delta's source) during a real Download, injected by the
 * kernel: the partition is a file served through FUSE (faulty-file.ts) that answers reads with a
 * few odd-sized bytes at a time (short reads), or with EIO. Device-mapper would do the same for a
 * block device, but it is not in every kernel; FUSE reaches the module's own read loop directly.
 *
 *   - short reads: Download must still apply the delta (every read loop continues after a short
 *     result), the new image on B verified, A unchanged; `apply` (which reads image files with
 *     its own reader) must still make the new image;
 *   - EIO found by the source check, and EIO while decoding (the storage fails after the check):
 *     Download fails with one error line naming the active partition and the I/O error, exit 1;
 *     the boot environment and A are unchanged; ArtifactInstall then has nothing to activate, and
 *     ArtifactFailure (the client's next step) leaves the environment alone.
 *
 * Runs the built program when there is one (a private copy), else the source.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { needRoot, needTools } from "../helpers/peers";
import { ROOT } from "../helpers/targets";
import { INITIAL_BOOT_ENV, downloadStreaming, makeFileDevice, makeReleasePair, moduleCommand, runModuleSync, sha256File, type FileDevice } from "../device/fixtures";
import { copyOfBuiltProgram } from "./built-binary";
import { serveFaultyFile, type Faults, type ServerCounters } from "./faulty-file";

const TSX = ["--import", `file://${path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")}`];

let work = "";
let v1 = "";
let delta: Buffer;
let sum1 = "";
let sum2 = "";
let imageBytes = 0;
let command: string[] = [];
let ready = false;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-source-faults-"));
  if (!["mke2fs", "xdelta3", "fw_printenv", "fw_setenv"].every((t) => ["/usr/bin", "/sbin", "/usr/sbin"].some((d) => fs.existsSync(`${d}/${t}`)))) return;
  ({ v1, delta, sum1, sum2, imageBytes } = makeReleasePair(work));
  const built = copyOfBuiltProgram(work);
  command = built ? [built] : moduleCommand();
  ready = true;
});

/** Servers still mounted (a failed assertion between mount and close): unmounted before the files go. */
const open = new Set<() => Promise<ServerCounters>>();

after(async () => {
  for (const close of open) await close();
  fs.rmSync(work, { recursive: true, force: true });
});

interface Case {
  name: string;
  faults: () => Faults;
  /**
   * Download succeeds (short reads), `apply --source <the served file>` makes the new image (the
   * other source reader, for image files), or Download fails with this message.
   */
  expect: "installs" | "applies" | RegExp;
  /** Fails before the first byte of B is written: B stays all zeros. */
  beforeWriting?: boolean;
  /** The server must have given at least one short reply / one EIO. */
  must: (c: ServerCounters) => boolean;
}

const CASES: Case[] = [
  {
    name: "short reads of the active partition (1..4093 bytes each)",
    faults: () => ({ maxReplyBytes: 4093 }),
    expect: "installs",
    must: (c) => c.shortReplies > 100,
  },
  {
    name: "short reads of apply's --source (1..4093 bytes each)",
    faults: () => ({ maxReplyBytes: 4093 }),
    expect: "applies",
    must: (c) => c.shortReplies > 100,
  },
  {
    name: "EIO in the active partition (found by the source check)",
    faults: () => ({ eio: { from: 1 << 20, to: (1 << 20) + 512 } }),
    expect: /reading \S*mmcblk0p2 at byte \d+ failed: EIO/,
    beforeWriting: true,
    must: (c) => c.eioReplies > 0,
  },
  {
    name: "EIO in the active partition after the check (while decoding)",
    // Every read fails once the check has read the whole image.
    faults: () => ({ eio: { from: 0, to: 1 << 30, afterBytes: imageBytes } }),
    expect: /applying \S+ failed after \d+ bytes .*reading \S*mmcblk0p2 at byte \d+ failed: EIO/,
    must: (c) => c.eioReplies > 0,
  },
];

/** A simulated device whose partition A is the FUSE-served file (backed by an image file). */
async function faultyDevice(dir: string, faults: Faults): Promise<{ d: FileDevice; close: () => Promise<ServerCounters>; backing: string }> {
  const d = makeFileDevice(dir, v1, { sourceChecksum: sum1, targetChecksum: sum2, metaData: { delta_algorithm: "xdelta3", rootfs_file_size: imageBytes } });
  const served = await serveFaultyFile(path.join(dir, "fuse"), d.partA, "mmcblk0p2", faults, TSX);
  fs.writeFileSync(d.conf, JSON.stringify({ RootfsPartA: served.path, RootfsPartB: d.partB }));
  d.env.MENDER_BINARY_DELTA_TEST_ROOT = served.path;
  open.add(served.close);
  const close = (): Promise<ServerCounters> => {
    open.delete(served.close);
    return served.close();
  };
  return { d, close, backing: d.partA };
}

/** Runs one case on its device; assertion failures throw. Returns the exit code of the faulted command. */
async function runCase(c: Case, d: FileDevice, notes: string[]): Promise<number | null> {
  if (c.expect === "applies") {
    const deltaFile = path.join(d.dir, "v2.ext4.delta");
    const out = path.join(d.dir, "applied.ext4");
    fs.writeFileSync(deltaFile, delta);
    const [cmd, ...pre] = command;
    const r = spawnSync(cmd!, [...pre, "apply", "--source", d.env.MENDER_BINARY_DELTA_TEST_ROOT!, "--delta", deltaFile, "--target", out], { encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, `apply failed: ${r.stderr}`);
    assert.equal(sha256File(out), sum2, "apply made a different image");
    notes.push("the output is the verified v2");
    return r.status;
  }
  const dl = await downloadStreaming(d.tree, d.env, { name: "v2.ext4.delta", data: delta }, false, command);
  if (c.expect === "installs") {
    assert.equal(dl.status, 0, `Download failed: ${dl.stderr}`);
    const inst = runModuleSync("ArtifactInstall", d.tree, d.env, command);
    assert.equal(inst.status, 0, `ArtifactInstall failed: ${inst.stderr}`);
    assert.deepEqual(d.readEnv(), { ...INITIAL_BOOT_ENV, mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1" });
    assert.equal(sha256File(d.partB, imageBytes), sum2, "B does not hold the new image");
    notes.push("B holds the verified v2, env boots B");
    return dl.status;
  }
  const errorLines = dl.stderr.split("\n").filter((l) => /error/i.test(l));
  assert.equal(dl.status, 1, `Download must fail with exit 1: ${dl.stderr}`);
  assert.equal(errorLines.length, 1, `one error line expected:\n${dl.stderr}`);
  assert.match(errorLines[0]!, c.expect);
  assert.doesNotMatch(dl.stderr, /^\s+at /m, "a stack trace: not a typed error");
  assert.deepEqual(d.readEnv(), INITIAL_BOOT_ENV, "boot environment changed by Download");
  // The client's next steps: ArtifactInstall has nothing verified to activate; ArtifactFailure.
  const inst = runModuleSync("ArtifactInstall", d.tree, d.env, command);
  assert.equal(inst.status, 1, `ArtifactInstall after the failed Download must fail: ${inst.stderr}`);
  const failure = runModuleSync("ArtifactFailure", d.tree, d.env, command);
  assert.equal(failure.status, 0, `ArtifactFailure: ${failure.stderr}`);
  assert.deepEqual(d.readEnv(), INITIAL_BOOT_ENV, "boot environment changed after the failure");
  if (c.beforeWriting) assert.ok(fs.readFileSync(d.partB).every((b) => b === 0), "B written although the source check failed");
  notes.push(errorLines[0]!.replace(/^.*?error:?\s*/i, ""));
  return dl.status;
}

test(`source read faults in Download and apply (FUSE): ${CASES.length} cases`, async (t) => {
  if (!needRoot(t, "FUSE mounts") || !needTools(t, "mke2fs", "xdelta3", "fw_printenv", "fw_setenv", "mount", "umount")) return;
  if (!fs.existsSync("/dev/fuse")) {
    assert.ok(process.env.REQUIRE_PEERS !== "1", "/dev/fuse is missing; REQUIRE_PEERS=1 forbids skipping");
    t.skip("no /dev/fuse");
    return;
  }
  assert.ok(ready, "fixtures made");
  const rows: string[] = [];
  let passed = 0;
  for (const [i, c] of CASES.entries()) {
    const { d, close, backing } = await faultyDevice(path.join(work, `dev${i}`), c.faults());
    const notes: string[] = [];
    let status: number | null = null;
    let counters: ServerCounters;
    try {
      status = await runCase(c, d, notes);
    } catch (err) {
      notes.push(`FAILED: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    } finally {
      counters = await close();
    }
    let ok = !notes.some((n) => n.startsWith("FAILED"));
    if (sha256File(backing, imageBytes) !== sum1) {
      ok = false;
      notes.push("FAILED: active partition modified");
    }
    if (!c.must(counters)) {
      ok = false;
      notes.push(`FAILED: the fault did not happen (${JSON.stringify(counters)})`);
    }
    if (ok) passed++;
    rows.push(
      `  ${c.name.padEnd(62)} reads ${String(counters.reads).padStart(5)} short ${String(counters.shortReplies).padStart(5)} EIO ${String(counters.eioReplies).padStart(3)}  exit ${status}  ${ok ? "PASS" : "FAIL"}  ${notes.join("; ")}`,
    );
  }
  const table = [
    `source read faults (active partition served through FUSE; module: ${command.length === 1 ? "built binary" : "source"}):`,
    ...rows,
    `source read faults: ${CASES.length} cases run, ${passed} passed`,
  ].join("\n");
  process.stdout.write(`${table}\n`);
  assert.equal(passed, CASES.length, table);
});
