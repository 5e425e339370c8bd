/**
 * The bootloader environment, through the same tools and in the same discovery order as the Mender
 * client: GRUB's grub-mender-grubenv-print/-set, systemd-boot's, then U-Boot's fw_printenv/fw_setenv
 * (all found on PATH). Writes go in one `<set> -s -` batch (script on stdin), which the tools apply
 * atomically: a power cut leaves the old or the new environment, never half of each.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { MenderDeltaError } from "../errors";

const TOOL_PAIRS: [print: string, set: string][] = [
  ["grub-mender-grubenv-print", "grub-mender-grubenv-set"],
  ["systemd-boot-printenv", "systemd-boot-setenv"],
  ["fw_printenv", "fw_setenv"],
];

const VERIFIED_VARIABLES = new Set(["mender_boot_part", "upgrade_available", "bootcount"]);

export interface BootEnv {
  readonly printTool: string;
  readonly setTool: string;
  /** Every variable (values as printed). */
  readAll(): Map<string, string>;
  /** Sets all of `vars` in one atomic batch, after the canary check. */
  write(vars: Record<string, string>): void;
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(":")) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Parses `name=value` lines (the value may itself contain '='). */
export function parseEnvListing(text: string, tool: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new MenderDeltaError(`unexpected line from ${tool}: ${JSON.stringify(line)} (expected name=value)`);
    vars.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return vars;
}

/** U-Boot sets mender_saveenv_canary=1 when it can save its environment; without it writes would be lost. */
function checkCanary(vars: Map<string, string>, tool: string): void {
  if (vars.get("mender_check_saveenv_canary") === "1" && vars.get("mender_saveenv_canary") !== "1") {
    throw new MenderDeltaError(
      `the boot environment failed the mender_saveenv_canary check (read with ${tool}): U-Boot did not manage to ` +
        `save its environment at boot, so the environment tools do not see the one U-Boot uses. ` +
        `Check the fw_env.config offsets against U-Boot's CONFIG_ENV_OFFSET/CONFIG_ENV_SIZE.`,
    );
  }
}

class ToolBootEnv implements BootEnv {
  constructor(
    readonly printTool: string,
    readonly setTool: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  private readRaw(): Map<string, string> {
    const r = spawnSync(this.printTool, [], { encoding: "utf8", env: this.env });
    if (r.error) throw new MenderDeltaError(`cannot run ${this.printTool}: ${r.error.message}`);
    if (r.status !== 0) {
      throw new MenderDeltaError(
        `${this.printTool} failed (exit ${r.status}): ${r.stderr.trim() || "no message"}; cannot read the boot environment`,
      );
    }
    return parseEnvListing(r.stdout, this.printTool);
  }

  /**
   * What a failed write left behind, read back rather than assumed: the tool may have died part-way
   * through writing. A redundant environment then still reads as the old copy; a single copy may not.
   */
  private afterFailedWrite(before: Map<string, string>, vars: Record<string, string>): string {
    let now: Map<string, string>;
    try {
      now = this.readRaw();
    } catch (err) {
      return `reading the boot environment back failed too (${(err as Error).message}): it may be damaged; repair it before the device reboots`;
    }
    const changed = Object.keys(vars).filter((k) => now.get(k) !== before.get(k));
    if (changed.length === 0) return "the boot environment reads back unchanged";
    if (Object.entries(vars).every(([k, v]) => now.get(k) === v)) return "yet the boot environment reads back with all the new values";
    return `the boot environment reads back partly changed (${changed.map((k) => `${k}=${now.get(k) ?? "unset"}`).join(", ")})`;
  }

  readAll(): Map<string, string> {
    const vars = this.readRaw();
    checkCanary(vars, this.printTool);
    return vars;
  }

  write(vars: Record<string, string>): void {
    const before = this.readRaw();
    checkCanary(before, this.printTool);
    const script = Object.entries(vars)
      .map(([k, v]) => `${k}=${v}\n`)
      .join("");
    const r = spawnSync(this.setTool, ["-s", "-"], { input: script, encoding: "utf8", env: this.env });
    if (r.error) throw new MenderDeltaError(`cannot run ${this.setTool}: ${r.error.message}`);
    if (r.status !== 0) {
      const how = r.status === null ? `killed by ${r.signal}` : `exit ${r.status}`;
      throw new MenderDeltaError(
        `${this.setTool} -s - failed (${how}): ${r.stderr.trim() || "no message"}; ${this.afterFailedWrite(before, vars)}`,
      );
    }
    // Read back what the bootloader acts on: a tool that silently drops the batch must not pass for
    // success. (GRUB's environment need not keep mender_boot_part_hex, which only U-Boot uses.)
    const after = this.readRaw();
    for (const [k, v] of Object.entries(vars)) {
      if (!VERIFIED_VARIABLES.has(k)) continue;
      if (after.get(k) !== v) {
        throw new MenderDeltaError(
          `${this.setTool} reported success but ${k} reads back as ${JSON.stringify(after.get(k) ?? null)}, not ${JSON.stringify(v)}`,
        );
      }
    }
  }
}

/** Finds the boot environment tools on PATH, in the client's order. */
export function openBootEnv(env: NodeJS.ProcessEnv = process.env): BootEnv {
  for (const [print, set] of TOOL_PAIRS) {
    const p = findOnPath(print, env);
    const s = findOnPath(set, env);
    if (p && s) return new ToolBootEnv(p, s, env);
  }
  throw new MenderDeltaError(
    `no boot environment tools found on PATH (${TOOL_PAIRS.map((t) => t.join("/")).join(", ")}); ` +
      `install libubootenv-tool (U-Boot) or grub-mender-grubenv (GRUB)`,
  );
}
