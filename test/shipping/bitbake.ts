/**
 * Just enough of BitBake's metadata syntax to run a recipe's shell tasks without BitBake:
 * `require`/`include`, assignments (`=`, `?=`, `??=`, `:=`, `+=`, `=+`, `.=`, `=.`), overrides
 * (`VAR:arm`), `:append`/`:prepend`, line continuations, and shell functions. Python (`python`
 * functions, `${@...}` expressions) is not evaluated: a variable whose value needs it must be given
 * by the caller, as BitBake's configuration would (see `Recipe.expand`). The anonymous python
 * function can be run with python3 against given variable values and a stand-in for the few `bb`
 * functions it uses (`runAnonymous`).
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

type Op = "=" | "?=" | "??=" | ":=" | "+=" | "=+" | ".=" | "=.";
interface Assignment { op: Op; value: string; overrides: string[]; kind: "set" | "append" | "prepend" }

const ASSIGN = /^([A-Za-z0-9_\-${}.+/~[\]]+(?::[A-Za-z0-9_\-${}.+/~]+)*)\s*(\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)\s*"(.*)"\s*$/s;
// A function's name may carry overrides (do_install:x86-64): runShell takes that full name.
const FUNC_START = /^(python\s+)?([A-Za-z0-9_\-${}:]+)\s*\(\)\s*\{\s*$/;
const VAR_REF = /\$\{([A-Za-z0-9\-_+./~:]+)\}/g;

export class Recipe {
  readonly assignments = new Map<string, Assignment[]>();
  readonly shellFunctions = new Map<string, string>();
  readonly pythonFunctions = new Map<string, string>();
  /** Every `python __anonymous()` in parse order (a recipe and its includes may each have one; BitBake runs them all). */
  readonly anonymousFunctions: string[] = [];
  readonly tasks: string[] = [];

  /** file: a .bb; PN and PV come from its name (`<pn>_<pv>.bb`) as in BitBake. */
  constructor(readonly file: string) {
    const [pn, pv] = path.basename(file, ".bb").split("_");
    this.add("PN", { op: "=", value: pn!, overrides: [], kind: "set" });
    this.add("BPN", { op: "=", value: pn!.replace(/-native$/, ""), overrides: [], kind: "set" });
    this.add("PV", { op: "=", value: pv ?? "1.0", overrides: [], kind: "set" });
    this.parse(file);
  }

  private add(name: string, a: Assignment) {
    const list = this.assignments.get(name) ?? [];
    list.push(a);
    this.assignments.set(name, list);
  }

  private parse(file: string) {
    const lines = readFileSync(file, "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!;
      const func = FUNC_START.exec(line);
      if (func) {
        const body: string[] = [];
        while (++i < lines.length && lines[i] !== "}") body.push(lines[i]!);
        if (func[1] && func[2] === "__anonymous") this.anonymousFunctions.push(body.join("\n"));
        else (func[1] ? this.pythonFunctions : this.shellFunctions).set(func[2]!, body.join("\n"));
        continue;
      }
      while (line.endsWith("\\") && i + 1 < lines.length) line = `${line.slice(0, -1)}${lines[++i]}`;
      const trimmed = line.trim();
      if (trimmed === "" || trimmed.startsWith("#")) continue;
      const inc = /^(require|include)\s+(\S+)$/.exec(trimmed);
      if (inc) { this.parse(path.join(path.dirname(file), inc[2]!)); continue; }
      const task = /^addtask\s+(\S+)/.exec(trimmed);
      if (task) { this.tasks.push(task[1]!.replace(/^(do_)?/, "do_")); continue; }
      if (/^(inherit|export|unset|EXPORT_FUNCTIONS)\b/.test(trimmed)) continue;
      const m = ASSIGN.exec(trimmed);
      if (!m) throw new Error(`${file}:${i + 1}: not understood: ${trimmed}`);
      const [name, ...suffixes] = m[1]!.split(":");
      if (name!.includes("[")) continue; // variable flags (do_compile[noexec]) are not needed here
      const kind = suffixes.includes("append") ? "append" : suffixes.includes("prepend") ? "prepend" : "set";
      const overrides = suffixes.filter((s) => s !== "append" && s !== "prepend");
      this.add(name!, { op: m[2] as Op, value: m[3]!, overrides, kind });
    }
  }

  /**
   * The value of a variable-name expression as BitBake computes it, for the given active overrides
   * (e.g. ["arm"]) and configuration values (`conf`, what local.conf and bitbake.conf would set:
   * D, WORKDIR, datadir, MENDER_ROOTFS_PART_A, ...). A recipe's hard assignment beats `conf`;
   * its weak ones (`?=`, `??=`) do not; a python expression must come from `conf`.
   */
  value(name: string, overrides: string[], conf: Record<string, string>): string | undefined {
    const active = (a: Assignment) => a.overrides.every((o) => overrides.includes(this.expand(o, overrides, conf)));
    const all = (this.assignments.get(name) ?? []).filter(active);
    let value: string | undefined = conf[name];
    // Unqualified assignments in file order, then override-qualified ones, then :append/:prepend.
    const ordered = [
      ...all.filter((a) => a.kind === "set" && a.overrides.length === 0),
      ...all.filter((a) => a.kind === "set" && a.overrides.length > 0),
    ];
    for (const a of ordered) {
      if (a.op === "??=" || a.op === "?=") value ??= a.value;
      else if (a.op === "=" || a.op === ":=") { if (!(a.value.includes("${@") && name in conf)) value = a.value; }
      else value = combine(value ?? "", a.op, a.value);
    }
    for (const a of all.filter((x) => x.kind !== "set")) {
      value = a.kind === "append" ? `${value ?? ""}${a.value}` : `${a.value}${value ?? ""}`;
    }
    return value;
  }

  /** Expands ${VAR} references; unknown variables stay as they are (the shell sees them), like BitBake. */
  expand(text: string, overrides: string[], conf: Record<string, string>, depth = 0): string {
    if (depth > 20) throw new Error(`recursive expansion in: ${text}`);
    const out = text.replace(VAR_REF, (ref, name: string) => {
      const v = this.value(name, overrides, conf);
      return v === undefined ? ref : this.expand(v, overrides, conf, depth + 1);
    });
    if (out.includes("${@")) throw new Error(`python expression needs a value from the caller: ${out}`);
    return out;
  }

  /** Runs a shell task the way BitBake does (sh -e, bbfatal/bbnote available), in cwd. */
  runShell(task: string, overrides: string[], conf: Record<string, string>, cwd: string): SpawnSyncReturns<string> {
    const body = this.shellFunctions.get(task);
    if (body === undefined) throw new Error(`${this.file}: no shell function ${task}`);
    // do_install:x86-64 is not a valid sh function name.
    const shellName = task.replace(/[^A-Za-z0-9_]/g, "_");
    const script = [
      "set -e",
      'bbfatal() { echo "ERROR: $*" >&2; exit 1; }',
      'bbnote() { echo "NOTE: $*"; }',
      'bbwarn() { echo "WARNING: $*" >&2; }',
      `${shellName}() {`, this.expand(body, overrides, conf), "}",
      shellName,
    ].join("\n");
    return spawnSync("sh", ["-c", script], { cwd, encoding: "utf8" });
  }
}

/** The parts of BitBake's `bb` module the recipes' anonymous python uses, and a `d` that returns given values. */
const PYTHON_PRELUDE = `
import json, os, re, sys
class SkipRecipe(Exception):
    pass
class _Namespace:
    pass
def vercmp_string(a, b):
    pa, pb = [int(x) for x in re.findall(r"\\d+", a)], [int(x) for x in re.findall(r"\\d+", b)]
    return (pa > pb) - (pa < pb)
bb = _Namespace(); bb.parse = _Namespace(); bb.utils = _Namespace()
bb.parse.SkipRecipe = SkipRecipe
bb.utils.vercmp_string = vercmp_string
def which(path, item):
    for p in path.split(":"):
        candidate = os.path.join(p, item)
        if p and os.path.exists(candidate):
            return candidate
    return ""
bb.utils.which = which
class _Data:
    def __init__(self, values):
        self.values = values
    def getVar(self, name, expand=True):
        return self.values.get(name)
    def setVar(self, name, value):
        self.values[name] = value
`;

export type AnonymousOutcome = { skipped: false } | { skipped: true; reason: string };

/** Runs the recipe's `python __anonymous()` functions in order with python3; `vars` are what d.getVar returns (others: None). */
export function runAnonymous(recipe: Recipe, vars: Record<string, string>): AnonymousOutcome {
  if (recipe.anonymousFunctions.length === 0) throw new Error(`${recipe.file}: no anonymous python function`);
  const defs = recipe.anonymousFunctions.map((body, i) => `def __anonymous_${i}(d):\n${body}\n`).join("\n");
  const calls = recipe.anonymousFunctions.map((_, i) => `    __anonymous_${i}(d)`).join("\n");
  const script = `${PYTHON_PRELUDE}
${defs}
try:
    d = _Data(json.loads(sys.argv[1]))
${calls}
    print(json.dumps({"skipped": False}))
except SkipRecipe as e:
    print(json.dumps({"skipped": True, "reason": str(e)}))
`;
  const r = spawnSync("python3", ["-c", script, JSON.stringify(vars)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as AnonymousOutcome;
}

function combine(left: string, op: Op, right: string): string {
  switch (op) {
    case "+=": return `${left} ${right}`;
    case "=+": return `${right} ${left}`;
    case ".=": return `${left}${right}`;
    case "=.": return `${right}${left}`;
    default: return right;
  }
}
