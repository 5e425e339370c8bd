/**
 * What `apply --target` writes and how, as root: a temporary file created exclusively under a
 * random name (nothing planted is followed), FIFOs, character devices and standard output written
 * in place and never replaced, symlinks refused unless they lead to a block device, interrupts that
 * remove the temporary file and exit 128+signal, messages that name the file at fault. The
 * command-line cases run the built binary (dist/x86_64/mender-binary-delta).
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test, before, after } from "node:test";
import { createExclusive, temporaryName } from "../../src/cli/apply-target";
import { applyDeltaCommand } from "../../src/cli/apply";
import { needBuilt, needRoot, needTools } from "../helpers/peers";
import { HOST_TARGET, binaryPath } from "../helpers/targets";
import { makeImage, mutateImage, xdelta3Encode } from "./helpers";

const BIN = binaryPath(HOST_TARGET, "mender-binary-delta");
let dir: string;
let oldFile: string;
let deltaFile: string;
let neu: Buffer;
let delta: Buffer;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-apply-target-"));
  const old = makeImage(21, 3 << 20);
  neu = Buffer.from(mutateImage(old, 22));
  oldFile = path.join(dir, "old.img");
  deltaFile = path.join(dir, "delta");
  fs.writeFileSync(oldFile, old);
  if (spawnSync("sh", ["-c", "command -v xdelta3"]).status !== 0) return;
  delta = Buffer.from(xdelta3Encode(dir, old, neu, ["-W", "65536"]));
  fs.writeFileSync(deltaFile, delta);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

function ready(t: import("node:test").TestContext): boolean {
  return needTools(t, "xdelta3") && needBuilt(t, BIN);
}

function run(args: string[], opts: { input?: Buffer; cwd?: string } = {}) {
  return spawnSync(BIN, ["apply", "--source", oldFile, ...args], { input: opts.input, cwd: opts.cwd, maxBuffer: 64 << 20, timeout: 120_000 });
}

const temps = (d: string) => fs.readdirSync(d).filter((f) => f.includes(".tmp-"));

function sub(name: string): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  return d;
}

test("temporary file: a random name, created exclusively; a symlink or file planted at the name is neither followed nor reused", () => {
  const d = sub("exclusive");
  const a = temporaryName(path.join(d, "new.img"));
  const b = temporaryName(path.join(d, "new.img"));
  assert.match(path.basename(a), /^\.new\.img\.tmp-[0-9a-f]{16}$/);
  assert.notEqual(a, b);
  assert.equal(path.basename(temporaryName(path.join(d, "n".repeat(300)))).length <= 255, true, "fits NAME_MAX");
  const victim = path.join(d, "victim");
  fs.writeFileSync(victim, "precious");
  fs.symlinkSync(victim, a);
  assert.throws(() => createExclusive(a, 0o644), (e: NodeJS.ErrnoException) => e.code === "EEXIST");
  fs.symlinkSync(path.join(d, "absent"), b);
  assert.throws(() => createExclusive(b, 0o644), (e: NodeJS.ErrnoException) => e.code === "EEXIST", "dangling link not created through");
  assert.equal(fs.existsSync(path.join(d, "absent")), false);
  assert.equal(fs.readFileSync(victim, "utf8"), "precious");
});

test("apply: an existing target keeps its mode; no temporary file is left; targets that are refused and why", async (t) => {
  if (!ready(t)) return;
  const d = sub("modes");
  const target = path.join(d, "new.img");
  fs.writeFileSync(target, "old");
  fs.chmodSync(target, 0o600);
  let r = run(["--delta", deltaFile, "--target", target]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(fs.readFileSync(target).equals(neu));
  assert.equal(fs.statSync(target).mode & 0o777, 0o600);
  assert.deepEqual(temps(d), []);

  // A symlink to a regular file: refused, the link and the file it names untouched.
  const victim = path.join(d, "victim");
  fs.writeFileSync(victim, "precious");
  const link = path.join(d, "link.img");
  fs.symlinkSync(victim, link);
  r = run(["--delta", deltaFile, "--target", link]);
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /^mender-binary-delta: error: --target '.*link\.img' is a symbolic link \(to '.*victim'\): refusing to follow it or to replace it/);
  assert.equal(fs.readlinkSync(link), victim);
  assert.equal(fs.readFileSync(victim, "utf8"), "precious");
  // A dangling one, a directory, a missing directory: each message names the path at fault.
  const dangling = path.join(d, "dangling.img");
  fs.symlinkSync(path.join(d, "nowhere"), dangling);
  r = run(["--delta", deltaFile, "--target", dangling]);
  assert.match(r.stderr.toString(), /is a symbolic link \(to '.*nowhere', which does not exist\)/);
  assert.equal(fs.existsSync(path.join(d, "nowhere")), false);
  r = run(["--delta", deltaFile, "--target", d]);
  assert.match(r.stderr.toString(), /--target '.*modes' is a directory/);
  r = run(["--delta", deltaFile, "--target", path.join(d, "no-dir", "new.img")]);
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /cannot create the temporary file for --target '.*no-dir\/new\.img' in '.*no-dir': the directory '.*no-dir' does not exist/);
  assert.deepEqual(temps(d), []);
});

test("apply --target -: the image on standard output, the summary on standard error", (t) => {
  if (!ready(t)) return;
  const r = run(["--delta", "-", "--target", "-"], { input: delta });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(r.stdout.equals(neu), "stdout holds exactly the new image");
  // A delta on standard input has no size known in advance: the phase's name, no percentages.
  assert.match(r.stderr.toString(), new RegExp(`^applying\\nstandard output: ${neu.length} bytes written from \\d+ delta windows\\n$`));
});

test("apply: a character device and a FIFO are written in place, never replaced by a regular file", async (t) => {
  if (!ready(t) || !needRoot(t, "mknod")) return;
  const d = sub("nodes");
  let r = run(["--delta", deltaFile, "--target", "/dev/null"]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(fs.statSync("/dev/null").isCharacterDevice());
  const nullNode = path.join(d, "null");
  execFileSync("mknod", [nullNode, "c", "1", "3"]);
  r = run(["--delta", deltaFile, "--target", nullNode]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(fs.lstatSync(nullNode).isCharacterDevice(), "still the character device");

  const fifo = path.join(d, "fifo");
  execFileSync("mkfifo", [fifo]);
  const out = path.join(d, "from-fifo");
  const reader = spawn("sh", ["-c", `cat '${fifo}' > '${out}'`]);
  const readerDone = new Promise<number | null>((resolve) => reader.on("exit", resolve));
  r = run(["--delta", deltaFile, "--target", fifo]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(await readerDone, 0);
  assert.ok(fs.readFileSync(out).equals(neu), "the reader got the new image");
  assert.ok(fs.lstatSync(fifo).isFIFO(), "still the FIFO");
  assert.deepEqual(temps(d), []);
});

test("apply: a symlink to a block device (as /dev/disk/by-partlabel/...) is written in place", (t) => {
  if (!ready(t) || !needRoot(t, "loop devices") || !needTools(t, "losetup")) return;
  const d = sub("block");
  const backing = path.join(d, "part.img");
  fs.writeFileSync(backing, Buffer.alloc(4 << 20));
  const loop = execFileSync("losetup", ["-f", "--show", backing], { encoding: "utf8" }).trim();
  try {
    const link = path.join(d, "rootfsB");
    fs.symlinkSync(loop, link);
    const r = run(["--delta", deltaFile, "--target", link]);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.ok(fs.lstatSync(link).isSymbolicLink(), "the link is kept");
    // The whole device as it is on the disk (O_DIRECT reads must cover whole sectors).
    const onDisk = execFileSync("dd", [`if=${loop}`, "iflag=direct", "bs=1M", "status=none"], { maxBuffer: 64 << 20 });
    assert.ok(onDisk.subarray(0, neu.length).equals(neu));
  } finally {
    execFileSync("losetup", ["-d", loop]);
  }
});

test("apply: a block device smaller than the new image is refused before anything is written", async (t) => {
  if (!needTools(t, "xdelta3", "losetup") || !needRoot(t, "loop devices")) return;
  const d = sub("small-block");
  const backing = path.join(d, "part.img");
  // 2 MiB of a marker: the new image is 3 MiB.
  const marker = Buffer.alloc(2 << 20, 0x5a);
  fs.writeFileSync(backing, marker);
  const loop = execFileSync("losetup", ["-f", "--show", backing], { encoding: "utf8" }).trim();
  try {
    await assert.rejects(
      applyDeltaCommand({ source: oldFile, delta: deltaFile, target: loop }),
      {
        message:
          `the new image does not fit on --target ${loop}: the delta makes ${neu.length} bytes, the device holds ${2 << 20}. ` +
          "Nothing was written; give a device (partition) at least as large as the image",
      },
    );
    const onDisk = execFileSync("dd", [`if=${loop}`, "iflag=direct", "bs=1M", "status=none"], { maxBuffer: 64 << 20 });
    assert.ok(onDisk.equals(marker), "the device is untouched");
  } finally {
    execFileSync("losetup", ["-d", loop]);
  }
});

test("apply: a full filesystem - the message names --target and its temporary file; nothing is left, the old target stays", (t) => {
  if (!ready(t) || !needRoot(t, "a small tmpfs")) return;
  const d = sub("full");
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", d]);
  try {
    const target = path.join(d, "new.img");
    fs.writeFileSync(target, "old");
    const r = run(["--delta", deltaFile, "--target", target]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr.toString(),
      /^(applying +\d+%\n)*mender-binary-delta: error: cannot write --target '.*full\/new\.img' \(temporary file '.*full\/\.new\.img\.tmp-[0-9a-f]{16}'\) at byte \d+: ENOSPC.*too small for the new image/,
    );
    assert.doesNotMatch(r.stderr.toString(), /100%/, "a failed apply never claims 100 %");
    assert.equal(fs.readFileSync(target, "utf8"), "old");
    assert.deepEqual(temps(d), []);
  } finally {
    execFileSync("umount", [d]);
  }
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  test(`apply interrupted by ${signal} mid-decode: the temporary file is removed, exit ${code}, the target unchanged`, async (t) => {
    if (!ready(t)) return;
    const d = sub(`signal-${signal}`);
    const target = path.join(d, "new.img");
    fs.writeFileSync(target, "old");
    const child = spawn(BIN, ["apply", "--source", oldFile, "--delta", "-", "--target", target], { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    // Half of the delta: the decoder is under way and waits for the rest.
    child.stdin.write(delta.subarray(0, delta.length >> 1));
    const deadline = Date.now() + 60_000;
    while (temps(d).length === 0 || fs.statSync(path.join(d, temps(d)[0]!)).size === 0) {
      assert.ok(Date.now() < deadline, "the temporary file appears and fills");
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill(signal);
    const status = await exited;
    child.stdin.destroy();
    assert.equal(status, code, stderr);
    assert.match(stderr, new RegExp(`interrupted by ${signal}: removed the temporary file '.*\\.new\\.img\\.tmp-[0-9a-f]{16}'; --target '.*new\\.img' is unchanged`));
    assert.deepEqual(temps(d), []);
    assert.equal(fs.readFileSync(target, "utf8"), "old");
  });
}

test("apply whose stderr reader is gone (apply ... 2>&1 | head): exit 141 at its first progress line, the temporary file removed, the target unchanged", async (t) => {
  if (!ready(t)) return;
  const d = sub("closed-stderr");
  const target = path.join(d, "new.img");
  fs.writeFileSync(target, "old");
  const child = spawn(BIN, ["apply", "--source", oldFile, "--delta", deltaFile, "--target", target], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  // The first progress line comes with the first window's output, after the temporary file exists.
  child.stderr.destroy();
  assert.equal(await exited, 141);
  assert.deepEqual(temps(d), []);
  assert.equal(fs.readFileSync(target, "utf8"), "old");
});

test("in-process applyDeltaCommand: a refused target is refused before the delta is opened", async () => {
  const d = sub("inproc");
  await assert.rejects(applyDeltaCommand({ source: oldFile, delta: path.join(d, "absent"), target: d }), /--target '.*inproc' is a directory/);
});
