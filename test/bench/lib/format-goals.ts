/**
 * The figures the formats benchmark judges and the goals issue #22 sets the file-aware format
 * (MBDF), as rows "figure, value, goal, PASS/MISS". Pure: the benchmark measures, this judges.
 *
 * "MBDF" and "VCDIFF" are our delta Artifacts (`--delta-format mbdf|vcdiff`); HDiffPatch is its
 * native diff after `xz -9` (a bare file, as the issue's table measured it); xdelta3 is the stock
 * delta wrapped by mender-artifact (an Artifact, as Mender's tooling ships it); 0.1.0 is the
 * release the issue measured, its own VCDIFF Artifact installed by its own module.
 */

/** MBDF / HDiffPatch goal per corpus pair: U the security update, B the upgrade with new packages, A one new package. */
export const HDIFFPATCH_GOALS = { U: 0.45, B: 0.93, A: 0.97 } as const;
export type GoalPair = keyof typeof HDIFFPATCH_GOALS;
/** The device's peak RSS budget for a Download (issue #22 point 4). */
export const DEVICE_PEAK_GOAL_MIB = 100;
/**
 * The generator may take at most this many times as long for MBDF as for VCDIFF (issue #22), and
 * for MBDF as for MBDF without executable-aware records (issue #23).
 */
export const GENERATOR_TIME_GOAL = 2;

export interface DeviceFigures {
  wall: number;
  peakMiB: number;
}

export interface FormatFigures {
  /** The Artifact's size in bytes. */
  size: number;
  /** The generator's wall seconds. */
  generatorWall: number;
  /** The Update Module's Download of the payload; absent when it was not measured (or failed). */
  device?: DeviceFigures;
}

export interface PairFigures {
  /** The corpus pair whose HDiffPatch goal applies; absent for a pair with none (the generated one). */
  goalPair?: GoalPair;
  mbdf: FormatFigures;
  vcdiff: FormatFigures;
  /** MBDF made with --no-executable-diffs (no EXEC records); absent when not measured. */
  mbdfWithoutExec?: FormatFigures;
  /** HDiffPatch native + xz -9, bytes; absent when hdiffz was not available. */
  hdiffpatch?: number;
  /** The stock xdelta3 delta Artifact, bytes. */
  xdelta3: number;
  /**
   * Release 0.1.0, "today's" when issue #22 was filed (lib/baseline-release.ts): its generator's
   * VCDIFF Artifact, installed by its module; absent when not measured. The issue's time goals are
   * against it; without it they fall back to this build's VCDIFF (faster since: a stricter test).
   */
  baseline?: FormatFigures;
}

export type RowKey =
  | "mbdfHdiff" | "mbdfVcdiff" | "mbdfXdelta3" | "vcdiffHdiff" | "mbdfPeak" | "vcdiffPeak" | "downloadTime" | "generatorTime"
  | "execSaved" | "execSize" | "execGeneratorTime" | "breakEvenLink" | "baselineDownloadTime" | "baselineGeneratorTime";

export interface Row {
  key: RowKey;
  what: string;
  /** Undefined: not measured. */
  value: number | undefined;
  unit: "x" | "MiB" | "B" | "Mbit/s";
  /** The largest value that passes; undefined: no goal, the figure is shown for information. */
  goal?: number;
}

const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : a / b);

/**
 * The link speed (Mbit/s) below which MBDF's Download ends sooner than VCDIFF's once the payload
 * must come over a link as well: each Download taken as its transfer at that speed plus its local
 * wall time (no overlap: the module decodes while the payload arrives, which only favours the
 * smaller payload more). Infinity when MBDF is smaller and no slower; undefined when MBDF is not
 * smaller (then VCDIFF is sooner at any speed at which it is not slower) or a Download is missing.
 */
export function breakEvenLink(p: PairFigures): number | undefined {
  const m = p.mbdf.device, v = p.vcdiff.device;
  if (!m || !v || p.mbdf.size >= p.vcdiff.size) return undefined;
  if (m.wall <= v.wall) return Infinity;
  return ((p.vcdiff.size - p.mbdf.size) * 8) / 1e6 / (m.wall - v.wall);
}

/** The rows of one pair, in the order they are printed. */
export function goalRows(p: PairFigures): Row[] {
  return [
    { key: "mbdfHdiff", what: "MBDF / HDiffPatch native + xz -9", value: ratio(p.mbdf.size, p.hdiffpatch), unit: "x", goal: p.goalPair ? HDIFFPATCH_GOALS[p.goalPair] : undefined },
    { key: "mbdfVcdiff", what: "MBDF / VCDIFF", value: ratio(p.mbdf.size, p.vcdiff.size), unit: "x", goal: 1 },
    { key: "mbdfXdelta3", what: "MBDF / xdelta3 -e -S lzma -A", value: ratio(p.mbdf.size, p.xdelta3), unit: "x" },
    { key: "vcdiffHdiff", what: "VCDIFF / HDiffPatch native + xz -9", value: ratio(p.vcdiff.size, p.hdiffpatch), unit: "x" },
    { key: "mbdfPeak", what: "MBDF Download peak RSS", value: p.mbdf.device?.peakMiB, unit: "MiB", goal: DEVICE_PEAK_GOAL_MIB },
    { key: "vcdiffPeak", what: "VCDIFF Download peak RSS", value: p.vcdiff.device?.peakMiB, unit: "MiB", goal: DEVICE_PEAK_GOAL_MIB },
    // Issue #22's time goals, "no worse than today's" and "at most 2x today's", judge MBDF against
    // release 0.1.0 where it was measured, else against this build's VCDIFF.
    { key: "baselineDownloadTime", what: "MBDF / 0.1.0 Download wall time", value: ratio(p.mbdf.device?.wall, p.baseline?.device?.wall), unit: "x", goal: 1 },
    {
      key: "downloadTime", what: "MBDF / VCDIFF Download wall time", value: ratio(p.mbdf.device?.wall, p.vcdiff.device?.wall), unit: "x",
      goal: p.baseline?.device ? undefined : 1,
    },
    { key: "breakEvenLink", what: "MBDF Download sooner below a link of", value: breakEvenLink(p), unit: "Mbit/s" },
    { key: "baselineGeneratorTime", what: "MBDF / 0.1.0 generator wall time", value: ratio(p.mbdf.generatorWall, p.baseline?.generatorWall), unit: "x", goal: GENERATOR_TIME_GOAL },
    {
      key: "generatorTime", what: "MBDF / VCDIFF generator wall time", value: ratio(p.mbdf.generatorWall, p.vcdiff.generatorWall), unit: "x",
      goal: p.baseline ? undefined : GENERATOR_TIME_GOAL,
    },
    // Issue #23: what the executable-aware records save (all of it on changed ELF files), and their price.
    { key: "execSaved", what: "bytes EXEC records save", value: p.mbdfWithoutExec && p.mbdfWithoutExec.size - p.mbdf.size, unit: "B" },
    { key: "execSize", what: "MBDF / MBDF without EXEC", value: ratio(p.mbdf.size, p.mbdfWithoutExec?.size), unit: "x", goal: 1 },
    {
      key: "execGeneratorTime", what: "MBDF / without EXEC generator wall", value: ratio(p.mbdf.generatorWall, p.mbdfWithoutExec?.generatorWall), unit: "x",
      goal: GENERATOR_TIME_GOAL,
    },
  ];
}

/** PASS or MISS against the goal; "-" without a goal; "not measured" without a value. */
export function verdict(r: Row): "PASS" | "MISS" | "-" | "not measured" {
  if (r.value === undefined) return "not measured";
  if (r.goal === undefined) return "-";
  return r.value <= r.goal ? "PASS" : "MISS";
}

function figure(value: number | undefined, unit: Row["unit"]): string {
  if (value === undefined) return "-";
  if (unit === "B") return `${value.toLocaleString("en-US")} B`;
  if (unit === "Mbit/s") return value === Infinity ? "any" : `${value.toFixed(0)} Mbit/s`;
  return unit === "x" ? `${value.toFixed(3)}x` : `${value.toFixed(1)} MiB`;
}

/** One printed row: figure, value, goal, verdict in columns. */
export function formatRow(r: Row): string {
  const goal = r.goal === undefined ? "" : `goal <= ${r.unit === "x" ? `${r.goal.toFixed(2)}x` : `${r.goal} ${r.unit}`}`;
  return `  ${r.what.padEnd(36)} ${figure(r.value, r.unit).padStart(10)}  ${goal.padEnd(16)} ${verdict(r)}`;
}

/** The goals a pair missed, by name (a figure not measured is no miss). */
export function missed(rows: Row[]): string[] {
  return rows.filter((r) => verdict(r) === "MISS").map((r) => r.what);
}

const bytes = (n: number | undefined): string => (n === undefined ? "-" : n.toLocaleString("en-US"));

/** All pairs in one markdown table: sizes in bytes, MBDF's ratios, its generator time and Download peak RSS, missed goals. */
export function summaryTable(pairs: { name: string; figures: PairFigures }[]): string {
  const head = [
    "pair", "MBDF", "MBDF without EXEC", "VCDIFF", "HDiffPatch + xz -9", "xdelta3", "MBDF / HDiffPatch", "MBDF / VCDIFF", "MBDF / xdelta3", "MBDF generator",
    "MBDF Download peak", "goals missed",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 || i === head.length - 1 ? "---" : "---:")).join("|")}|`];
  for (const { name, figures: f } of pairs) {
    const rows = goalRows(f);
    const value = (key: RowKey): string => {
      const r = rows.find((x) => x.key === key)!;
      return figure(r.value, r.unit);
    };
    const cells = [
      name, bytes(f.mbdf.size), bytes(f.mbdfWithoutExec?.size), bytes(f.vcdiff.size), bytes(f.hdiffpatch), bytes(f.xdelta3),
      value("mbdfHdiff"), value("mbdfVcdiff"), value("mbdfXdelta3"),
      `${f.mbdf.generatorWall.toFixed(1)} s`, value("mbdfPeak"), missed(rows).join(", ") || "none",
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}
