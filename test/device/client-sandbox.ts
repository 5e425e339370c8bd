/**
 * A sandbox for the real Mender 3.4 client in standalone mode (`mender install|commit|rollback`):
 * a private mount namespace per command bind-mounts our modules directory over
 * /usr/share/mender/modules/v3 and our /etc/mender (neither is configurable in 3.x); two loop
 * devices are RootfsPartA/B; the active one is mounted read-only in that namespace and is "the
 * mounted root" for the module (MENDER_BINARY_DELTA_TEST_ROOT); fw_printenv/fw_setenv use a file-backed U-Boot env.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { makeBootEnv, moduleCommand, type BootEnvFixture } from "./fixtures";

export const DEVICE_TYPE = "test-device";
const INITIAL_ENV = { mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0", bootcount: "0" };

export interface MenderRun {
  status: number | null;
  log: string;
}

export class ClientSandbox {
  readonly modules: string;
  readonly etc: string;
  readonly data: string;
  readonly art: string;
  readonly rootMount: string;
  readonly loops: [string, string];
  readonly parts: [string, string];
  bootEnv!: BootEnvFixture;
  /** Copies of the U-Boot environment that reset() makes: 2 is a redundant environment. */
  envCopies: 1 | 2 = 1;
  /** The partition "booted": mounted read-only on rootMount inside each command's namespace. */
  private booted: 2 | 3 = 2;
  private runs = 0;
  /** What the module takes as the mounted root (MENDER_BINARY_DELTA_TEST_ROOT): see serveActiveFrom. */
  private testRoot: string;

  /** `partFiles`: the two partition image files (A holds the running image). */
  constructor(
    readonly dir: string,
    partFiles: [string, string],
    moduleCmd: string[] = moduleCommand(),
  ) {
    this.modules = path.join(dir, "modules");
    this.etc = path.join(dir, "etc-mender");
    this.data = path.join(dir, "data");
    this.art = path.join(dir, "art");
    this.rootMount = path.join(dir, "root");
    this.testRoot = this.rootMount;
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
      fs.writeFileSync(path.join(this.etc, "artifact_info"), "artifact_name=initial\n");
      // The module's own configuration at its default path (the sandbox's /etc/mender).
      fs.writeFileSync(path.join(this.etc, "mender-binary-delta.conf"), JSON.stringify({ RootfsPartA: this.parts[0], RootfsPartB: this.parts[1] }, null, 2));
      fs.writeFileSync(
        path.join(dir, "mender.conf"),
        JSON.stringify({ ModuleTimeoutSeconds: 300, ServerURL: "https://127.0.0.1:1" }, null, 2),
      );
      this.reset();
    } catch (err) {
      this.close(); // no loop device left behind
      throw err;
    }
  }

  /** The module the client runs: `cmd` plus the state arguments. */
  setModule(cmd: string[]): void {
    const quoted = cmd.map((c) => `'${c}'`).join(" ");
    fs.writeFileSync(path.join(this.modules, "mender-binary-delta"), `#!/bin/sh\nexec ${quoted} "$@"\n`, { mode: 0o755 });
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

  /** Runs `mender <args>` in a private mount namespace; returns its exit code and log. */
  mender(...args: string[]): MenderRun {
    const log = path.join(this.dir, "log", `mender-${String(++this.runs).padStart(2, "0")}-${args[0]}.log`);
    const script =
      `mount -o ro -t ext4 '${this.loops[this.booted - 2]}' '${this.rootMount}' && ` +
      `mount --bind '${this.modules}' /usr/share/mender/modules/v3 && mount --bind '${this.etc}' /etc/mender && ` +
      `exec mender --config '${path.join(this.dir, "mender.conf")}' --fallback-config '${path.join(this.dir, "none.conf")}' ` +
      `--data '${this.data}' --log-level info --no-syslog "$@"`;
    const r = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", script, "sh", ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${this.bootEnv.binDir}:${process.env.PATH}`,
        MENDER_BINARY_DELTA_TEST_ROOT: this.testRoot,
      },
      timeout: 600_000,
    });
    const text = `${r.stdout}${r.stderr}`;
    fs.writeFileSync(log, text);
    return { status: r.status, log: text };
  }

  provides(): Map<string, string> {
    const r = this.mender("show-provides");
    return new Map(
      r.log
        .split("\n")
        .filter((l) => /^[\w.-]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]),
    );
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
