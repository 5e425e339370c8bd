/**
 * A sandbox for a real Mender client in standalone mode (`install|commit|rollback`): the Go client
 * `mender` 3.4 from Debian, or the C++ client `mender-update` 5.x. Two loop devices are RootfsPartA/B;
 * the active one is mounted read-only, inside a private mount namespace per command, and is "the
 * mounted root" for the module (MENDER_BINARY_DELTA_TEST_ROOT); fw_printenv/fw_setenv use a
 * file-backed U-Boot env.
 *
 * The clients find their files differently, and the sandbox gives each what it reads on a device:
 * - 3.4: the module path and /etc/mender are not configurable, so a private mount namespace per
 *   command bind-mounts our modules directory over /usr/share/mender/modules/v3 and our etc over
 *   /etc/mender; the module's partitions are in its own mender-binary-delta.conf there; the first
 *   provides come from a no-op module Artifact (3.4 cannot install bootstrap Artifacts).
 * - 5.x: MENDER_CONF_DIR, MENDER_DATA_DIR and MENDER_DATASTORE_DIR point the client at the sandbox
 *   (it passes them on to the module); RootfsPartA/B are only in the client's
 *   $MENDER_CONF_DIR/mender.conf, as meta-mender writes them; the first provides come from a
 *   bootstrap Artifact in the data store, as on a device built with Yocto.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { TestContext } from "node:test";
import { menderUpdatePath, needMenderUpdate, needTools } from "../helpers/peers";
import { makeBootEnv, makeImagePartitions, moduleCommand, type BootEnvFixture } from "./fixtures";

export const DEVICE_TYPE = "test-device";
/** The boot environment of a device running partition A (what reset() writes). */
export const INITIAL_ENV = { mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0", bootcount: "0" };
/** After an install onto B, before the reboot. */
export const SWITCHED_TO_B = { mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" };

/** A real Mender client the sandbox can run. */
export interface MenderClient {
  /** "3.4": the Go client `mender`; "5.1": the C++ client `mender-update`. */
  version: "3.4" | "5.1";
  label: string;
  /** True when it can run here; otherwise skips the test (or fails it under REQUIRE_PEERS=1). */
  available(t: TestContext): boolean;
}

export const MENDER_3_4: MenderClient = {
  version: "3.4",
  label: "mender 3.4",
  available: (t) => needTools(t, "mender", "unshare", "mount"),
};

export const MENDER_UPDATE_5_1: MenderClient = {
  version: "5.1",
  label: "mender-update 5.1",
  available: (t) => needMenderUpdate(t),
};

/** Every client the real-client suites run under. */
export const CLIENTS: MenderClient[] = [MENDER_3_4, MENDER_UPDATE_5_1];

/** The Update Module states each client calls, in order, per command (docs/device.md's table). */
export const CLIENT_STATES: Record<MenderClient["version"], Record<"install" | "commit" | "rollback" | "refusedDownload", string[]>> = {
  "3.4": {
    install: ["Download", "SupportsRollback", "ArtifactInstall", "NeedsArtifactReboot"],
    commit: ["ArtifactCommit", "Cleanup"],
    rollback: ["SupportsRollback", "ArtifactRollback", "Cleanup"],
    refusedDownload: ["Download", "Cleanup"],
  },
  "5.1": {
    install: ["ProvidePayloadFileSizes", "DownloadWithFileSizes", "ArtifactInstall", "NeedsArtifactReboot", "SupportsRollback"],
    commit: ["ArtifactCommit", "Cleanup"],
    rollback: ["SupportsRollback", "ArtifactRollback", "ArtifactFailure", "Cleanup"],
    refusedDownload: ["ProvidePayloadFileSizes", "DownloadWithFileSizes", "Cleanup"],
  },
};

export interface MenderRun {
  status: number | null;
  /** stdout and stderr together: the client's log with the module's stderr. */
  log: string;
  /** The client's answer alone (`show-provides` lines, `show-artifact`'s name, result lines). */
  stdout: string;
}

export class ClientSandbox {
  /** The Update Modules directory (MENDER_DATA_DIR/modules/v3 for 5.x). */
  readonly modules: string;
  /** The client's configuration directory (/etc/mender for 3.4, MENDER_CONF_DIR for 5.x). */
  readonly etc: string;
  /** MENDER_DATA_DIR for 5.x (modules, identity and inventory scripts). */
  readonly share: string;
  /** The client's data store (database, device_type, module work trees). */
  readonly data: string;
  readonly art: string;
  readonly rootMount: string;
  readonly loops: [string, string];
  readonly parts: [string, string];
  bootEnv!: BootEnvFixture;
  /** Copies of the U-Boot environment that reset() makes: 2 is a redundant environment. */
  envCopies: 1 | 2 = 1;
  /** The partition "booted": mounted (read-only unless rootMode says rw) on rootMount inside each command's namespace. */
  private booted: 2 | 3 = 2;
  /** How the running root is mounted while the client runs: "rw" is a device whose root is read-write. */
  rootMode: "ro" | "rw" = "ro";
  private runs = 0;
  /** What the module takes as the mounted root (MENDER_BINARY_DELTA_TEST_ROOT): see serveActiveFrom. */
  private testRoot: string;
  /** The states the module was called with since the last takeStates() (setModule's wrapper records them). */
  private readonly statesLog: string;
  /** Settings of the client's configuration file beyond the sandbox's own (configure()). */
  private extraConfig: Record<string, unknown> = {};

  /** `partFiles`: the two partition image files (A holds the running image). */
  constructor(
    readonly dir: string,
    partFiles: [string, string],
    moduleCmd: string[] = moduleCommand(),
    readonly client: MenderClient = MENDER_3_4,
  ) {
    this.share = path.join(dir, "share");
    this.modules = path.join(this.share, "modules", "v3");
    this.etc = path.join(dir, "etc-mender");
    this.data = path.join(dir, "data");
    this.art = path.join(dir, "art");
    this.rootMount = path.join(dir, "root");
    this.testRoot = this.rootMount;
    this.statesLog = path.join(dir, "log", "states");
    for (const d of [this.modules, this.etc, this.data, this.art, this.rootMount, path.join(dir, "dev"), path.join(dir, "log")]) {
      fs.mkdirSync(d, { recursive: true });
    }
    const a = execFileSync("losetup", ["-f", "--show", partFiles[0]], { encoding: "utf8" }).trim();
    let b: string;
    try {
      b = execFileSync("losetup", ["-f", "--show", partFiles[1]], { encoding: "utf8" }).trim();
    } catch (err) {
      execFileSync("losetup", ["-d", a]);
      throw err;
    }
    this.loops = [a, b];
    this.parts = [path.join(dir, "dev", "mmcblk0p2"), path.join(dir, "dev", "mmcblk0p3")];
    try {
      fs.symlinkSync(a, this.parts[0]);
      fs.symlinkSync(b, this.parts[1]);
      this.setModule(moduleCmd);
      // A module that does nothing, to seed the provides (3.4 rejects bootstrap Artifacts).
      fs.writeFileSync(path.join(this.modules, "noop-module"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      if (client.version === "3.4") {
        fs.writeFileSync(path.join(this.etc, "artifact_info"), "artifact_name=initial\n");
        // The module's own configuration at its default path (the sandbox's /etc/mender).
        fs.writeFileSync(path.join(this.etc, "mender-binary-delta.conf"), JSON.stringify({ RootfsPartA: this.parts[0], RootfsPartB: this.parts[1] }, null, 2));
      }
      this.writeConfig();
      this.reset();
    } catch (err) {
      this.close(); // no loop device left behind
      throw err;
    }
  }

  /** The client's configuration file: 3.4 reads it through --config, 5.x from MENDER_CONF_DIR. */
  get configFile(): string {
    return this.client.version === "3.4" ? path.join(this.dir, "mender.conf") : path.join(this.etc, "mender.conf");
  }

  /** Adds settings to the client's mender.conf (undefined removes one), e.g. ArtifactVerifyKey. */
  configure(settings: Record<string, unknown>): void {
    this.extraConfig = { ...this.extraConfig, ...settings };
    for (const [k, v] of Object.entries(settings)) if (v === undefined) delete this.extraConfig[k];
    this.writeConfig();
  }

  private writeConfig(): void {
    const base: Record<string, unknown> =
      this.client.version === "3.4"
        ? { ModuleTimeoutSeconds: 300, ServerURL: "https://127.0.0.1:1" }
        : // Only here: the module has to find them where the client and its rootfs-image module do.
          { ModuleTimeoutSeconds: 300, RootfsPartA: this.parts[0], RootfsPartB: this.parts[1] };
    fs.writeFileSync(this.configFile, JSON.stringify({ ...base, ...this.extraConfig }, null, 2));
  }

  /** The module the client runs: `cmd` plus the state arguments, behind a wrapper that records the state. */
  setModule(cmd: string[]): void {
    const quoted = cmd.map((c) => `'${c}'`).join(" ");
    fs.writeFileSync(
      path.join(this.modules, "mender-binary-delta"),
      `#!/bin/sh\necho "$1" >> '${this.statesLog}'\nexec ${quoted} "$@"\n`,
      { mode: 0o755 },
    );
  }

  /** The states the module was called with since the last call, in order. */
  takeStates(): string[] {
    const text = fs.existsSync(this.statesLog) ? fs.readFileSync(this.statesLog, "utf8") : "";
    fs.rmSync(this.statesLog, { force: true });
    return text.split("\n").filter(Boolean);
  }

  /**
   * Partition A becomes `file` (its device node links to it) and the module's mounted root is that
   * file: a stand-in for A, such as a FUSE-served file with read faults, while A is booted.
   * Undefined gives A its loop device and the mounted root back.
   */
  serveActiveFrom(file: string | undefined): void {
    fs.rmSync(this.parts[0]);
    fs.symlinkSync(file ?? this.loops[0], this.parts[0]);
    this.testRoot = file ?? this.rootMount;
  }

  /**
   * Zeroes the first `bytes` of partition B through its loop device (flushed), so that an install
   * has to write every byte of the new image: the module skips frames that already hold it.
   */
  eraseB(bytes: number): void {
    const fd = fs.openSync(this.loops[1], "r+");
    try {
      const zeros = Buffer.alloc(1 << 20);
      for (let at = 0; at < bytes; at += zeros.length) fs.writeSync(fd, zeros, 0, Math.min(zeros.length, bytes - at), at);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Fresh client database and boot environment, running partition A. */
  reset(): void {
    fs.rmSync(this.data, { recursive: true, force: true });
    fs.mkdirSync(this.data);
    fs.writeFileSync(path.join(this.data, "device_type"), `device_type=${DEVICE_TYPE}\n`);
    const envDir = path.join(this.dir, "env");
    fs.rmSync(envDir, { recursive: true, force: true });
    this.bootEnv = makeBootEnv(envDir, INITIAL_ENV, this.envCopies);
    this.boot(2);
    this.takeStates();
  }

  /**
   * The device runs release `name` with these provides (`key:value`), as installing it would have
   * left the client's database: 3.4 installs a no-op module Artifact; 5.x finds a bootstrap Artifact
   * in its data store and installs it on its first command (here: show-provides).
   */
  seed(name: string, provides: string[]): void {
    if (this.client.version === "3.4") {
      const r = this.mender("install", this.artifact(name, { type: "noop-module", provides }));
      if (r.status !== 0) throw new Error(`seeding the provides failed: ${r.log}`);
    } else {
      const args = ["write", "bootstrap-artifact", "-n", name, "-t", DEVICE_TYPE, "--no-progress", "-o", path.join(this.data, "bootstrap.mender")];
      for (const p of provides) args.push("-p", p);
      execFileSync("mender-artifact", args, { stdio: ["ignore", "ignore", "pipe"] });
      const r = this.mender("show-provides");
      if (r.status !== 0 || fs.existsSync(path.join(this.data, "bootstrap.mender"))) throw new Error(`the bootstrap Artifact was not installed: ${r.log}`);
    }
    this.takeStates();
  }

  /**
   * Simulated reboot: partition `n` is the root from now on. It is mounted (read-only) only inside
   * each command's private mount namespace: a mount in this namespace would be copied into every
   * namespace another test starts meanwhile and stay there, held, after a simulated reboot, and the
   * module rightly refuses to write a partition that is mounted anywhere.
   */
  boot(n: 2 | 3): void {
    this.booted = n;
  }

  /** Boots whatever mender_boot_part says (the bootloader's job). */
  reboot(): void {
    this.boot(this.bootEnv.read().get("mender_boot_part") === "3" ? 3 : 2);
  }

  env(): Record<string, string | undefined> {
    const e = this.bootEnv.read();
    return {
      mender_boot_part: e.get("mender_boot_part"),
      mender_boot_part_hex: e.get("mender_boot_part_hex"),
      upgrade_available: e.get("upgrade_available"),
      bootcount: e.get("bootcount"),
    };
  }

  /**
   * The environment the client runs in: the boot env tools' shims on PATH, the module's test root,
   * and for 5.x the client's directories (it reads them, and passes them on to the module).
   */
  clientEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${this.bootEnv.binDir}:${process.env.PATH}`,
      MENDER_BINARY_DELTA_TEST_ROOT: this.testRoot,
    };
    if (this.client.version === "5.1") Object.assign(env, { MENDER_CONF_DIR: this.etc, MENDER_DATA_DIR: this.share, MENDER_DATASTORE_DIR: this.data });
    return env;
  }

  /** The command line that runs the client with `args`, in a private mount namespace. */
  clientCommand(...args: string[]): string[] {
    const mountRoot = `mount -o ${this.rootMode} -t ext4 '${this.loops[this.booted - 2]}' '${this.rootMount}'`;
    if (this.client.version === "5.1") {
      return ["unshare", "-m", "--propagation", "private", "sh", "-c", `${mountRoot} && exec "$@"`, "sh", menderUpdatePath(), "--log-level", "info", ...args];
    }
    const script =
      `${mountRoot} && ` +
      `mount --bind '${this.modules}' /usr/share/mender/modules/v3 && mount --bind '${this.etc}' /etc/mender && ` +
      `exec mender --config '${this.configFile}' --fallback-config '${path.join(this.dir, "none.conf")}' ` +
      `--data '${this.data}' --log-level info --no-syslog "$@"`;
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", ...args];
  }

  /**
   * The device "runs" for a while: `script` (sh) runs with the booted partition mounted read-write
   * on $ROOT, in a private mount namespace, then it is unmounted (as at shutdown). Throws if it fails.
   */
  live(script: string): void {
    const r = spawnSync(
      "unshare",
      ["-m", "--propagation", "private", "sh", "-ec", `mount -o rw -t ext4 '${this.loops[this.booted - 2]}' "$ROOT"
${script}
sync`],
      { encoding: "utf8", env: { ...process.env, ROOT: this.rootMount }, timeout: 120_000 },
    );
    if (r.status !== 0) throw new Error(`the device's activity failed (exit ${r.status}): ${r.stderr}`);
  }

  /** Runs the client (`mender <args>` or `mender-update <args>`); returns its exit code and log. */
  mender(...args: string[]): MenderRun {
    const log = path.join(this.dir, "log", `client-${String(++this.runs).padStart(2, "0")}-${args[0]}.log`);
    const [cmd, ...rest] = this.clientCommand(...args);
    const r = spawnSync(cmd!, rest, { encoding: "utf8", env: this.clientEnv(), timeout: 600_000 });
    const text = `${r.stdout}${r.stderr}`;
    fs.writeFileSync(log, text);
    return { status: r.status, log: text, stdout: r.stdout };
  }

  provides(): Map<string, string> {
    const r = this.mender("show-provides");
    return new Map(
      r.stdout
        .split("\n")
        .filter((l) => /^[\w.-]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]),
    );
  }

  /** The name `show-artifact` prints. */
  artifactName(): string {
    return this.mender("show-artifact").stdout.trim().split("\n").pop() ?? "";
  }

  /** A module-image Artifact for `type` (mender-artifact 3.9), returned as a path. */
  artifact(
    name: string,
    o: { type?: string; file?: string; depends?: string[]; provides?: string[]; meta?: object; deviceType?: string; clears?: string[] },
  ): string {
    const out = path.join(this.art, `${name}.mender`);
    const args = ["write", "module-image", "-T", o.type ?? "mender-binary-delta", "-t", o.deviceType ?? DEVICE_TYPE, "-n", name, "-o", out];
    if (o.file) args.push("-f", o.file);
    for (const d of o.depends ?? []) args.push("-d", d);
    for (const p of o.provides ?? []) args.push("-p", p);
    args.push("--no-default-software-version");
    if (o.clears) for (const c of o.clears) args.push("--clears-provides", c);
    else args.push("--no-default-clears-provides");
    if (o.meta) {
      const meta = path.join(this.art, `${name}.meta.json`);
      fs.writeFileSync(meta, JSON.stringify(o.meta));
      args.push("-m", meta);
    }
    fs.rmSync(out, { force: true });
    execFileSync("mender-artifact", args, { stdio: ["ignore", "ignore", "pipe"] });
    return out;
  }

  close(): void {
    for (const l of this.loops) spawnSync("losetup", ["-d", l]);
  }
}

/**
 * A sandbox in `dir` for `client` whose partitions are image files there (partA.img, partB.img),
 * `partBytes` each: A holds `runningImage`, B zeros.
 */
export function sandboxOnImages(dir: string, runningImage: string, partBytes: number, client: MenderClient): ClientSandbox {
  fs.mkdirSync(dir, { recursive: true });
  const parts: [string, string] = [path.join(dir, "partA.img"), path.join(dir, "partB.img")];
  makeImagePartitions(parts[0], parts[1], runningImage, partBytes);
  return new ClientSandbox(path.join(dir, "sb"), parts, moduleCommand(), client);
}

/**
 * install, then the simulated reboot, then commit, each asserted: exit code 0, the client's states,
 * the boot environment (`switched` after the install, upgrade_available=0 after the commit).
 * Returns the install's log.
 */
export function installRebootCommit(s: ClientSandbox, artifact: string, switched: Record<string, string>): string {
  const states = CLIENT_STATES[s.client.version];
  let r = s.mender("install", artifact);
  assert.equal(r.status, 0, r.log);
  assert.deepEqual(s.takeStates(), states.install);
  assert.deepEqual(s.env(), switched);
  const installLog = r.log;
  s.reboot();
  r = s.mender("commit");
  assert.equal(r.status, 0, r.log);
  assert.deepEqual(s.takeStates(), states.commit);
  assert.equal(s.env().upgrade_available, "0");
  return installLog;
}
