/**
 * The generator help's --compression and --compression-level entries, written from the Artifact
 * layer's compression registry, so a compression added there is listed here with its names and
 * levels.
 */
import { compressionsDefaultFirst, type ArtifactCompression, type Compression } from "../artifact";

/** Where an option's description starts in the help. */
const DESCRIPTION_COLUMN = 25;
/** The help's descriptions end at column 75, leaving a margin within HELP_WIDTH. */
const DESCRIPTION_END = 75;

/** One option of the help: its name padded to the description column, the text wrapped under it. */
function helpEntry(option: string, description: string): string {
  const indent = " ".repeat(DESCRIPTION_COLUMN);
  const lines: string[] = [];
  let line = `  ${option}`.padEnd(DESCRIPTION_COLUMN);
  let empty = true;
  for (const word of description.split(" ")) {
    if (!empty && line.length + 1 + word.length > DESCRIPTION_END) {
      lines.push(line);
      line = indent + word;
    } else {
      line += empty ? word : ` ${word}`;
    }
    empty = false;
  }
  lines.push(line);
  return lines.join("\n");
}

/** `xz (default: the smallest; ...; also "lzma")`, `zstd (client 3.5+; also zstd_fastest, ...: levels 1, ...)`. */
function describeCompression(c: ArtifactCompression, isDefault: boolean): string {
  const notes: string[] = [];
  if (c.summary) notes.push(isDefault ? `default: ${c.summary}` : c.summary);
  else if (isDefault) notes.push("default");
  const plain = c.aliases.filter((a) => a.level === undefined);
  const leveled = c.aliases.filter((a) => a.level !== undefined);
  if (plain.length > 0) notes.push(`also ${plain.map((a) => `"${a.name}"`).join(", ")}`);
  if (leveled.length > 0) {
    notes.push(`also ${leveled.map((a) => a.name).join(", ")}: levels ${leveled.map((a) => a.level).join(", ")}`);
  }
  return notes.length > 0 ? `${c.id} (${notes.join("; ")})` : c.id;
}

/** `xz 0-9 (default 9: smallest; ...)`, `gzip 0-9 (6)`. */
function describeLevels(c: ArtifactCompression): string | undefined {
  if (!c.levels) return undefined;
  const { min, max } = c.levels;
  const def = c.levelMeaning ? `default ${c.levels.default}: ${c.levelMeaning}` : String(c.levels.default);
  return `${c.id} ${min}-${max} (${def})`;
}

/** The two help entries, with `defaultId` (the generator's default) first. */
export function compressionHelp(defaultId: Compression): string {
  const all = compressionsDefaultFirst(defaultId);
  const kinds = all.map((c) => describeCompression(c, c.id === defaultId)).join(", ");
  const levels = all.map(describeLevels).filter((d) => d !== undefined).join(", ");
  return `${helpEntry("--compression KIND", kinds)}\n${helpEntry("--compression-level N", levels)}`;
}
