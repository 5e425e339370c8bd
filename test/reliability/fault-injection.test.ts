/**
 * Fault injection against the real Mender 3.4 client (standalone install/commit/rollback) and our
 * module: the module SIGKILLed at many points of Download, ArtifactInstall, ArtifactCommit and
 * ArtifactRollback (kill points found in its log, or exactly before/after its fw_setenv call),
 * fw_setenv failing or killed, fw_setenv killed part-way through writing a redundant (two-copy)
 * environment, the Artifact stream cut at several offsets, and short reads or EIO from the active
 * partition (served through FUSE, faulty-file.ts) while the client installs. After each fault:
 *   - the boot environment is whole (mender_boot_part == mender_boot_part_hex, in {2, 3},
 *     upgrade_available in {0, 1});
 *   - the active partition (A, the running v1) is never modified;
 *   - the partition the environment boots holds a complete, verified image (v1 on A, v2 on B);
 * then the client's next actions (reboot, commit or rollback) keep all of that, and a retry of
 * the install ends on v2. Each case is a test of its own (run one alone with
 * `npm run test:unit -- fault-injection --test-name-pattern '<case name>'`). When fw_setenv is cut mid-write, the
 * environment fw_printenv reads right after must be all the old one or all the new one.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { REQUIRE_PEERS, needRoot, needTools } from "../helpers/peers";
import { ClientSandbox } from "../device/client-sandbox";
import { makeImagePartitions, makeReleasePair, moduleCommand, sha256, sha256Direct } from "../device/fixtures";
import { crc32 } from "../../src/compress/crc32";
import { copyOfBuiltProgram } from "./built-binary";
import { serveFaultyFile, type Faults, type FaultyFile, type ServerCounters } from "./faulty-file";

const PART_BYTES = 6 << 20;
const TOOLS = ["mender", "mender-artifact", "fw_printenv", "fw_setenv", "xdelta3", "mke2fs", "losetup", "unshare", "mount"];
const CLEARS = ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"];
/** The Artifact the device runs before each case (seed()), as `mender show-artifact` names it. */
const SEED_NAME = "seed";

let work = "";
let sb: ClientSandbox | undefined;
let sum1 = "";
let sum2 = "";
let imageBytes = 0;
let delta12 = "";
let ready = false;

let builtCopy: string | null = null;

/** The built program when there is one (as in `npm test`: fast start), else the source via tsx. */
function moduleCmd(): string[] {
  return builtCopy ? [builtCopy] : moduleCommand();
}

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-faults-"));
  if (process.getuid?.() !== 0) return;
  builtCopy = copyOfBuiltProgram(work);
  if (!TOOLS.every((t) => ["/usr/bin", "/bin", "/sbin", "/usr/sbin"].some((d) => fs.existsSync(`${d}/${t}`)))) return;
  const pair = makeReleasePair(work);
  ({ sum1, sum2, imageBytes } = pair);
  delta12 = pair.deltaFile;
  const v1 = pair.v1;
  const partA = path.join(work, "partA.img");
  const partB = path.join(work, "partB.img");
  makeImagePartitions(partA, partB, v1, PART_BYTES);
  sb = new ClientSandbox(path.join(work, "sb"), [partA, partB], moduleCmd());
  ready = true;
});

after(() => {
  sb?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function seed(s: ClientSandbox): void {
  const art = s.artifact(SEED_NAME, { type: "noop-module", provides: [`rootfs-image.checksum:${sum1}`, "rootfs-image.version:release-1"] });
  const r = s.mender("install", art);
  assert.equal(r.status, 0, r.log);
}

function deltaArtifact(s: ClientSandbox): string {
  return s.artifact("release-2", {
    file: delta12,
    depends: [`rootfs-image.checksum:${sum1}`],
    provides: [`rootfs-image.checksum:${sum2}`, "rootfs-image.version:release-2"],
    clears: CLEARS,
    meta: { delta_algorithm: "xdelta3", rootfs_file_size: imageBytes },
  });
}

const quoted = (cmd: string[]): string => cmd.map((c) => `'${c}'`).join(" ");

/**
 * Module wrapper: in `state`, once (a marker file), runs the module and SIGKILLs it as soon as
 * its log matches `pattern`.
 */
function killModuleAt(s: ClientSandbox, state: string, pattern: string): void {
  const marker = path.join(work, "kill-marker");
  const stderr = path.join(work, "module.stderr");
  fs.writeFileSync(marker, pattern);
  const real = `${quoted(moduleCmd())} "$@"`;
  fs.writeFileSync(
    path.join(s.modules, "mender-binary-delta"),
    `#!/bin/sh\nif [ "$1" = '${state}' ] && [ -f '${marker}' ]; then\n` +
      `  p=$(cat '${marker}'); rm -f '${marker}'\n` +
      `  ${real} 2>'${stderr}' &\n  pid=$!\n` +
      `  while kill -0 $pid 2>/dev/null && ! grep -q "$p" '${stderr}'; do sleep 0.002; done\n` +
      `  kill -9 $pid 2>/dev/null && echo killed >> '${path.join(work, "fired")}'\n` +
      `  wait $pid; rc=$?; cat '${stderr}' >&2; exit $rc\nfi\n` +
      `exec ${real}\n`,
    { mode: 0o755 },
  );
}

/** fw_setenv's write to the environment file stops after this many bytes (then SIGXFSZ kills it). */
interface CutWrite {
  cutAfterBytes: number;
}

/**
 * fw_setenv shim: when called by the module in `state` (once), does `what`:
 * kill the module before or after the real fw_setenv, fail without writing, get killed itself, or
 * run the real fw_setenv with a file size limit so its write of the environment copy stops part-way
 * and the kernel kills it (SIGXFSZ, as a power cut would leave the flash: a partly written copy).
 * In the last case the environment before the call, the batch and what fw_printenv reads right
 * after the cut are kept (env-before, env-batch, env-after-cut).
 */
function faultFwSetenv(s: ClientSandbox, state: string, what: "kill-module-before" | "kill-module-after" | "fail" | "killed" | CutWrite): void {
  // The sandbox's own shim (it points fw_setenv at the file-backed env) is kept and called.
  const shim = path.join(s.bootEnv.binDir, "fw_setenv");
  const inner = `${shim}.inner`;
  fs.renameSync(shim, inner);
  const marker = path.join(work, "fw-marker");
  fs.writeFileSync(marker, "");
  const fired = `echo fired >> '${path.join(work, "fired")}'`;
  const { config, defaults } = s.bootEnv;
  const action =
    typeof what === "object"
      ? // ulimit -f counts 512-byte blocks; the real tool is run directly (the recording shim would hit the limit itself).
        `IN=$(cat); /usr/bin/fw_printenv -c '${config}' -f '${defaults}' > '${path.join(work, "env-before")}'; ` +
        `printf '%s\\n' "$IN" > '${path.join(work, "env-batch")}'; ${fired}; ` +
        `printf '%s\\n' "$IN" | ( ulimit -f ${what.cutAfterBytes / 512}; exec /usr/bin/fw_setenv -c '${config}' -f '${defaults}' "$@" ); rc=$?; ` +
        `/usr/bin/fw_printenv -c '${config}' -f '${defaults}' > '${path.join(work, "env-after-cut")}' 2>&1 || echo "fw_printenv failed" >> '${path.join(work, "env-after-cut")}'; ` +
        `mkdir -p '${copiesAfterCut()}'; cp ${s.bootEnv.files.map((f) => `'${f}'`).join(" ")} '${copiesAfterCut()}/'; ` +
        // Die the way the tool died (the module sees the signal, as it would on a device).
        `[ $rc -eq ${128 + os.constants.signals.SIGXFSZ} ] && kill -s XFSZ $$; exit $rc`
      : {
          "kill-module-before": `${fired}; kill -9 $PPID; exit 1`,
          "kill-module-after": `'${inner}' "$@"; rc=$?; ${fired}; kill -9 $PPID; exit $rc`,
          fail: `${fired}; echo "fw_setenv: Cannot write environment: Input/output error" >&2; exit 1`,
          killed: `${fired}; kill -9 $$`,
        }[what];
  fs.writeFileSync(
    shim,
    `#!/bin/sh\nif [ -f '${marker}' ] && tr '\\0' ' ' < /proc/$PPID/cmdline | grep -q ' ${state}'; then\n` +
      `  rm -f '${marker}'\n  ${action}\nfi\nexec '${inner}' "$@"\n`,
    { mode: 0o755 },
  );
}

interface Check {
  ok: boolean;
  notes: string[];
}

/** The invariants that must hold at any moment a fault can leave the device in. */
function invariants(s: ClientSandbox, when: string, check: Check): void {
  const e = s.env();
  const fail = (m: string): void => {
    check.ok = false;
    check.notes.push(`${when}: ${m}`);
  };
  if (e.mender_boot_part !== e.mender_boot_part_hex || !["2", "3"].includes(e.mender_boot_part ?? "")) fail(`boot env half-written: ${JSON.stringify(e)}`);
  if (!["0", "1"].includes(e.upgrade_available ?? "")) fail(`upgrade_available=${e.upgrade_available}`);
  if (sha256Direct(s.loops[0], imageBytes) !== sum1) fail("active partition A modified");
  if (e.mender_boot_part === "3" && sha256Direct(s.loops[1], imageBytes) !== sum2) fail("the env boots B, which does not hold the verified v2");
}

/** The environment copies as fw_setenv left them when it was cut. */
const copiesAfterCut = (): string => path.join(work, "env-copies-after-cut");

/** Each copy of a redundant U-Boot environment: its flags byte and whether its CRC32 matches its data. */
function describeCopies(dir: string): { flags: number; valid: boolean }[] {
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => {
      const b = fs.readFileSync(path.join(dir, f));
      return { flags: b[4]!, valid: crc32(b.subarray(5)) === b.readUInt32LE(0) };
    });
}

/**
 * Right after fw_setenv was cut mid-write (before the client's next step): fw_printenv must read,
 * from a valid copy (not the defaults), a complete environment that is exactly the one before the
 * call or exactly that one with the whole batch applied (every variable, not only the four the
 * module writes).
 */
function allOrNothing(s: ClientSandbox, check: Check): void {
  const parse = (text: string): Map<string, string> =>
    new Map(text.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]));
  const before = parse(fs.readFileSync(path.join(work, "env-before"), "utf8"));
  const updated = new Map([...before, ...parse(fs.readFileSync(path.join(work, "env-batch"), "utf8"))]);
  const afterCut = fs.readFileSync(path.join(work, "env-after-cut"), "utf8");
  if (process.env.MBD_FAULT_DEBUG) {
    for (const f of ["env-before", "env-batch", "env-after-cut"]) process.stdout.write(`--- ${f}:\n${fs.readFileSync(path.join(work, f), "utf8").replace(/x{20,}/g, "x...")}\n`);
  }
  if (/Cannot read environment|fw_printenv failed/.test(afterCut)) {
    check.ok = false;
    check.notes.push(`fw_printenv after the cut: ${afterCut.split("\n").filter((l) => !l.includes("=")).join(" ")}`);
    return;
  }
  const copies = describeCopies(copiesAfterCut());
  check.notes.push(`copies after the cut: ${copies.map((c, i) => `${i + 1}: flags ${c.flags} CRC ${c.valid ? "ok" : "BAD"}`).join(", ")}`);
  if (copies.every((c) => c.valid)) {
    check.ok = false;
    check.notes.push("no copy was torn: the write was not cut");
  }
  const now = parse(afterCut);
  const same = (a: Map<string, string>, b: Map<string, string>): boolean => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
  if (same(now, before)) check.notes.push("env after the cut: all old");
  else if (same(now, updated)) check.notes.push("env after the cut: all new");
  else {
    check.ok = false;
    const diff = [...new Set([...before.keys(), ...updated.keys(), ...now.keys()])]
      .filter((k) => now.get(k) !== before.get(k) || now.get(k) !== updated.get(k))
      .map((k) => `${k}: old ${before.get(k)} new ${updated.get(k)} now ${now.get(k)}`);
    check.notes.push(`env after the cut is neither the old nor the new one: ${diff.join(", ")}`);
  }
}

/**
 * The client's next actions after a fault: reboot into what the env says, then commit or roll back.
 * Returns the commit's exit code (undefined: no update pending, nothing to commit).
 */
function settle(s: ClientSandbox, check: Check): number | null | undefined {
  s.reboot();
  invariants(s, "after reboot", check);
  if (s.env().upgrade_available !== "1") return undefined;
  const c = s.mender("commit");
  if (process.env.MBD_FAULT_DEBUG) process.stdout.write(`--- commit log:\n${c.log}\n`);
  if (c.status !== 0) {
    const r = s.mender("rollback");
    if (process.env.MBD_FAULT_DEBUG) process.stdout.write(`--- rollback log:\n${r.log}\n`);
    s.reboot();
  }
  invariants(s, "after commit/rollback", check);
  return c.status;
}

/**
 * Installs v2 again (if not already running it) and commits: the device must end on v2. A failed
 * ArtifactRollback is the exception: the client then marks the Artifact '<name>_INCONSISTENT'
 * (Mender's documented outcome: only a full image fixes it), and all that is asked of the module
 * is that the environment boots a complete, verified image, which invariants() checks.
 */
function recover(s: ClientSandbox, art: string, check: Check): void {
  const provides = s.provides();
  if (process.env.MBD_FAULT_DEBUG) process.stdout.write(`--- provides: ${JSON.stringify([...provides])}\n`);
  if (/_INCONSISTENT$/.test(provides.get("artifact_name") ?? "")) {
    check.notes.push(`client marked ${provides.get("artifact_name")}; env boots ${s.env().mender_boot_part} (verified image)`);
    return;
  }
  if (provides.get("rootfs-image.checksum") !== sum2) {
    const r = s.mender("install", art);
    if (process.env.MBD_FAULT_DEBUG) process.stdout.write(`--- retry install log:\n${r.log}\n`);
    if (r.status !== 0) {
      check.ok = false;
      check.notes.push(`retry install failed: ${r.log.split("\n").filter((l) => /error/i.test(l)).slice(-2).join(" | ")}`);
      return;
    }
    s.reboot();
    const c = s.mender("commit");
    if (c.status !== 0) {
      check.ok = false;
      check.notes.push("commit after the retry failed");
      return;
    }
  }
  invariants(s, "after recovery", check);
  const e = s.env();
  if (e.mender_boot_part !== "3" || e.upgrade_available !== "0" || s.provides().get("rootfs-image.checksum") !== sum2) {
    check.ok = false;
    check.notes.push(`not on v2 after recovery: ${JSON.stringify(e)}`);
  }
}

/**
 * The module's error reaches the client's log as one line: exactly one line mentions the I/O
 * error (EIO) and none is a stack trace (an untyped error).
 */
function oneErrorLine(log: string, check: Check): void {
  const lines = log.split("\n").filter((l) => /EIO/.test(l));
  if (lines.length !== 1 || /^\s+at /m.test(log)) {
    check.ok = false;
    check.notes.push(`expected one error line about EIO and no stack trace, got ${lines.length}: ${lines.join(" | ").slice(0, 300)}`);
  }
}

/** Checks the faulted install's outcome (Case.outcome), right after it and before the client's next step. */
function checkOutcome(s: ClientSandbox, outcome: "installed" | "refused", status: number | null, envBefore: Map<string, string>, check: Check): void {
  const fail = (m: string): void => {
    check.ok = false;
    check.notes.push(m);
  };
  const e = s.env();
  if (outcome === "installed") {
    if (status !== 0) fail(`the install exited ${status}`);
    if (e.mender_boot_part !== "3" || e.mender_boot_part_hex !== "3" || e.upgrade_available !== "1") fail(`the env does not boot B with the upgrade pending: ${JSON.stringify(e)}`);
    else if (sha256Direct(s.loops[1], imageBytes) !== sum2) fail("B does not hold v2");
    else check.notes.push("B holds v2, env boots B (upgrade pending)");
    return;
  }
  if (status === 0) fail("the install succeeded");
  const now = s.bootEnv.read();
  const changed = [...new Set([...envBefore.keys(), ...now.keys()])].filter((k) => envBefore.get(k) !== now.get(k));
  if (changed.length > 0 || now.get("mender_boot_part") !== "2") fail(`the env changed: ${changed.map((k) => `${k}: ${envBefore.get(k)} -> ${now.get(k)}`).join(", ")}`);
  const shown = s.mender("show-artifact");
  // The name is the one line that is not the client's log (stdout and stderr arrive together).
  const name = shown.log.split("\n").filter((l) => l && !l.startsWith("time=")).pop();
  if (shown.status !== 0 || name !== SEED_NAME) fail(`mender show-artifact: ${JSON.stringify(name)} (exit ${shown.status}), expected ${SEED_NAME}`);
  if (check.ok) check.notes.push(`env unchanged (boots A), show-artifact: ${name}`);
}

interface Case {
  name: string;
  /** Runs the scenario with the fault armed; returns the status of the faulted client command. */
  run(s: ClientSandbox, art: string): number | null;
  /** A redundant (two-copy) U-Boot environment, several KiB long, so a cut write lands inside the data. */
  redundantEnv?: boolean;
  /** fw_setenv is cut mid-write: check allOrNothing() right after the fault. */
  cutWrite?: boolean;
  /** The faulted client command's log (with the module's stderr) must match. */
  log?: RegExp;
  /** ... and show these steps after it: the module's exit code, the client's rollback path. */
  next?: RegExp[];
  /**
   * While the faulted command runs, partition A is a file served through FUSE with these read
   * faults (the kernel makes them: faulty-file.ts); `happened` tells from the server's counters
   * that the fault really occurred.
   */
  activeFaults?: { faults: () => Faults; happened: (c: ServerCounters) => boolean };
  /**
   * What the faulted install must end in. "installed": exit 0, the environment boots B with the
   * upgrade pending, and the client's commit after the reboot succeeds. "refused": a non-zero
   * exit, the environment exactly as before (booting A) and `mender show-artifact` still naming
   * the running release.
   */
  outcome?: "installed" | "refused";
  /** The fault stops the install before it writes B: B still holds the zeros eraseB() left. */
  bUntouched?: boolean;
}

/** The log of the client command that ran with the fault armed. */
let faultedLog = "";

function installWith(arm: (s: ClientSandbox) => void): Case["run"] {
  return (s, art) => {
    arm(s);
    const r = s.mender("install", art);
    faultedLog = r.log;
    return r.status;
  };
}

function commitWith(arm: (s: ClientSandbox) => void): Case["run"] {
  return (s, art) => {
    assert.equal(s.mender("install", art).status, 0);
    s.reboot();
    arm(s);
    const r = s.mender("commit");
    faultedLog = r.log;
    return r.status;
  };
}

function rollbackWith(arm: (s: ClientSandbox) => void): Case["run"] {
  return (s, art) => {
    assert.equal(s.mender("install", art).status, 0);
    arm(s);
    const r = s.mender("rollback");
    faultedLog = r.log;
    if (process.env.MBD_FAULT_DEBUG) process.stdout.write(`--- faulted rollback log:\n${r.log}\n`);
    return r.status;
  };
}

/** The module's message when fw_setenv dies part-way: the tool, how it ended, what the environment reads now. */
const CUT_MESSAGE = /fw_setenv -s - failed \(killed by SIGXFSZ\): .*; the boot environment reads back unchanged/;
/** After ArtifactInstall fails: exit 1, the client runs ArtifactRollback, which finds the environment still on A. */
const INSTALL_FAILED = [/Installation failed: Update module terminated abnormally: exit status 1/, /boot environment already points at partition 2; nothing to roll back/];
/** `mender install` with nothing armed: the fault is elsewhere (Case.activeFaults: the partition itself). */
const PLAIN_INSTALL = installWith(() => {});
/** After Download fails: the client saw the module exit 1. */
const DOWNLOAD_FAILED = [/Download failed: .*Update module terminated abnormally: exit status 1/];
/** After ArtifactCommit fails: exit 1, the client runs ArtifactRollback, which switches back to A. */
const COMMIT_FAILED = [/Commit failed: Update module terminated abnormally: exit status 1/, /rolled back the boot environment to partition 2/];
/** After ArtifactRollback fails: exit 1, reported by the client (which then marks the Artifact _INCONSISTENT). */
const ROLLBACK_FAILED = [/Error rolling back: Update module terminated abnormally: exit status 1/];

const DOWNLOAD_POINTS = ["checking the active partition", "active partition matches", "applying ", "progress", "wrote [0-9]* bytes", "new image verified"];

const CASES: Case[] = [
  ...DOWNLOAD_POINTS.map((p): Case => ({ name: `SIGKILL in Download at "${p}"`, run: installWith((s) => killModuleAt(s, "Download", p)) })),
  { name: "SIGKILL in ArtifactInstall before fw_setenv", run: installWith((s) => faultFwSetenv(s, "ArtifactInstall", "kill-module-before")) },
  { name: "SIGKILL in ArtifactInstall after fw_setenv", run: installWith((s) => faultFwSetenv(s, "ArtifactInstall", "kill-module-after")) },
  { name: "fw_setenv fails in ArtifactInstall", run: installWith((s) => faultFwSetenv(s, "ArtifactInstall", "fail")) },
  { name: "fw_setenv killed in ArtifactInstall", run: installWith((s) => faultFwSetenv(s, "ArtifactInstall", "killed")) },
  { name: "SIGKILL in ArtifactCommit before fw_setenv", run: commitWith((s) => faultFwSetenv(s, "ArtifactCommit", "kill-module-before")) },
  { name: "SIGKILL in ArtifactCommit after fw_setenv", run: commitWith((s) => faultFwSetenv(s, "ArtifactCommit", "kill-module-after")) },
  { name: "fw_setenv fails in ArtifactCommit", run: commitWith((s) => faultFwSetenv(s, "ArtifactCommit", "fail")) },
  { name: "SIGKILL in ArtifactRollback before fw_setenv", run: rollbackWith((s) => faultFwSetenv(s, "ArtifactRollback", "kill-module-before")) },
  { name: "SIGKILL in ArtifactRollback after fw_setenv", run: rollbackWith((s) => faultFwSetenv(s, "ArtifactRollback", "kill-module-after")) },
  { name: "fw_setenv fails in ArtifactRollback", run: rollbackWith((s) => faultFwSetenv(s, "ArtifactRollback", "fail")) },
  {
    name: "target partition smaller than the image (ENOSPC)",
    run: (s, art) => {
      // Shrink B's backing file and tell the loop device; give it its size back afterwards.
      const backing = path.join(work, "partB.img");
      const resize = (bytes: number): void => {
        fs.truncateSync(backing, bytes);
        execFileSync("losetup", ["-c", s.loops[1]]);
      };
      resize(2 << 20);
      try {
        const r = s.mender("install", art);
        if (!/does not fit|too small|ENOSPC|no space/i.test(r.log)) throw new Error(`no clear message about the size: ${r.log.split("\n").filter((l) => /mender-binary-delta/.test(l)).slice(-3).join(" | ")}`);
        fs.appendFileSync(path.join(work, "fired"), "enospc\n");
        return r.status;
      } finally {
        resize(PART_BYTES);
      }
    },
  },
  ...[
    { state: "ArtifactInstall", bytes: 512, run: installWith, next: INSTALL_FAILED },
    { state: "ArtifactInstall", bytes: 4096, run: installWith, next: INSTALL_FAILED },
    { state: "ArtifactCommit", bytes: 4096, run: commitWith, next: COMMIT_FAILED },
    { state: "ArtifactRollback", bytes: 512, run: rollbackWith, next: ROLLBACK_FAILED },
  ].map(
    (p): Case => ({
      name: `fw_setenv cut at ${p.bytes} B in ${p.state} (redundant env)`,
      run: p.run((s) => faultFwSetenv(s, p.state, { cutAfterBytes: p.bytes })),
      redundantEnv: true,
      cutWrite: true,
      log: CUT_MESSAGE,
      next: p.next,
    }),
  ),
  {
    name: "fw_setenv fails in ArtifactInstall (redundant env)",
    run: installWith((s) => faultFwSetenv(s, "ArtifactInstall", "fail")),
    redundantEnv: true,
    log: /fw_setenv -s - failed \(exit 1\): fw_setenv: Cannot write environment: Input\/output error; the boot environment reads back unchanged/,
    next: INSTALL_FAILED,
  },
  {
    name: "short reads of the active partition (FUSE, 1..4093 B each)",
    run: PLAIN_INSTALL,
    activeFaults: { faults: () => ({ maxReplyBytes: 4093 }), happened: (c) => c.shortReplies > 100 },
    outcome: "installed",
  },
  {
    name: "EIO from the active partition in the source check (FUSE)",
    run: PLAIN_INSTALL,
    activeFaults: { faults: () => ({ eio: { from: 1 << 20, to: (1 << 20) + 512 } }), happened: (c) => c.eioReplies > 0 },
    outcome: "refused",
    next: DOWNLOAD_FAILED,
    log: /reading \S*mmcblk0p2 at byte 1048576 failed: EIO/,
    bUntouched: true,
  },
  {
    name: "EIO from the active partition while decoding (FUSE)",
    run: PLAIN_INSTALL,
    // Every read fails once the source check has read the whole image (storage failing after the check).
    activeFaults: { faults: () => ({ eio: { from: 0, to: 1 << 30, afterBytes: imageBytes } }), happened: (c) => c.eioReplies > 0 },
    outcome: "refused",
    next: DOWNLOAD_FAILED,
    log: /applying \S+ failed after \d+ bytes .*reading \S*mmcblk0p2 at byte \d+ failed: EIO/,
  },
  ...[0.05, 0.3, 0.55, 0.8, 0.97].map(
    (f): Case => ({
      name: `Artifact stream cut at ${Math.round(f * 100)}%`,
      run: (s, art) => {
        const bytes = fs.readFileSync(art);
        const cut = path.join(s.art, "cut.mender");
        fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * f)));
        fs.appendFileSync(path.join(work, "fired"), "cut\n");
        return s.mender("install", cut).status;
      },
    }),
  ),
];

/** MBD_FAULT_CASES=<substring>: run only the matching cases (debugging). */
const SELECTED = CASES.filter((c) => !process.env.MBD_FAULT_CASES || c.name.includes(process.env.MBD_FAULT_CASES));

/** One test per case, in this order (they share the sandbox); a failure names its case and what broke. */
for (const c of SELECTED) {
  test(`fault injection: ${c.name}`, async (t) => {
    if (!needRoot(t, "loop devices, mounts and mount namespaces") || !needTools(t, ...TOOLS)) return;
    assert.ok(ready && sb, "sandbox set up");
    const s = sb;
    if (c.activeFaults && !fs.existsSync("/dev/fuse")) {
      assert.ok(!REQUIRE_PEERS, "/dev/fuse is missing (the source read fault cases need it); REQUIRE_PEERS=1 forbids skipping");
      process.stderr.write(`SKIPPED: ${c.name} (no /dev/fuse)\n`);
      t.skip("no /dev/fuse");
      return;
    }
    s.envCopies = c.redundantEnv ? 2 : 1;
    s.reset();
    // Real environments are a few KiB (bootcmd, bootargs, ...): a cut write then ends inside the
    // data. (Eight variables: fw_setenv -s reads lines of at most 4 KiB.)
    if (c.redundantEnv) s.bootEnv.set(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`board_filler_${i}`, "x".repeat(1000)])));
    s.setModule(moduleCmd());
    // B must not hold v2 already (an earlier case installed it): the module leaves bytes that are right as they are.
    s.eraseB(imageBytes);
    seed(s);
    const art = deltaArtifact(s);
    const firedLog = path.join(work, "fired");
    fs.rmSync(firedLog, { force: true });
    const check: Check = { ok: true, notes: [] };
    let status: number | null = null;
    faultedLog = "";
    const envBefore = s.bootEnv.read();
    let served: FaultyFile | undefined;
    let counters: ServerCounters | undefined;
    const stopServing = async (): Promise<void> => {
      if (!served) return;
      const f = served;
      served = undefined;
      s.serveActiveFrom(undefined);
      counters = await f.close();
    };
    try {
      if (c.activeFaults) {
        served = await serveFaultyFile(path.join(work, "fuse"), path.join(work, "partA.img"), "mmcblk0p2", c.activeFaults.faults());
        s.serveActiveFrom(served.path);
      }
      status = c.run(s, art);
      if (process.env.MBD_FAULT_DEBUG) process.stdout.write(`--- faulted command log:\n${faultedLog}\n`);
      if (c.log) {
        const line = faultedLog.split("\n").find((l) => c.log!.test(l));
        if (line) check.notes.push(`module: ${line.replace(/^.*?(fw_setenv -s - failed|reading \S+ at|applying )/, "$1").replace(/"$/, "").slice(0, 150)}`);
        else {
          check.ok = false;
          check.notes.push(`no module message matching ${c.log} in the client's log`);
        }
        if (c.activeFaults) oneErrorLine(faultedLog, check);
      }
      for (const step of c.next ?? []) {
        if (step.test(faultedLog)) continue;
        check.ok = false;
        check.notes.push(`the client's log lacks ${step}`);
      }
      if (c.cutWrite) allOrNothing(s, check);
      // Disarm: the client's next actions run without the fault.
      s.setModule(moduleCmd());
      for (const m of ["kill-marker", "fw-marker", "env-before", "env-batch", "env-after-cut", "env-copies-after-cut"]) fs.rmSync(path.join(work, m), { recursive: true, force: true });
      await stopServing();
      invariants(s, "right after the fault", check);
      if (c.outcome) checkOutcome(s, c.outcome, status, envBefore, check);
      if (c.bUntouched && sha256Direct(s.loops[1], imageBytes) !== sha256(Buffer.alloc(imageBytes))) {
        check.ok = false;
        check.notes.push("B was written although the source check failed");
      }
      const commit = settle(s, check);
      if (c.outcome === "installed") {
        if (commit === 0) check.notes.push("commit after the reboot: exit 0");
        else {
          check.ok = false;
          check.notes.push(`the client's commit after the reboot ${commit === undefined ? "did not run (no update pending)" : `failed (exit ${commit})`}`);
        }
      }
      recover(s, art, check);
    } catch (err) {
      check.ok = false;
      check.notes.push(`exception: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await stopServing();
    }
    let fired = fs.existsSync(firedLog);
    if (c.activeFaults) {
      fired = counters !== undefined && c.activeFaults.happened(counters);
      check.notes.push(`FUSE replies: ${counters ? `${counters.reads} reads, ${counters.shortReplies} short, ${counters.eioReplies} EIO` : "none"}`);
      if (!fired) check.ok = false;
    }
    s.setModule(moduleCmd());
    const row = `${fired ? "fault hit" : "not hit"}, client exit ${String(status)}: ${check.notes.join("; ")}`;
    t.diagnostic(row);
    assert.ok(check.ok, `${c.name} (module: ${moduleCmd().length === 1 ? `${path.basename(moduleCmd()[0]!)} (built)` : "tsx src/cli/device.ts"}): ${row}`);
  });
}
