/**
 * The tar layer on its own: reads what GNU tar writes (ustar, GNU long names, PAX, base-256 sizes),
 * writes what GNU tar reads, and encodes >= 8 GiB sizes the way Go's archive/tar does.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdirSync, createReadStream } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PassThrough } from "node:stream";
import { decodeHeader, encodeFileHeader, parsePaxRecords } from "../../src/artifact/tar-header";
import { TarReader } from "../../src/artifact/tar-reader";
import { TarWriter } from "../../src/artifact/tar-writer";
import { needTools } from "../helpers/peers";
import { makeFile, ok, tempDir } from "./fixtures";

async function entries(source: AsyncIterable<Uint8Array>): Promise<{ name: string; size: number; data: Buffer }[]> {
  const reader = new TarReader(source, "test.tar");
  const out = [];
  for (let e = await reader.next(); e !== null; e = await reader.next()) {
    const chunks: Uint8Array[] = [];
    for await (const c of reader.body()) chunks.push(c);
    out.push({ name: e.name, size: e.size, data: Buffer.concat(chunks) });
  }
  await reader.drain();
  return out;
}

const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, uname: "root", gname: "root" };

for (const format of ["ustar", "gnu", "pax"]) {
  test(`reads GNU tar --format=${format} (with a > 100-char name)`, async (t) => {
    if (!needTools(t, "tar")) return;
    const dir = tempDir(t);
    const src = path.join(dir, "src");
    mkdirSync(src);
    // ustar splits a long path into its prefix field; gnu and pax use their extended headers.
    const names = ["a.bin", "empty", "exact-512", format === "ustar" ? `${"d".repeat(80)}/${"f".repeat(60)}` : `${"x".repeat(150)}.img`];
    mkdirSync(path.join(src, "d".repeat(80)));
    makeFile(path.join(src, names[0]!), 3000);
    writeFileSync(path.join(src, names[1]!), "");
    makeFile(path.join(src, names[2]!), 512, 2);
    makeFile(path.join(src, names[3]!), 777, 3);
    const archive = path.join(dir, "t.tar");
    ok("tar", ["cf", archive, `--format=${format}`, "-C", src, ...names]);
    const got = await entries(createReadStream(archive, { highWaterMark: 100 }));
    assert.deepEqual(got.map((e) => e.name), names);
    for (const e of got) assert.ok(e.data.equals(readFileSync(path.join(src, e.name))), e.name);
  });
}

test("reads a GNU base-256 size and a PAX size record", async () => {
  const data = Buffer.alloc(3000, 7);
  const base256 = Buffer.from(encodeFileHeader({ ...meta, name: "big.bin", size: 0 }));
  base256.fill(0, 124, 136);
  base256[124] = 0x80;
  base256.writeUIntBE(3000, 130, 6);
  rechecksum(base256);
  const pax = encodeFileHeader({ ...meta, name: "pax.bin", size: 9_000_000_000 });
  assert.equal(pax.length, 3 * 512, "PAX header, record block, main header");
  // Swap the 9 GB record for one of 3000 bytes of the same length, so the stream stays small.
  const records = Buffer.from(pax.subarray(512, 1024));
  const small = Buffer.from("19 size=0000003000\n");
  small.copy(records);
  const tar = Buffer.concat([base256, data, Buffer.alloc(72), pax.subarray(0, 512), records, pax.subarray(1024), data, Buffer.alloc(72), Buffer.alloc(1024)]);
  const got = await entries((async function* () { yield tar; })());
  assert.deepEqual(got.map((e) => [e.name, e.size]), [["big.bin", 3000], ["pax.bin", 3000]]);
});

test(">= 8 GiB and > 100-char names: PAX records as Go's archive/tar writes them", () => {
  const h = encodeFileHeader({ ...meta, name: "rootfs.img", size: 9_000_000_000 });
  const pax = decodeHeader(h.subarray(0, 512), "t");
  assert.equal(pax.typeflag, "x");
  assert.equal(pax.name, "PaxHeaders.0/rootfs.img");
  assert.equal(Buffer.from(h.subarray(512, 512 + pax.size)).toString(), "19 size=9000000000\n");
  const main = decodeHeader(h.subarray(1024, 1536), "t");
  assert.equal(main.size, 0, "Go leaves the ustar size field 0 when PAX carries it");
  assert.equal(Buffer.from(h.subarray(1024 + 124, 1024 + 136)).toString("latin1"), "00000000000\0");

  const long = `${"n".repeat(120)}.ext4`;
  const h2 = encodeFileHeader({ ...meta, name: long, size: 5 });
  const rec = parsePaxRecords(h2.subarray(512, 512 + decodeHeader(h2.subarray(0, 512), "t").size), "t");
  assert.equal(rec.get("path"), long);
  assert.equal(decodeHeader(h2.subarray(1024, 1536), "t").name, long.slice(0, 100));
});

test("TarWriter output is read by GNU tar and by TarReader (sizes around block boundaries)", async (t) => {
  if (!needTools(t, "tar")) return;
  const dir = tempDir(t);
  const sizes = [0, 1, 511, 512, 513, 1024, 70_000];
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const writer = new TarWriter(out);
  const files = sizes.map((n, i) => ({ name: `f${i}.bin`, data: Buffer.alloc(n, i + 1) }));
  for (const f of files) await writer.addStream({ ...meta, name: f.name, size: f.data.length }, (async function* () { yield f.data; })());
  await writer.addBytes({ ...meta, name: `${"p".repeat(130)}.img` }, Buffer.from("pax named"));
  await writer.finish();
  out.end();
  const tar = Buffer.concat(chunks);
  assert.equal(tar.length, writer.written);
  assert.equal(tar.length % 512, 0);
  const archive = path.join(dir, "w.tar");
  writeFileSync(archive, tar);
  const listing = ok("tar", ["tf", archive]).trim().split("\n");
  assert.deepEqual(listing, [...files.map((f) => f.name), `${"p".repeat(130)}.img`]);
  const got = await entries((async function* () { yield tar; })());
  assert.deepEqual(got.map((e) => e.size), [...sizes, 9]);
  got.slice(0, files.length).forEach((e, i) => assert.ok(e.data.equals(files[i]!.data)));

  // A member that yields fewer bytes than announced is an error, not a corrupt tar.
  const w2 = new TarWriter(new PassThrough().resume());
  await assert.rejects(w2.addStream({ ...meta, name: "x", size: 10 }, (async function* () { yield Buffer.alloc(4); })()), /gave only 4/);
});

function rechecksum(block: Uint8Array): void {
  block.fill(0x20, 148, 156);
  const sum = block.subarray(0, 512).reduce((a, b) => a + b, 0);
  Buffer.from(block.buffer, block.byteOffset).write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
}
