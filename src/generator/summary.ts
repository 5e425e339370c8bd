/**
 * What a generator run produced, for people (a few lines) and machines (`--json`, one object).
 */
import type { MbdfPlanSummary } from "./mbdf/write-delta";
import type { RootMountSummary } from "./root-mount";

export interface ReleaseSummary {
  /** "artifact" or "image": what was given on the command line. */
  input: "artifact" | "image";
  path: string;
  artifactName?: string;
  image: string;
  imageSize: number;
  sha256: string;
  /** Size of the input file (the full Artifact, or the raw image). */
  inputSize: number;
}

export interface GenerationSummary {
  output: string;
  artifactName: string;
  artifactSize: number;
  compression: string;
  signed: boolean;
  deviceTypes: string[];
  from: ReleaseSummary;
  to: ReleaseSummary;
  delta: {
    payload: string;
    size: number;
    sha256: string;
    windows: number;
    windowSize: number;
    level: number;
    threads: number;
    checksum: boolean;
    /** Only with --delta-format mbdf (absent: a VCDIFF delta). */
    format?: "mbdf";
    /** The MBDF delta's records by kind. */
    mbdf?: MbdfPlanSummary;
  };
  decoderArguments: string[];
  /** --root-mount: what the delta avoids reading of FROM, and the digest of what it reads. */
  rootMount: RootMountSummary;
  /** Delta Artifact size / TO's full Artifact size (or TO's image size for a raw image). */
  ratio: number;
  timeMs: { total: number; read: number; encode: number; write: number };
  warnings: string[];
}

function size(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${bytes} B`;
}

function percent(r: number): string {
  return `${(r * 100).toFixed(r < 0.1 ? 2 : 1)}%`;
}

export function formatSummaryJson(s: GenerationSummary): string {
  return `${JSON.stringify(s, null, 2)}\n`;
}

function rootMountLine(r: RootMountSummary): string {
  if (r.rootMount === "ro") return "  for a read-only root: the device checks its whole active partition against FROM";
  if (r.filesystem === undefined) return "  for a read-write root, but FROM is not ext4: the device needs FROM's exact bytes";
  return (
    `  for a read-write root: reads ${size(r.readBytes ?? 0)} of FROM in ${r.readRanges ?? 0} ranges (digest ${size(r.readSetBytes ?? 0)}), ` +
    `never its ${r.filesystem} metadata, directories or free space (${size(r.avoidedBytes)})`
  );
}

/** "3 approx (1.2 MiB of TO in 40.0 KiB), ...": the kinds present, in the format's order. */
function mbdfRecords(m: MbdfPlanSummary): string {
  const kinds = Object.entries(m.records).filter(([, r]) => r.count > 0);
  const text = kinds.map(([k, r]) => `${r.count} ${k} (${size(r.targetBytes)} of TO in ${size(r.deltaBytes)})`).join(", ");
  return m.ext4 ? text : `${text}; not ext4, no file records`;
}

export function formatSummaryText(s: GenerationSummary): string {
  const full = s.to.input === "artifact" ? `full TO Artifact ${size(s.to.inputSize)}` : `TO image ${size(s.to.inputSize)}`;
  const lines = [
    `wrote ${s.output}: delta Artifact '${s.artifactName}' for ${s.deviceTypes.join(", ")}, ${size(s.artifactSize)} (${percent(s.ratio)} of the ${full})`,
    `  from ${s.from.artifactName ?? s.from.path}  ${s.from.image} ${size(s.from.imageSize)} sha256 ${s.from.sha256}`,
    `  to   ${s.to.artifactName ?? s.to.path}  ${s.to.image} ${size(s.to.imageSize)} sha256 ${s.to.sha256}`,
    s.delta.mbdf
      ? `  payload ${s.delta.payload} ${size(s.delta.size)}, MBDF: ${mbdfRecords(s.delta.mbdf)}; Artifact ${s.compression}${s.signed ? ", signed" : ""}`
      : `  payload ${s.delta.payload} ${size(s.delta.size)}, ${s.delta.windows} window(s) of ${size(s.delta.windowSize)}, level ${s.delta.level}; ` +
        `Artifact ${s.compression}${s.signed ? ", signed" : ""}`,
    rootMountLine(s.rootMount),
    `  time ${(s.timeMs.total / 1000).toFixed(1)} s (read ${(s.timeMs.read / 1000).toFixed(1)} s, encode ${(s.timeMs.encode / 1000).toFixed(1)} s, write ${(s.timeMs.write / 1000).toFixed(1)} s)`,
  ];
  return `${lines.join("\n")}\n`;
}
