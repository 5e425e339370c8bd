/**
 * The `manifest` member: `<sha256 hex><two spaces><name>\n` per line (sha256sum format), in the
 * writer's order: payload files (`data/NNNN/<name>`), then `header.tar<ext>`, then `version`.
 */
import { MenderDeltaError } from "../errors";

export interface ManifestEntry {
  name: string;
  sha256: string;
}

const LINE = /^([0-9a-f]{64}) {2}(\S+)$/;

export function formatManifest(entries: readonly ManifestEntry[]): Uint8Array {
  return new TextEncoder().encode(entries.map((e) => `${e.sha256}  ${e.name}\n`).join(""));
}

/** Parses the manifest into name -> sha256, refusing malformed lines and duplicate names. */
export function parseManifest(bytes: Uint8Array, where: string): Map<string, string> {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const out = new Map<string, string>();
  lines.forEach((line, i) => {
    const m = LINE.exec(line);
    if (!m) {
      throw new MenderDeltaError(
        `${where}: manifest line ${i + 1} is malformed (${JSON.stringify(line.slice(0, 120))}); expected '<64 hex digits>  <file name>'; the Artifact is corrupt`,
      );
    }
    if (out.has(m[2]!)) throw new MenderDeltaError(`${where}: manifest lists '${m[2]}' twice; the Artifact is corrupt`);
    out.set(m[2]!, m[1]!);
  });
  return out;
}
