/**
 * The bootloader environment, through the same tools and in the same discovery order as the Mender
 * client: GRUB's grub-mender-grubenv-print/-set, systemd-boot's, then U-Boot's fw_printenv/fw_setenv
 * (all found on PATH). Writes go in one `<set> -s -` batch (script on stdin), which the tools apply
 * atomically: a power cut leaves the old or the new environment, never half of each.
 *
 * Only the variables the module acts on are read, one per print call (`<print> NAME`): a U-Boot
 * environment may hold anything else - scripts set with `fw_setenv NAME "multi-line value"`, values
 * with `=`, empty values - and a full listing of it cannot be split back into variables (a line of a
 * multi-line value looks like `name=value` too). Asked for one name, every tool prints exactly
 * `NAME=VALUE\n`, so whatever VALUE holds is read back intact.
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

/** What the states act on (the canary pair is read by the check itself, when enabled). */
const STATE_VARIABLES = ["mender_boot_part", "upgrade_available"] as const;

const VERIFIED_VARIABLES = new Set(["mender_boot_part", "upgrade_available", "bootcount"]);

/**
 * Longest `name=value` script line written. libubootenv 0.3.2 reads the script with a 1024-byte
 * line buffer (later versions 2048): a longer line would be cut, and its tail read as another line.
 */
const MAX_SCRIPT_LINE = 1000;

export interface BootEnv {
  readonly printTool: string;
  readonly setTool: string;
  /** The variables the states act on (mender_boot_part, upgrade_available); undefined ones are absent. */
  read(): Map<string, string>;
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

/**
 * The value in the output of `<print> NAME`: `NAME=VALUE` and one newline; VALUE may hold newlines
 * and `=`. An empty VALUE is "" (libubootenv prints `NAME=` for an undefined variable as well; to
 * the states both mean "not set").
 */
export function parsePrintedVariable(stdout: string, name: string, tool: string): string {
  const prefix = `${name}=`;
  if (!stdout.startsWith(prefix)) {
    throw new MenderDeltaError(
      `unexpected output from ${tool} ${name}: ${JSON.stringify(stdout.slice(0, 80))} (expected ${prefix}VALUE); cannot read the boot environment`,
    );
  }
  return stdout.slice(prefix.length, stdout.endsWith("\n") ? -1 : undefined);
}

/** U-Boot's own fw_printenv (tools/env) says `## Error: "NAME" not defined` and exits 1; libubootenv prints `NAME=`. */
function saysNotDefined(stderr: string, name: string): boolean {
  return stderr.includes(`"${name}" not defined`);
}

/**
 * One `-s -` script line, or a refusal when the line could not carry exactly this one variable: a
 * line break would start another variable, a line longer than the tool's buffer is cut and its
 * tail read as another line, and grub-mender-grubenv-set turns the first run of spaces into `=`.
 * The module only writes partition numbers and flags, so anything else is a bug, never data.
 */
function scriptLine(name: string, value: string): string {
  const line = `${name}=${value}`;
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || !/^[\x21-\x7e]*$/.test(value) || line.length > MAX_SCRIPT_LINE) {
    const shown = JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}...` : line);
    throw new MenderDeltaError(
      `refusing to write ${shown} (${line.length} bytes) to the boot environment: a variable written in a '-s -' batch must be ` +
        `one line of at most ${MAX_SCRIPT_LINE} printable characters without spaces, or it could set other variables; nothing was written`,
    );
  }
  return `${line}\n`;
}

/** U-Boot sets mender_saveenv_canary=1 when it can save its environment; without it writes would be lost. */
function canaryError(tool: string): MenderDeltaError {
  return new MenderDeltaError(
    `the boot environment failed the mender_saveenv_canary check (read with ${tool}): U-Boot did not manage to ` +
      `save its environment at boot, so the environment tools do not see the one U-Boot uses. ` +
      `Check the fw_env.config offsets against U-Boot's CONFIG_ENV_OFFSET/CONFIG_ENV_SIZE.`,
  );
}

class ToolBootEnv implements BootEnv {
  constructor(
    readonly printTool: string,
    readonly setTool: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** One variable, exactly as stored; undefined when the tool says it is not defined. */
  private readVariable(name: string): string | undefined {
    const r = spawnSync(this.printTool, [name], { encoding: "utf8", env: this.env, maxBuffer: 64 << 20 });
    if (r.error) throw new MenderDeltaError(`cannot run ${this.printTool}: ${r.error.message}`);
    if (r.status !== 0) {
      if (r.stdout === "" && saysNotDefined(r.stderr, name)) return undefined;
      const how = r.status === null ? `killed by ${r.signal}` : `exit ${r.status}`;
      throw new MenderDeltaError(
        `${this.printTool} ${name} failed (${how}): ${r.stderr.trim() || "no message"}; cannot read the boot environment`,
      );
    }
    return parsePrintedVariable(r.stdout, name, this.printTool);
  }

  private readVariables(names: Iterable<string>): Map<string, string> {
    const vars = new Map<string, string>();
    for (const name of new Set(names)) {
      const value = this.readVariable(name);
      if (value !== undefined) vars.set(name, value);
    }
    return vars;
  }

  /** As the client: the canary is checked only where the environment asks for it. */
  private checkCanary(): void {
    if (this.readVariable("mender_check_saveenv_canary") !== "1") return;
    if (this.readVariable("mender_saveenv_canary") !== "1") throw canaryError(this.printTool);
  }

  /**
   * What a failed write left behind, read back rather than assumed: the tool may have died part-way
   * through writing. A redundant environment then still reads as the old copy; a single copy may not.
   */
  private afterFailedWrite(before: Map<string, string>, vars: Record<string, string>): string {
    let now: Map<string, string>;
    try {
      now = this.readVariables(Object.keys(vars));
    } catch (err) {
      return `reading the boot environment back failed too (${(err as Error).message}): it may be damaged; repair it before the device reboots`;
    }
    const changed = Object.keys(vars).filter((k) => now.get(k) !== before.get(k));
    if (changed.length === 0) return "the boot environment reads back unchanged";
    if (Object.entries(vars).every(([k, v]) => now.get(k) === v)) return "yet the boot environment reads back with all the new values";
    return `the boot environment reads back partly changed (${changed.map((k) => `${k}=${now.get(k) ?? "unset"}`).join(", ")})`;
  }

  read(): Map<string, string> {
    this.checkCanary();
    return this.readVariables(STATE_VARIABLES);
  }

  write(vars: Record<string, string>): void {
    // Every line is checked before the tool runs: a refused value writes nothing at all.
    const script = Object.entries(vars)
      .map(([k, v]) => scriptLine(k, v))
      .join("");
    this.checkCanary();
    const before = this.readVariables(Object.keys(vars));
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
    const verified = Object.keys(vars).filter((k) => VERIFIED_VARIABLES.has(k));
    const after = this.readVariables(verified);
    for (const k of verified) {
      if (after.get(k) !== vars[k]) {
        throw new MenderDeltaError(
          `${this.setTool} reported success but ${k} reads back as ${JSON.stringify(after.get(k) ?? null)}, not ${JSON.stringify(vars[k])}`,
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
