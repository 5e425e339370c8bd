/**
 * A grub-mender-grubenv environment for the tests, through the stand-ins in grub-standin/ (no GRUB
 * package is installed here): two GRUB environment block copies with their lock files, laid out as
 * upstream's make-env-and-lock-files does, and read back by parsing the blocks themselves.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const GRUB_STANDIN_DIR = path.join(__dirname, "grub-standin");
const EDITENV = path.join(GRUB_STANDIN_DIR, "grub-editenv");
const SIGNATURE = "# GRUB Environment Block\n";

export interface GrubEnvFixture {
  dir: string;
  /** What the module's environment needs: the stand-ins on PATH, MENDER_GRUBENV_DIR. */
  processEnv(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** The variables of copy 1, parsed from the block; throws if copy 2 differs. */
  read(): Map<string, string>;
  /** Sets variables with grub-editenv in both copies (as GRUB itself and grub-editenv users do). */
  set(vars: Record<string, string>): void;
}

/** Variables of a GRUB environment block: `name=value` lines, `\` escapes the next byte, `#` lines are padding. */
export function parseGrubEnvBlock(block: Buffer): Map<string, string> {
  const text = block.toString("latin1");
  if (block.length !== 1024 || !text.startsWith(SIGNATURE)) throw new Error("not a 1024-byte GRUB environment block");
  const vars = new Map<string, string>();
  for (const line of text.slice(SIGNATURE.length).match(/(?:\\[\s\S]|[^\\\n])*(?:\n|$)/g) ?? []) {
    const eq = line.indexOf("=");
    if (line.startsWith("#") || eq <= 0) continue;
    const value = line.slice(eq + 1).replace(/\n$/, "").replace(/\\([\s\S])/g, "$1");
    vars.set(line.slice(0, eq), Buffer.from(value, "latin1").toString("utf8"));
  }
  return vars;
}

export function makeGrubEnv(dir: string, initial: Record<string, string>): GrubEnvFixture {
  const copies = [1, 2].map((n) => path.join(dir, `mender_grubenv${n}`));
  for (const copy of copies) {
    fs.mkdirSync(copy, { recursive: true });
    execFileSync(EDITENV, [path.join(copy, "env"), "create"]);
    execFileSync(EDITENV, [path.join(copy, "lock"), "create"]);
    execFileSync(EDITENV, [path.join(copy, "lock"), "set", "editing=0"]);
    execFileSync("sh", ["-c", "sha256sum lock > lock.sha256sum"], { cwd: copy });
  }
  const set = (vars: Record<string, string>): void => {
    for (const copy of copies) execFileSync(EDITENV, [path.join(copy, "env"), "set", ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)]);
  };
  const read = (): Map<string, string> => {
    const [one, two] = copies.map((c) => parseGrubEnvBlock(fs.readFileSync(path.join(c, "env"))));
    if (JSON.stringify([...one!]) !== JSON.stringify([...two!])) throw new Error("the two GRUB environment copies differ");
    return one!;
  };
  const processEnv = (base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv => ({
    ...base,
    PATH: `${GRUB_STANDIN_DIR}:${base.PATH}`,
    MENDER_GRUBENV_DIR: dir,
  });
  set(initial);
  return { dir, processEnv, read, set };
}
