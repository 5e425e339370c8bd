/**
 * Re-seals a mutated Artifact: recomputes the manifest's checksums of `version`, `header.tar*` and
 * the files of uncompressed `data/NNNN.tar` members, so a mutation inside them gets past the
 * checksum check and reaches the header tar, JSON and payload tar parsers. Best effort: whatever
 * cannot be parsed is left as it is (the reader will then refuse it, which is fine too).
 */
import { createHash } from "node:crypto";

const BLOCK = 512;
const ascii = new TextDecoder("latin1");

interface Member {
  name: string;
  /** Offset of the body in the tar and its length. */
  start: number;
  size: number;
}

function field(block: Uint8Array, offset: number, length: number): string {
  const raw = ascii.decode(block.subarray(offset, offset + length));
  const nul = raw.indexOf("\0");
  return nul === -1 ? raw : raw.slice(0, nul);
}

/**
 * Regular-file members of a plain ustar archive (offsets relative to `tar`); stops at the first
 * thing it does not understand. With `fixChecksums`, every header's checksum is recomputed first,
 * so a mutated header field reaches the field parsers instead of the checksum check.
 */
function members(tar: Uint8Array, fixChecksums = false): Member[] {
  const out: Member[] = [];
  for (let at = 0; at + BLOCK <= tar.length; ) {
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    if (fixChecksums) writeChecksum(h);
    const size = parseInt(field(h, 124, 12).trim() || "0", 8);
    if (!Number.isSafeInteger(size) || size < 0) break;
    const prefix = field(h, 345, 155);
    const name = prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100);
    const start = at + BLOCK;
    if (start + size > tar.length) break;
    if (h[156] === 0x30 || h[156] === 0) out.push({ name, start, size });
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}

function writeChecksum(h: Uint8Array): void {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.set(Buffer.from(sum.toString(8).padStart(6, "0") + "\0 ", "latin1"), 148);
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

export function resealArtifact(artifact: Uint8Array): Uint8Array {
  const out = artifact.slice();
  const outer = members(out, true);
  const manifest = outer.find((m) => m.name === "manifest");
  if (!manifest) return out;
  const sums = new Map<string, string>();
  for (const m of outer) {
    const body = out.subarray(m.start, m.start + m.size);
    const data = /^data\/(\d{4})\.tar$/.exec(m.name);
    if (data) for (const f of members(body, true)) sums.set(`data/${data[1]}/${f.name}`, sha256(body.subarray(f.start, f.start + f.size)));
    if (m.name === "header.tar") members(body, true);
    if (m.name === "version" || m.name.startsWith("header.tar")) sums.set(m.name, sha256(body));
  }
  // Same-length lines: only the 64 hex digits change, so the outer tar keeps its layout.
  const text = ascii.decode(out.subarray(manifest.start, manifest.start + manifest.size));
  const resealed = text.replace(/^[0-9a-f]{64}( {2})(\S+)$/gm, (line, sep: string, name: string) => {
    const sum = sums.get(name);
    return sum ? `${sum}${sep}${name}` : line;
  });
  if (resealed.length === text.length) out.set(Buffer.from(resealed, "latin1"), manifest.start);
  return out;
}
