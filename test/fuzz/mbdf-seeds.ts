/**
 * The MBDF fuzz target's source and seeds: one source image holding everything the records read
 * (the x86-64 and arm64 builds of an old Socket.so for EXEC, an old .gz file for REDEFLATE, random
 * bytes for COPY, APPROX and the nested VCDIFF delta), and one delta per record kind against it.
 * The source is a fixed function of this file, so a saved regression delta replays against it.
 */
import { gzipDeflate } from "../../src/deflate/gzip-deflate";
import { gzipHeaderBytes, gzipNoNameHeader, gzipWrap } from "../../src/deflate/gzip-member";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { execDiff } from "../../src/filediff/exec/exec-diff";
import { concat, sha256 } from "../delta/mbdf-helpers";
import { diffCost, socketPair } from "../filediff/exec-helpers";
import { mutateImage, Rng, xdelta3Encode } from "../vcdiff/helpers";

const PAGE = 4096;
const pad = (b: Uint8Array): Uint8Array => concat([b, new Uint8Array((PAGE - (b.length % PAGE)) % PAGE)]);
/** A gzip member as GNU gzip -9n writes it (our device's compressor 1 at level 9 rebuilds it). */
const GZIP_9N = gzipNoNameHeader(9);
const GZIP_HEADER = gzipHeaderBytes(GZIP_9N);
const gzip9 = (content: Uint8Array): Uint8Array => gzipWrap(GZIP_9N, gzipDeflate(content, 9), content);

function changelog(lines: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  let text = "";
  for (let i = 0; i < lines; i++) text += `  * entry ${i}: fix ${["CVE-2026-", "bug #", "typo in "][rng.below(3)]}${rng.below(9000)}\n`;
  return new Uint8Array(Buffer.from(text));
}

interface Layout {
  source: Uint8Array;
  x86: { at: number; old: Uint8Array; neu: Uint8Array };
  arm64: { at: number; old: Uint8Array; neu: Uint8Array };
  gz: { at: number; file: Uint8Array; content: Uint8Array };
  random: { at: number; bytes: Uint8Array };
}

function layout(): Layout {
  const x86 = socketPair("amd64");
  const arm64 = socketPair("arm64");
  const content = changelog(400, 5);
  const gzFile = gzip9(content);
  const random = new Rng(11).bytes(64 << 10);
  const parts = [new Uint8Array(PAGE), pad(x86.old), pad(arm64.old), pad(gzFile), random];
  const at: number[] = [];
  let offset = 0;
  for (const p of parts) {
    at.push(offset);
    offset += p.length;
  }
  return {
    source: concat(parts),
    x86: { at: at[1]!, old: x86.old, neu: x86.neu },
    arm64: { at: at[2]!, old: arm64.old, neu: arm64.neu },
    gz: { at: at[3]!, file: gzFile, content },
    random: { at: at[4]!, bytes: random },
  };
}

/** The source every MBDF seed (and regression file) is decoded against. */
export function mbdfSource(): Uint8Array {
  return layout().source;
}

/** One delta per record kind (and one with several kinds in a row), all against mbdfSource(). */
export function mbdfSeeds(scratch: string): Uint8Array[] {
  const l = layout();
  const { source } = l;
  const seeds: Uint8Array[] = [];
  const one = (target: Uint8Array, add: (w: MbdfWriter) => void): void => {
    const w = new MbdfWriter({ targetSize: target.length, sourceSize: source.length, targetSha256: sha256(target) });
    add(w);
    w.end();
    seeds.push(w.bytes());
  };

  // ZERO, COPY, LITERAL plain and x86-filtered, APPROX over two extents.
  const r = l.random;
  const changed = r.bytes.slice(1000, 1600);
  for (let i = 0; i < changed.length; i += 50) changed[i] = changed[i]! ^ 0x21;
  const fresh = new Rng(12).bytes(70);
  const plain = [new Uint8Array(40), r.bytes.slice(100, 300), fresh, r.bytes.slice(2000, 2100), changed];
  one(concat(plain), (w) => {
    w.zero(40);
    w.copy(r.at + 100, plain[1]!);
    w.literal(fresh);
    w.literal(plain[3]!, "x86", 0x1000);
    w.approx([{ sourceOffset: r.at + 1000, length: 300 }, { sourceOffset: r.at + 1300, length: 300 }], approximateDiff(r.bytes.subarray(1000, 1600), changed), changed);
  });

  // EXEC, x86-64 and AArch64 (the old file read through two extents).
  for (const e of [l.x86, l.arm64]) {
    const exec = execDiff(e.old, e.neu, approximateDiff(e.old, e.neu), diffCost)!;
    one(e.neu, (w) => w.exec([{ sourceOffset: e.at, length: 1000 }, { sourceOffset: e.at + 1000, length: e.old.length - 1000 }], exec, e.neu));
  }

  // REDEFLATE: a changed .gz file (APPROX content against the old content), and a new one.
  const newContent = concat([l.gz.content.subarray(0, 5000), changelog(30, 6), l.gz.content.subarray(5000)]);
  const newGz = gzip9(newContent);
  one(newGz, (w) =>
    w.redeflate({
      extents: [{ sourceOffset: l.gz.at, length: 700 }, { sourceOffset: l.gz.at + 700, length: l.gz.file.length - 700 }],
      oldFormat: 1, oldContentLength: l.gz.content.length, compressor: 1, level: 9, header: GZIP_HEADER,
      content: { kind: "approx", diff: approximateDiff(l.gz.content, newContent) }, newContent,
    }, newGz));
  const brandNew = changelog(60, 7);
  const brandNewGz = gzip9(brandNew);
  one(brandNewGz, (w) =>
    w.redeflate({ extents: [], oldFormat: 1, oldContentLength: 0, compressor: 1, level: 9, header: GZIP_HEADER, content: { kind: "literal" }, newContent: brandNew }, brandNewGz));

  // VCDIFF: stock xdelta3's delta of a changed random region, with the whole source as its source.
  const region = mutateImage(r.bytes.subarray(8192, 40960), 9, 12);
  const vcdiff = xdelta3Encode(scratch, source, region, ["-W", "16384"]);
  one(region, (w) => w.vcdiff(vcdiff, region));
  return seeds;
}
