/**
 * Bad input: every malformed Artifact gets one clear MenderDeltaError naming what is wrong and
 * where, and nothing else escapes. Artifacts are crafted member by member.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PassThrough } from "node:stream";
import { gzipSync } from "node:zlib";
import { NotAnArtifactError, readArtifact } from "../../src/artifact";
import { encodeFileHeader } from "../../src/artifact/tar-header";
import { MenderDeltaError } from "../../src/errors";
import { tempDir } from "./fixtures";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const text = (s: string): Buffer => Buffer.from(s, "utf8");
const meta = { mode: 0o600, uid: 0, gid: 0, mtime: 0, uname: "", gname: "" };

interface Member {
  name: string;
  data: Uint8Array;
  /** Raw header block(s) to use instead of the standard one. */
  rawHeader?: Uint8Array;
}

const PAYLOAD = text("payload bytes ".repeat(100));
const HEADER_INFO = '{"payloads":[{"type":"rootfs-image"}],"artifact_provides":{"artifact_name":"r1"},"artifact_depends":{"device_type":["qemux86-64"]}}';
const TYPE_INFO = '{"type":"","artifact_provides":{"rootfs-image.version":"r1"}}';

/** A tar of members; a member with rawHeader uses it verbatim. */
function tar(members: Member[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    parts.push(m.rawHeader ?? encodeFileHeader({ ...meta, name: m.name, size: m.data.length }), m.data, new Uint8Array((512 - (m.data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

/** A header block with one field changed (checksum recomputed). */
function header(name: string, size: number, patch: (block: Uint8Array) => void): Uint8Array {
  const block = encodeFileHeader({ ...meta, name, size }).slice(0, 512);
  patch(block);
  block.fill(0x20, 148, 156);
  const sum = block.reduce((a, b) => a + b, 0);
  block.set(text(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return block;
}

interface Parts {
  version: string;
  headerMembers: Member[];
  dataMembers: Member[];
  /** Edits the manifest lines before they are joined. */
  manifest: (lines: string[]) => string[];
  /** Edits the outer member list (order, extra or missing members). */
  outer: (members: Member[]) => Member[];
  compress: (b: Uint8Array) => Uint8Array;
}

function craft(dir: string, overrides: Partial<Parts> = {}): string {
  const p: Parts = {
    version: '{"format":"mender","version":3}',
    headerMembers: [
      { name: "header-info", data: text(HEADER_INFO) },
      { name: "headers/0000/type-info", data: text(TYPE_INFO) },
      { name: "headers/0000/meta-data", data: new Uint8Array(0) },
    ],
    dataMembers: [{ name: "rootfs.img", data: PAYLOAD }],
    manifest: (l) => l,
    outer: (m) => m,
    compress: (b) => gzipSync(b),
    ...overrides,
  };
  const header = p.compress(tar(p.headerMembers));
  const data = p.compress(tar(p.dataMembers));
  const lines = [
    ...p.dataMembers.map((m) => `${sha(m.data)}  data/0000/${m.name}`),
    `${sha(header)}  header.tar.gz`,
    `${sha(text(p.version))}  version`,
  ];
  const manifest = p.manifest(lines).map((l) => `${l}\n`).join("");
  const outer = p.outer([
    { name: "version", data: text(p.version) },
    { name: "manifest", data: text(manifest) },
    { name: "header.tar.gz", data: header },
    { name: "data/0000.tar.gz", data },
  ]);
  const file = path.join(dir, `crafted-${Math.random().toString(36).slice(2)}.mender`);
  writeFileSync(file, tar(outer));
  return file;
}

async function rejects(file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(
    readArtifact(file, { onPayloadFile: () => null }),
    (err: unknown) => {
      assert.ok(err instanceof MenderDeltaError, `not a MenderDeltaError: ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test("the crafted baseline reads cleanly (so each case below fails for its own reason)", async (t) => {
  const info = await readArtifact(craft(tempDir(t)));
  assert.equal(info.headerInfo.artifactName, "r1");
  assert.deepEqual(info.payloadFiles.map((f) => f.name), ["rootfs.img"]);
});

test("truncated: cut anywhere, the error says truncated (or names the missing member)", async (t) => {
  const dir = tempDir(t);
  const full = craft(dir);
  const bytes = (await import("node:fs")).readFileSync(full);
  for (const cut of [0, 100, 511, 512, 700, 1024, 1600, 2048, 2600, 3000, bytes.length - 1536, bytes.length - 1100, bytes.length - 1024]) {
    const file = path.join(dir, `cut-${cut}.mender`);
    writeFileSync(file, bytes.subarray(0, cut));
    await rejects(file, /truncated|ends where/);
  }
});

test("wrong member order", async (t) => {
  const dir = tempDir(t);
  const swap = (i: number, j: number) => (m: Member[]): Member[] => {
    const c = [...m];
    [c[i], c[j]] = [c[j]!, c[i]!];
    return c;
  };
  await rejects(craft(dir, { outer: swap(0, 1) }), /unexpected member 'manifest' at byte 0, expected 'version' first/);
  await rejects(craft(dir, { outer: swap(1, 2) }), /unexpected member 'header.tar.gz'.*expected 'manifest' right after 'version'/);
  await rejects(craft(dir, { outer: swap(2, 3) }), /unexpected member 'data\/0000.tar.gz'.*expected 'manifest.sig' or 'header.tar/);
  await rejects(craft(dir, { outer: (m) => [...m, { name: "extra-file", data: text("x") }] }), /unexpected member 'extra-file'/);
  await rejects(craft(dir, { outer: (m) => [...m, { ...m[3]!, name: "data/0001.tar.gz" }] }), /unexpected member 'data\/0001.tar.gz'.*declares 1 payload/);
  await rejects(craft(dir, { outer: (m) => [m[0]!, m[1]!, { name: "manifest-augment", data: text("") }, m[2]!, m[3]!] }), /augmented Artifacts/);
  await rejects(
    craft(dir, { headerMembers: [{ name: "headers/0000/type-info", data: text(TYPE_INFO) }, { name: "header-info", data: text(HEADER_INFO) }] }),
    /first member must be 'header-info'/,
  );
});

test("missing and extra manifest entries", async (t) => {
  const dir = tempDir(t);
  await rejects(craft(dir, { manifest: (l) => l.filter((x) => !x.endsWith("data/0000/rootfs.img")) }), /payload file 'rootfs.img' is not listed in the manifest/);
  await rejects(craft(dir, { manifest: (l) => l.filter((x) => !x.endsWith("header.tar.gz")) }), /'header.tar' is not listed in the manifest/);
  await rejects(craft(dir, { manifest: (l) => l.filter((x) => !x.endsWith("  version")) }), /'version' is not listed in the manifest/);
  await rejects(craft(dir, { manifest: (l) => [`${"0".repeat(64)}  data/0000/other.img`, ...l] }), /manifest lists 'data\/0000\/other.img', which the Artifact does not contain/);
  await rejects(craft(dir, { manifest: (l) => [...l, `${"0".repeat(64)}  something-else`] }), /manifest lists 'something-else', which cannot be part of this Artifact/);
  await rejects(craft(dir, { manifest: (l) => [...l, l[0]!] }), /lists 'data\/0000\/rootfs.img' twice/);
  await rejects(craft(dir, { manifest: (l) => [...l, "not a manifest line"] }), /manifest line 4 is malformed/);
});

test("wrong checksums name the member", async (t) => {
  const dir = tempDir(t);
  const bad = (suffix: string) => (l: string[]) => l.map((x) => (x.endsWith(suffix) ? `${"f".repeat(64)}${x.slice(64)}` : x));
  await rejects(craft(dir, { manifest: bad("data/0000/rootfs.img") }), /checksum mismatch for payload file 'data\/0000\/rootfs.img': manifest says f{64}, content is [0-9a-f]{64}/);
  await rejects(craft(dir, { manifest: bad("header.tar.gz") }), /checksum mismatch for 'header.tar.gz'/);
  await rejects(craft(dir, { manifest: bad("version") }), /checksum mismatch for 'version'/);
});

test("path traversal, links and other non-files are refused", async (t) => {
  const dir = tempDir(t);
  for (const name of ["../evil", "/etc/passwd", "a/../../evil"]) {
    // The manifest would refuse such a name first; leave it out to reach the tar reader's own check.
    await rejects(craft(dir, { dataMembers: [{ name, data: PAYLOAD }], manifest: (l) => l.filter((x) => !x.includes(name)) }), /path traversal/);
    await rejects(craft(dir, { dataMembers: [{ name, data: PAYLOAD }] }), /manifest lists 'data\/0000\/.*evil|passwd/);
    await rejects(craft(dir, { outer: (m) => [...m.slice(0, 3), { name, data: text("x") }] }), /path traversal/);
  }
  await rejects(
    craft(dir, { dataMembers: [{ name: "rootfs.img", data: PAYLOAD }, { name: "dir/x", data: PAYLOAD }], manifest: (l) => l.filter((x) => !x.includes("dir/x")) }),
    /'dir\/x' contains forbidden characters/,
  );
  const symlink = header("rootfs.img", 0, (b) => {
    b[156] = "2".charCodeAt(0);
    b.set(text("/etc/shadow"), 157);
  });
  await rejects(craft(dir, { dataMembers: [{ name: "rootfs.img", data: new Uint8Array(0), rawHeader: symlink }] }), /refusing tar member 'rootfs.img'.*link/);
  const hardlink = header("rootfs.img", 0, (b) => (b[156] = "1".charCodeAt(0)));
  await rejects(craft(dir, { dataMembers: [{ name: "rootfs.img", data: new Uint8Array(0), rawHeader: hardlink }] }), /link/);
  const device = header("rootfs.img", 0, (b) => (b[156] = "3".charCodeAt(0)));
  await rejects(craft(dir, { dataMembers: [{ name: "rootfs.img", data: new Uint8Array(0), rawHeader: device }] }), /device, FIFO/);
  const directory = header("somedir", 0, (b) => (b[156] = "5".charCodeAt(0)));
  await rejects(craft(dir, { dataMembers: [{ name: "somedir", data: new Uint8Array(0), rawHeader: directory }] }), /is a directory/);
});

test("oversized headers are refused", async (t) => {
  const dir = tempDir(t);
  // A PAX extended header larger than 1 MiB.
  const big = new Uint8Array((1 << 20) + 10);
  const pax = header("PaxHeaders.0/rootfs.img", big.length, (b) => (b[156] = "x".charCodeAt(0)));
  await rejects(craft(dir, { dataMembers: [{ name: "x", data: big, rawHeader: pax }, { name: "rootfs.img", data: PAYLOAD }] }), /oversized tar extended header/);
  // A header-info far larger than any real one.
  await rejects(craft(dir, { headerMembers: [{ name: "header-info", data: new Uint8Array((1 << 20) + 1) }] }), /member 'header-info' is 1048577 bytes, more than the 1048576 allowed/);
  // A GNU long name larger than 1 MiB.
  const gnu = header("././@LongLink", big.length, (b) => (b[156] = "L".charCodeAt(0)));
  await rejects(craft(dir, { dataMembers: [{ name: "x", data: big, rawHeader: gnu }] }), /oversized tar extended header/);
});

test("invalid JSON and invalid header fields", async (t) => {
  const dir = tempDir(t);
  const headers = (hi: string, ti = TYPE_INFO): Partial<Parts> => ({
    headerMembers: [{ name: "header-info", data: text(hi) }, { name: "headers/0000/type-info", data: text(ti) }],
  });
  await rejects(craft(dir, headers("{not json")), /header.tar.gz: header-info is not valid JSON/);
  await rejects(craft(dir, headers("[1,2]")), /header-info must be a JSON object/);
  await rejects(craft(dir, headers(HEADER_INFO, '{"type":')), /headers\/0000\/type-info is not valid JSON/);
  await rejects(craft(dir, headers(HEADER_INFO.replace('"artifact_name":"r1"', '"x":"r1"'))), /artifact_provides.artifact_name' is missing/);
  await rejects(craft(dir, headers(HEADER_INFO.replace('["qemux86-64"]', "[]"))), /device_type' is missing or empty/);
  await rejects(craft(dir, headers(HEADER_INFO, '{"type":"","artifact_provides":{"a":1}}')), /artifact_provides 'a' must be a string/);
  await rejects(craft(dir, { headerMembers: [{ name: "header-info", data: text(HEADER_INFO) }] }), /payload 0 has no headers\/0000\/type-info/);
  await rejects(
    craft(dir, { headerMembers: [{ name: "header-info", data: text(HEADER_INFO) }, { name: "headers/0000/type-info", data: text(TYPE_INFO) }, { name: "headers/0000/meta-data", data: text("{]") }] }),
    /meta-data is not valid JSON/,
  );
  const typeInfo = { name: "headers/0000/type-info", data: text(TYPE_INFO) };
  const metaData = { name: "headers/0000/meta-data", data: text("{}") };
  await rejects(craft(dir, { headerMembers: [{ name: "header-info", data: text(HEADER_INFO) }, typeInfo, typeInfo] }), /'headers\/0000\/type-info' appears twice/);
  await rejects(craft(dir, { headerMembers: [{ name: "header-info", data: text(HEADER_INFO) }, typeInfo, metaData, metaData] }), /'headers\/0000\/meta-data' appears twice/);
  await rejects(craft(dir, { headerMembers: [{ name: "header-info", data: text(HEADER_INFO) }, { ...typeInfo, name: "headers/0001/type-info" }] }), /belongs to payload 1, but header-info declares 1/);
  await rejects(craft(dir, { headerMembers: [{ name: "header-info", data: text(HEADER_INFO) }, typeInfo, { name: "headers/0000/files", data: text("{}") }] }), /unexpected member 'headers\/0000\/files'/);
  await rejects(craft(dir, { version: "{format" }), /'version' is not valid JSON/);
  await rejects(craft(dir, { compress: (b) => Buffer.concat([gzipSync(b).subarray(0, 20), text("garbage")]) }), /header.tar.gz: cannot decompress|header.tar.gz.*gzip|incorrect header check|unexpected end/);
});

test("endless zeros after a tar's end (a small gzip member expanding to GBs) are refused", async (t) => {
  const dir = tempDir(t);
  const bomb = (b: Uint8Array): Uint8Array => gzipSync(Buffer.concat([b, Buffer.alloc(64 << 20)]), { level: 9 });
  await rejects(craft(dir, { compress: bomb }), /header.tar.gz: more than 1048576 bytes of padding after the tar end-of-archive marker/);
  // Record padding as GNU tar writes it (to 10 KiB) is fine.
  const info = await readArtifact(craft(dir, { compress: (b) => gzipSync(Buffer.concat([b, Buffer.alloc(10240 - (b.length % 10240))])) }));
  assert.equal(info.payloadFiles.length, 1);
});

test("unknown format versions", async (t) => {
  const dir = tempDir(t);
  await rejects(craft(dir, { version: '{"format":"mender","version":2}' }), /format version 2 is not supported \(only version 3\)/);
  await rejects(craft(dir, { version: '{"format":"mender","version":4}' }), /format version 4 is not supported/);
  await rejects(craft(dir, { version: '{"format":"other","version":3}' }), /says format "other", expected "mender"/);
});

test("not an Artifact at all (named so, by what its first bytes are), and a missing file", async (t) => {
  const dir = tempDir(t);
  const notArtifact = async (name: string, content: Uint8Array, reason: string): Promise<void> => {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    await assert.rejects(readArtifact(file), (err: unknown) => {
      assert.ok(err instanceof NotAnArtifactError, `not a NotAnArtifactError: ${String(err)}`);
      assert.equal(err.message, `${file} is not a Mender Artifact (${reason})`);
      return true;
    });
  };
  const notTar = "its first 512 bytes are not a tar header";
  await notArtifact("junk.mender", Buffer.alloc(4096, 0x41), notTar);
  await notArtifact("random.mender", Uint8Array.from({ length: 8192 }, (_, i) => (i * 2654435761) >>> 24), notTar);
  await notArtifact("notes.txt", text("release notes\n".repeat(100)), notTar);
  await notArtifact("short.txt", text("hello\n"), "it is 6 bytes long, less than one tar header, and does not start like an Artifact");
  // A filesystem image starts with zeros (ext4's superblock is at byte 1024).
  await notArtifact("rootfs.ext4", Buffer.concat([Buffer.alloc(1024), Buffer.alloc(3072, 0x53)]), "it starts with a block of zeros, as a disk or filesystem image does");
  await notArtifact("release.mender.gz", gzipSync(craft(dir)), "it is gzip-compressed data; an Artifact is an uncompressed tar");
  // A damaged header of a real Artifact (its start intact) is still reported as a damaged tar.
  const damaged = Buffer.from(readFileSync(craft(dir)));
  damaged[148] = 0x39;
  writeFileSync(path.join(dir, "damaged.mender"), damaged);
  await rejects(path.join(dir, "damaged.mender"), /damaged\.mender \(tar header at byte 0\): checksum field .* is not an octal number; the tar is corrupt/);
  const empty = path.join(dir, "empty.mender");
  writeFileSync(empty, "");
  await rejects(empty, /truncated/);
  await rejects(path.join(dir, "nope.mender"), /cannot open Artifact .*nope.mender: no such file/);
  await rejects(dir, /cannot read Artifact .*: EISDIR/);
});

test("on a checksum mismatch a Writable sink is destroyed, never finished; a callback sink is never ended", async (t) => {
  const dir = tempDir(t);
  const file = craft(dir, { manifest: (l) => l.map((x) => (x.endsWith("rootfs.img") ? `${"0".repeat(64)}${x.slice(64)}` : x)) });
  const sink = new PassThrough();
  sink.resume();
  let finished = false;
  sink.on("finish", () => (finished = true));
  await assert.rejects(readArtifact(file, { onPayloadFile: () => sink }), /checksum mismatch/);
  assert.equal(sink.destroyed, true);
  assert.equal(finished, false);
  let ended = false;
  await assert.rejects(readArtifact(file, { onPayloadFile: () => ({ write: () => undefined, end: () => void (ended = true) }) }), /checksum mismatch/);
  assert.equal(ended, false);
});

test("a consumer's own failure is passed through unchanged", async (t) => {
  const file = craft(tempDir(t));
  const mine = new Error("disk full in the consumer");
  await assert.rejects(readArtifact(file, { onPayloadFile: () => ({ write: () => Promise.reject(mine) }) }), (err) => err === mine);
  // Also an expected error of the consumer's own: not blamed on the Artifact.
  const theirs = new MenderDeltaError("cannot write /tmp/out: no space left on device");
  await assert.rejects(readArtifact(file, { onPayloadFile: () => ({ write: () => Promise.reject(theirs) }) }), (err) => err === theirs);
});
