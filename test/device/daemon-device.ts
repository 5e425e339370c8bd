/**
 * A device running `mender-update daemon` in a ClientSandbox, with reboots: the client runs `reboot`
 * itself (the module answers NeedsArtifactReboot with Automatic), and a stand-in for it on PATH
 * asks this harness to power-cycle the device. The harness then stops the daemon (SIGTERM to its
 * process group, SIGKILL if it lingers), plays U-Boot's part (Mender's bootcount/bootlimit
 * integration, below), mounts the partition U-Boot boots as the root and starts the daemon again,
 * which resumes the deployment from its database as it does after a real reboot.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { ClientSandbox } from "./client-sandbox";

/** meta-mender's U-Boot environment: the new partition gets one try (bootcount > bootlimit falls back). */
const BOOTLIMIT = 1;

export class DaemonDevice {
  /** What the simulated boot loader did, one line per boot. */
  readonly boots: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly rebootRequests: string;
  private readonly bin: string;
  private readonly logFile: string;
  private handledReboots = 0;

  /** `broken`: partitions whose kernel does not come up (the board resets while booting them). */
  constructor(
    private readonly sb: ClientSandbox,
    private readonly broken: ReadonlySet<2 | 3> = new Set(),
  ) {
    this.bin = path.join(sb.dir, "reboot-bin");
    this.rebootRequests = path.join(sb.dir, "log", "reboot-requests");
    this.logFile = path.join(sb.dir, "log", "daemon.log");
    fs.mkdirSync(this.bin, { recursive: true });
    fs.rmSync(this.rebootRequests, { force: true });
    fs.rmSync(this.logFile, { force: true });
    fs.writeFileSync(path.join(this.bin, "reboot"), `#!/bin/sh\necho "reboot $*" >> '${this.rebootRequests}'\n`, { mode: 0o755 });
  }

  /** The daemon's log over all its runs. */
  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, "utf8") : "";
  }

  start(): void {
    const [cmd, ...args] = this.sb.clientCommand("daemon");
    const env = this.sb.clientEnv();
    env.PATH = `${this.bin}:${env.PATH}`;
    const out = fs.openSync(this.logFile, "a");
    fs.writeSync(out, `==== daemon started (root: partition ${this.sb.env().mender_boot_part}) ====\n`);
    try {
      // Its own process group: stopping the device stops the daemon and any module it runs.
      this.child = spawn(cmd!, args, { env, detached: true, stdio: ["ignore", out, out] });
    } finally {
      fs.closeSync(out);
    }
    const child = this.child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /** Power off: SIGTERM to the daemon's process group, SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const group = -child.pid!;
    try {
      process.kill(group, "SIGTERM");
    } catch {
      return; // already gone
    }
    const killer = setTimeout(() => {
      try {
        process.kill(group, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }, 5000);
    await this.exited;
    clearTimeout(killer);
    this.child = undefined;
  }

  /**
   * Runs the device (reboots included) until `done()` holds; fails after `timeoutMs` or when the
   * daemon exits by itself, with the daemon's log.
   */
  async runUntil(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
    if (!this.child) this.start();
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; daemon log:\n${this.log().slice(-6000)}`);
      if (this.child && (this.child.exitCode !== null || this.child.signalCode !== null)) {
        throw new Error(`the daemon exited (${this.child.exitCode ?? this.child.signalCode}) while waiting for ${what}; daemon log:\n${this.log().slice(-6000)}`);
      }
      const requests = fs.existsSync(this.rebootRequests) ? fs.readFileSync(this.rebootRequests, "utf8").split("\n").filter(Boolean).length : 0;
      if (requests > this.handledReboots) {
        this.handledReboots = requests;
        await this.stop();
        this.powerOn();
        this.start();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * U-Boot with Mender's integration: while upgrade_available=1 every boot counts, and past
   * bootlimit altbootcmd switches back to the other partition with upgrade_available=0. A broken
   * partition resets the board during its boot, which is the next boot attempt.
   */
  private powerOn(): void {
    for (let attempt = 0; attempt < 4; attempt++) {
      const env = this.sb.bootEnv.read();
      let part = Number(env.get("mender_boot_part"));
      let note = "";
      if (env.get("upgrade_available") === "1") {
        const bootcount = Number(env.get("bootcount") ?? "0") + 1;
        if (bootcount > BOOTLIMIT) {
          part = part === 2 ? 3 : 2;
          this.sb.bootEnv.set({ mender_boot_part: String(part), mender_boot_part_hex: part.toString(16), upgrade_available: "0", bootcount: String(bootcount) });
          note = `bootcount ${bootcount} > bootlimit ${BOOTLIMIT}: altbootcmd falls back; `;
        } else {
          this.sb.bootEnv.set({ bootcount: String(bootcount) });
          note = `bootcount ${bootcount}; `;
        }
      }
      if (this.broken.has(part as 2 | 3)) {
        this.boots.push(`${note}partition ${part} fails to boot (reset)`);
        continue;
      }
      this.sb.boot(part as 2 | 3);
      this.boots.push(`${note}booted partition ${part}`);
      return;
    }
    throw new Error(`the simulated device does not boot: ${this.boots.join("; ")}`);
  }
}
