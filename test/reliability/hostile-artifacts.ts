/**
 * Hand-built Mender Artifacts (v3, uncompressed) with full control over every tar header, for the
 * hostile-input tests: any member name, type flag, link target and declared size, any manifest.
 */
import { createHash } from "node:crypto";
import { signManifest } from "../../src/artifact/signature";

const BLOCK = 512;

export interface RawMember {
  name: string;
  data?: Uint8Array;
  /** Declared size when it differs from data.length (huge-size attacks). */
  declaredSize?: number;
  /** Tar type flag: "0" file, "1" hard link, "2" symlink, "5" directory, "3" char device. */
  type?: string;
  linkname?: string;
}

function put(block: Uint8Array, offset: number, length: number, s: string): void {
  block.set(Buffer.from(s, "utf8").subarray(0, length), offset);
}

function octal(block: Uint8Array, offset: number, length: number, n: number): void {
  put(block, offset, length, n.toString(8).padStart(length - 1, "0"));
}

/** A ustar header; sizes beyond 11 octal digits use the base-256 (GNU) form, as Go does. */
export function tarHeader(m: RawMember): Uint8Array {
  const b = new Uint8Array(BLOCK);
  const size = m.declaredSize ?? m.data?.length ?? 0;
  put(b, 0, 100, m.name);
  octal(b, 100, 8, m.type === "5" ? 0o755 : 0o644);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  if (size < 8 ** 11) octal(b, 124, 12, size);
  else {
    b[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      b[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  octal(b, 136, 12, 1_700_000_000);
  b[156] = (m.type ?? "0").charCodeAt(0);
  put(b, 157, 100, m.linkname ?? "");
  put(b, 257, 8, "ustar\u000000");
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  put(b, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

/** A tar of `members` (bodies padded, end marker unless `end` is false). */
export function tar(members: RawMember[], end = true): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    parts.push(tarHeader(m));
    const data = m.data ?? new Uint8Array(0);
    parts.push(data, new Uint8Array((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  if (end) parts.push(new Uint8Array(2 * BLOCK));
  return new Uint8Array(Buffer.concat(parts));
}

const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "utf8"));
export const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

export interface ArtifactParts {
  payloadType?: string;
  /** type-info's "type" (defaults to payloadType). */
  typeInfoType?: string;
  headerInfo?: Uint8Array;
  typeInfo?: Uint8Array;
  metaData?: Uint8Array;
  /** Members of data/0000.tar (default: one regular file "rootfs.ext4"). */
  dataMembers?: RawMember[];
  /** Extra members of header.tar, after the payload headers. */
  headerMembers?: RawMember[];
  /** Extra members of header.tar right after header-info (where state scripts go). */
  headerScripts?: RawMember[];
  /** Extra members of the outer tar, after data/0000.tar. */
  outerMembers?: RawMember[];
  /** Manifest names to leave out. */
  omitFromManifest?: string[];
  /** PEM private key: adds manifest.sig. */
  signWith?: string;
}

export const PAYLOAD = text("rootfs image bytes ".repeat(100));

/** An Artifact as mender-artifact lays it out, with the given parts replaced. */
export function buildArtifact(p: ArtifactParts = {}): Uint8Array {
  const type = p.payloadType ?? "rootfs-image";
  const headerInfo =
    p.headerInfo ??
    text(JSON.stringify({ payloads: [{ type }], artifact_provides: { artifact_name: "release-2" }, artifact_depends: { device_type: ["beaglebone"] } }));
  const typeInfo = p.typeInfo ?? text(JSON.stringify({ type: p.typeInfoType ?? type, artifact_provides: { "rootfs-image.version": "release-2" } }));
  const headerTar = tar([
    { name: "header-info", data: headerInfo },
    ...(p.headerScripts ?? []),
    { name: "headers/0000/type-info", data: typeInfo },
    { name: "headers/0000/meta-data", data: p.metaData ?? new Uint8Array(0) },
    ...(p.headerMembers ?? []),
  ]);
  const dataMembers = p.dataMembers ?? [{ name: "rootfs.ext4", data: PAYLOAD }];
  const dataTar = tar(dataMembers);
  const version = text(`{"format":"mender","version":3}`);
  const entries: [string, Uint8Array][] = [
    ...dataMembers.filter((m) => (m.type ?? "0") === "0").map((m): [string, Uint8Array] => [`data/0000/${m.name}`, m.data ?? new Uint8Array(0)]),
    ["header.tar", headerTar],
    ["version", version],
  ];
  const manifest = text(
    entries
      .filter(([name]) => !(p.omitFromManifest ?? []).includes(name))
      .map(([name, data]) => `${sha256(data)}  ${name}\n`)
      .join(""),
  );
  const outer: RawMember[] = [
    { name: "version", data: version },
    { name: "manifest", data: manifest },
    ...(p.signWith ? [{ name: "manifest.sig", data: text(signManifest(manifest, p.signWith)) }] : []),
    { name: "header.tar", data: headerTar },
    { name: "data/0000.tar", data: dataTar },
    ...(p.outerMembers ?? []),
  ];
  return tar(outer);
}
