/**
 * The device program's side of hostile input: what the Mender client hands the Update Module in
 * Download comes from the Artifact (header JSON, payload file names, sizes). Each hostile variant
 * must make Download fail with one clear error line (a MenderDeltaError, no stack trace), leave
 * the active partition and the boot environment unchanged, give ArtifactInstall nothing to
 * activate, write nothing outside the module's file tree, and (when refused before the delta is
 * applied) nothing to the inactive partition.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { needTools } from "../helpers/peers";
import { INITIAL_BOOT_ENV, drainFifos, makeFileDevice, makeReleasePair, mkfifo, runModuleSync, sha256File, startModule, type FileDevice, type ModuleResult } from "../device/fixtures";

let work = "";
let v1 = "";
let delta: Buffer;
let sum1 = "";
let sum2 = "";
let imageBytes = 0;
let ready = false;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-hostile-dl-"));
  if (!["mke2fs", "xdelta3", "fw_printenv", "fw_setenv"].every((t) => ["/usr/bin", "/sbin", "/usr/sbin"].some((d) => fs.existsSync(`${d}/${t}`)))) return;
  ({ v1, delta, sum1, sum2, imageBytes } = makeReleasePair(work));
  ready = true;
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

let count = 0;
/** The shared simulated device (src/demo/simulated-device.ts); a string `metaData` replaces the meta-data file verbatim. */
function device(metaData: Record<string, unknown> | string): FileDevice {
  const d = makeFileDevice(path.join(work, `dev${++count}`), v1, {
    sourceChecksum: sum1,
    targetChecksum: sum2,
    metaData: typeof metaData === "string" ? {} : metaData,
  });
  if (typeof metaData === "string") fs.writeFileSync(path.join(d.tree, "header", "meta-data"), metaData);
  return d;
}

/**
 * Plays the client: each stream-next line, then the file's bytes through a FIFO at the path the
 * line names (resolved the way a careless reader would), then the empty line that ends the list.
 * FIFOs the module never opens are drained afterwards so the feeder does not block forever.
 */
async function download(d: FileDevice, lines: { line: string; data: Uint8Array }[]): Promise<ModuleResult> {
  mkfifo(path.join(d.tree, "stream-next"));
  fs.mkdirSync(path.join(d.tree, "streams"), { recursive: true });
  const fifos = lines.map((l) => path.join(d.tree, l.line.split(" ")[0]!));
  for (const f of fifos) mkfifo(f);
  const mod = startModule("Download", d.tree, d.env);
  const feed = (async () => {
    for (const [i, l] of lines.entries()) {
      await fs.promises.writeFile(path.join(d.tree, "stream-next"), `${l.line}\n`);
      await fs.promises.writeFile(fifos[i]!, l.data);
    }
    await fs.promises.writeFile(path.join(d.tree, "stream-next"), "");
  })().catch(() => undefined);
  const result = await mod.done;
  await Promise.all([drainFifos(d.tree, feed), drainOutside(fifos.filter((f) => !f.startsWith(d.tree + path.sep)), feed)]);
  await feed;
  for (const f of fifos) fs.rmSync(f, { force: true });
  return result;
}

/** Opens the given FIFOs for reading until `until` settles (as drainFifos does for the tree). */
async function drainOutside(fifos: string[], until: Promise<unknown>): Promise<void> {
  let settled = false;
  void until.then(() => (settled = true));
  const buf = Buffer.alloc(65536);
  while (!settled && fifos.length > 0) {
    for (const f of fifos) {
      try {
        const fd = fs.openSync(f, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
        try {
          while (fs.readSync(fd, buf) > 0);
        } catch {
          // EAGAIN
        }
        fs.closeSync(fd);
      } catch {
        // gone
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

const deep = (levels: number): string => "[".repeat(levels) + "]".repeat(levels);
const goodMeta = (): Record<string, unknown> => ({ delta_algorithm: "xdelta3", rootfs_file_size: imageBytes });

interface Case {
  name: string;
  /** header/meta-data (an object, or raw text); built late because it needs the image size. */
  metaData?: () => Record<string, unknown> | string;
  lines?: () => { line: string; data: Uint8Array }[];
  message: RegExp;
  /** Refused before any delta byte is applied: the inactive partition stays all zeros. */
  beforeWriting: boolean;
}

const CASES: Case[] = [
  // Parsed without a stack overflow; then refused for the missing size.
  { name: "meta-data nested 300000 levels, no size", metaData: () => `{"delta_algorithm":"xdelta3","x":${deep(300000)}}`, message: /meta-data/, beforeWriting: true },
  { name: "meta-data declaring a 2^60-byte source", metaData: () => ({ ...goodMeta(), rootfs_file_size: 2 ** 60 }), message: /rootfs_file_size/, beforeWriting: true },
  { name: "meta-data size beyond exact integers", metaData: () => ({ ...goodMeta(), rootfs_file_size: "123456789012345678901234567890" }), message: /rootfs_file_size must be a positive integer/, beforeWriting: true },
  {
    name: "stream name escaping the tree (streams/../../outside.delta)",
    // A valid delta, fed outside the tree: a module that followed the name would apply it.
    lines: () => [{ line: "streams/../../outside.delta", data: delta }],
    message: /unexpected line from stream-next/,
    beforeWriting: true,
  },
  { name: "two payload files", lines: () => [{ line: "streams/a.delta", data: delta }, { line: "streams/b.delta", data: delta }], message: /more than one file/, beforeWriting: false },
  { name: "a payload file that is not a delta", lines: () => [{ line: "streams/rootfs.ext4", data: fs.readFileSync(v1) }], message: /invalid delta|not.*delta|VCDIFF/i, beforeWriting: true },
];

test(`hostile Download input: ${CASES.length} cases fail cleanly, nothing written`, async (t) => {
  if (!needTools(t, "mke2fs", "xdelta3", "fw_printenv", "fw_setenv")) return;
  assert.ok(ready);
  const rows: string[] = [];
  const failures: string[] = [];
  for (const c of CASES) {
    const meta = c.metaData?.() ?? goodMeta();
    const d = device(meta);
    try {
      const dl = await download(d, c.lines ? c.lines() : [{ line: "streams/v2.ext4.delta", data: delta }]);
      assert.notEqual(dl.status, 0, `Download must fail; stderr: ${dl.stderr}`);
      assert.match(dl.stderr, c.message);
      assert.doesNotMatch(dl.stderr, /^\s+at /m, "a stack trace: not a typed error");
      assert.equal(sha256File(d.partA, imageBytes), sum1, "active partition changed");
      if (c.beforeWriting) assert.ok(fs.readFileSync(d.partB).every((b) => b === 0), "inactive partition written");
      assert.deepEqual(d.readEnv(), INITIAL_BOOT_ENV, "boot environment changed");
      // Nothing verified was recorded, so there is nothing to activate.
      const install = runModuleSync("ArtifactInstall", d.tree, d.env);
      assert.equal(install.status, 1, `ArtifactInstall after the failed Download must fail: ${install.stderr}`);
      assert.deepEqual(d.readEnv(), INITIAL_BOOT_ENV, "boot environment changed by ArtifactInstall");
      const outside = fs.readdirSync(d.dir).sort();
      assert.deepEqual(outside.filter((f) => !["bin", "defenv", "dev", "fw_env.config", "mender-binary-delta.conf", "tree", "uboot.env"].includes(f)), []);
      const errorLine = dl.stderr.trim().split("\n").filter((l) => /error/i.test(l));
      rows.push(`  ${c.name.padEnd(62)} exit ${dl.status}  ${(errorLine[0] ?? dl.stderr.trim()).slice(0, 120)}`);
    } catch (err) {
      failures.push(`${c.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  process.stdout.write(`hostile Download input: ${rows.length}/${CASES.length} failed cleanly\n${rows.join("\n")}\n`);
  assert.deepEqual(failures, []);
});

/** Source faults: the active partition is short (reads end early) or cannot be read at all. */
const SOURCE_FAULTS: { name: string; break(d: FileDevice): void; message: RegExp }[] = [
  { name: "active partition shorter than the delta's source (short reads)", break: (d) => fs.truncateSync(d.partA, 1 << 20), message: /active partition|source/ },
  {
    name: "active partition unreadable (EISDIR)",
    break: (d) => {
      fs.rmSync(d.partA);
      fs.mkdirSync(d.partA);
    },
    message: /mmcblk0p2/,
  },
];

test(`source faults in Download: ${SOURCE_FAULTS.length} cases fail cleanly, inactive partition untouched`, async (t) => {
  if (!needTools(t, "mke2fs", "xdelta3", "fw_printenv", "fw_setenv")) return;
  assert.ok(ready);
  const rows: string[] = [];
  const failures: string[] = [];
  for (const c of SOURCE_FAULTS) {
    const d = device(goodMeta());
    c.break(d);
    try {
      const dl = await download(d, [{ line: "streams/v2.ext4.delta", data: delta }]);
      assert.notEqual(dl.status, 0, `Download must fail; stderr: ${dl.stderr}`);
      assert.match(dl.stderr, c.message);
      assert.doesNotMatch(dl.stderr, /^\s+at /m, "a stack trace: not a typed error");
      assert.ok(fs.readFileSync(d.partB).every((b) => b === 0), "inactive partition written");
      assert.deepEqual(d.readEnv(), INITIAL_BOOT_ENV, "boot environment changed");
      const errorLine = dl.stderr.trim().split("\n").filter((l) => /error/i.test(l));
      rows.push(`  ${c.name.padEnd(62)} exit ${dl.status}  ${(errorLine[0] ?? dl.stderr.trim()).slice(0, 120)}`);
    } catch (err) {
      failures.push(`${c.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  process.stdout.write(`source faults: ${rows.length}/${SOURCE_FAULTS.length} failed cleanly\n${rows.join("\n")}\n`);
  assert.deepEqual(failures, []);
});
