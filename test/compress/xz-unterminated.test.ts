/**
 * Streams that stop (for now) at a flush point: the decoder must yield exactly the bytes the
 * input so far determines and consume every byte that yields no more output. This is how the
 * VCDIFF decoder uses it for xdelta3's LZMA secondary compression (one never-ending xz stream
 * per section type, each window's section ending on an LZMA_SYNC_FLUSH).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { needTools } from "../helpers/peers.js";
import { XzDecoder } from "../../src/compress/xz.js";
import { mixedData, randomBytes, xz } from "./xz-fixtures.js";

interface Cut {
  /** Compressed offset to cut at. */
  at: number;
  /** Uncompressed bytes the prefix determines. */
  produces: number;
  what: string;
}

/** Block and LZMA2 chunk boundaries of an .xz file, from `xz --list --robot -vv` and the chunk headers. */
function boundaries(file: Buffer, name: string, controls: Set<number>): Cut[] {
  const list = spawnSync("xz", ["-lvv", "--robot", name], { encoding: "utf8" });
  assert.equal(list.status, 0, list.stderr);
  const cuts: Cut[] = [];
  for (const line of list.stdout.split("\n")) {
    const f = line.split("\t");
    if (f[0] !== "block") continue;
    const [blockOffset, uncompOffset, totalSize, uncompSize, , , , headerSize] = f.slice(4).map(Number) as number[];
    let at = blockOffset! + headerSize!;
    let produced = uncompOffset!;
    cuts.push({ at, produces: produced, what: `after the header of block ${f[2]}` });
    for (;;) {
      const control = file[at]!;
      if (control === 0) break;
      controls.add(control >= 0x80 ? control & 0xe0 : control);
      const size = (((control >= 0x80 ? control & 0x1f : 0) << 16) | (file[at + 1]! << 8) | file[at + 2]!) + 1;
      const packed = control >= 0x80 ? ((file[at + 3]! << 8) | file[at + 4]!) + 1 : size;
      at += (control >= 0xc0 ? 6 : control >= 0x80 ? 5 : 3) + packed;
      produced += size;
      cuts.push({ at, produces: produced, what: `after an LZMA2 chunk (control 0x${control.toString(16)}) of block ${f[2]}` });
    }
    assert.equal(produced, uncompOffset! + uncompSize!);
    cuts.push({ at: blockOffset! + totalSize!, produces: produced, what: `after block ${f[2]}` });
  }
  return cuts;
}

test("a file cut at any block or LZMA2 chunk boundary yields exactly the prefix it determines", (t) => {
  if (!needTools(t, "xz")) return;
  const dir = mkdtempSync(path.join(tmpdir(), "xz-cut-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const mixed = mixedData(400000, 21);
  // Incompressible stretches make uncompressed chunks (0x01 first, then 0x02), and the LZMA
  // chunks after them carry a state reset (0xA0) or new properties (0xC0, after 0x01).
  const alternating = Buffer.concat([randomBytes(100000, 1), mixed.subarray(0, 250000), randomBytes(300000, 2), mixed.subarray(250000)]);
  const controls = new Set<number>();
  for (const [args, data] of [
    [["-T2", "--block-size=150000", "-6"], mixed],
    [["-T1", "--block-size=120000", "-0", "--check=none"], mixed],
    [["-9e", "--check=sha256"], mixed],
    [["-1", "--check=crc32"], alternating],
    [["-T2", "--block-size=300000", "-7"], alternating],
  ] as const) {
    const file = xz([...args], data);
    const name = path.join(dir, "f.xz");
    writeFileSync(name, file);
    const cuts = boundaries(file, name, controls);
    assert.ok(cuts.length >= 4, `${args.join(" ")}: expected several chunks, got ${cuts.length} cuts`);
    for (const cut of cuts) {
      const d = new XzDecoder();
      d.push(file.subarray(0, cut.at));
      const out = new Uint8Array(cut.produces + 10);
      // Pull exactly the expected count, as the VCDIFF decoder does, then check nothing is left.
      const n = d.readInto(out, 0, cut.produces);
      const label = `${args.join(" ")}, cut ${cut.what} at ${cut.at}`;
      assert.equal(n, cut.produces, `${label}: produced`);
      assert.equal(d.pendingInput, 0, `${label}: input left over`);
      assert.equal(d.readInto(out, n, 10), 0, `${label}: more output than determined`);
      assert.ok(Buffer.from(out.subarray(0, n)).equals(Buffer.from(data.subarray(0, n))), `${label}: bytes`);
      assert.equal(d.streamEnded, false);
      assert.throws(() => d.end(), { name: "XzError" }, `${label}: end() must report truncation`);
    }
  }
  // Every kind of LZMA2 chunk was among the boundaries tested.
  assert.deepEqual([...controls].sort((a, b) => a - b), [0x01, 0x02, 0x80, 0xa0, 0xc0, 0xe0]);
});

/** Base-128 big-endian integers of VCDIFF. */
function vcdiffInt(b: Buffer, p: { at: number }): number {
  let v = 0;
  for (;;) {
    const x = b[p.at++]!;
    v = v * 128 + (x & 0x7f);
    if (x < 0x80) return v;
  }
}

interface Window {
  compressed: number; // Delta_Indicator bits
  sections: Buffer[]; // data, inst, addr as stored
}

/** The windows of a VCDIFF file (just enough of RFC 3284 to find the three sections). */
function vcdiffWindows(b: Buffer): Window[] {
  assert.ok(b.subarray(0, 4).equals(Buffer.from([0xd6, 0xc3, 0xc4, 0x00])), "VCDIFF magic");
  const p = { at: 5 };
  const hdr = b[4]!;
  if (hdr & 1) p.at++;
  if (hdr & 2) p.at += vcdiffInt(b, p);
  if (hdr & 4) {
    const n = vcdiffInt(b, p);
    p.at += n;
  }
  const windows: Window[] = [];
  while (p.at < b.length) {
    const win = b[p.at++]!;
    if (win & 3) {
      vcdiffInt(b, p);
      vcdiffInt(b, p);
    }
    vcdiffInt(b, p); // delta encoding length
    vcdiffInt(b, p); // target window length
    const compressed = b[p.at++]!;
    const lens = [vcdiffInt(b, p), vcdiffInt(b, p), vcdiffInt(b, p)];
    if (win & 4) p.at += 4;
    const sections = lens.map((n) => {
      const s = b.subarray(p.at, p.at + n);
      p.at += n;
      return s;
    });
    windows.push({ compressed, sections });
  }
  return windows;
}

test("xdelta3 -S lzma sections decode with three persistent decoders, exactly N bytes per window", (t) => {
  if (!needTools(t, "xdelta3")) return;
  const dir = mkdtempSync(path.join(tmpdir(), "xz-xd3-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const source = mixedData(1200000, 31);
  const target = Buffer.from(source);
  // Edits all over, plus new data, so every window has data, instructions and addresses.
  const extra = mixedData(200000, 32);
  for (let k = 0; k < 60; k++) target.set(extra.subarray(k * 3000, k * 3000 + 700), (k * 19997) % (target.length - 1000));
  const src = path.join(dir, "src");
  const tgt = path.join(dir, "tgt");
  writeFileSync(src, source);
  writeFileSync(tgt, Buffer.concat([target, extra]));
  const encode = (secondary: string) => {
    const out = path.join(dir, `delta-${secondary}`);
    const r = spawnSync("xdelta3", ["-e", "-f", "-S", secondary, "-W", "65536", "-s", src, tgt, out], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(out);
  };
  const lzma = vcdiffWindows(encode("lzma"));
  const plain = vcdiffWindows(encode("none"));
  assert.equal(lzma.length, plain.length);
  assert.ok(lzma.length >= 15, `expected many windows, got ${lzma.length}`);

  const decoders = [new XzDecoder(), new XzDecoder(), new XzDecoder()];
  let compressedSections = 0;
  for (let w = 0; w < lzma.length; w++) {
    for (let s = 0; s < 3; s++) {
      const stored = lzma[w]!.sections[s]!;
      const expected = plain[w]!.sections[s]!;
      if (!(lzma[w]!.compressed & (1 << s))) {
        assert.ok(stored.equals(expected), `window ${w} section ${s} stored raw`);
        continue;
      }
      compressedSections++;
      const p = { at: 0 };
      const size = vcdiffInt(stored, p);
      assert.equal(size, expected.length, `window ${w} section ${s}: declared size`);
      const d = decoders[s]!;
      d.push(stored.subarray(p.at));
      const out = new Uint8Array(size);
      assert.equal(d.readInto(out, 0, size), size, `window ${w} section ${s}: produced`);
      assert.equal(d.pendingInput, 0, `window ${w} section ${s}: all input consumed`);
      assert.ok(Buffer.from(out).equals(expected), `window ${w} section ${s}: bytes`);
    }
  }
  assert.ok(compressedSections >= 20, `expected many LZMA sections, got ${compressedSections}`);
});
