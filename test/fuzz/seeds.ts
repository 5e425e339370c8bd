/**
 * Valid inputs the mutations start from, made at run time by the real tools from small generated
 * data: VCDIFF deltas by stock `xdelta3 -e` (plain, DJW and LZMA secondary compression, one and
 * several windows, with and without a source), .xz files by the `xz` CLI (presets, checks, block
 * sizes, concatenated streams), Artifacts by `mender-artifact write` (compressions, a signed one),
 * MBDF deltas by our writer (mbdf-seeds.ts), ext4 images by `mke2fs -d` (ext4-seeds.ts).
 * The VCDIFF source is a fixed function of a seed, so a saved regression delta replays against it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeKeys, makeFile, ok } from "../artifact/fixtures";
import { mixedData, xz } from "../compress/xz-fixtures";
import { ext4Seeds } from "./ext4-seeds";
import { mbdfSeeds, mbdfSource } from "./mbdf-seeds";
import { makeImage, mutateImage, xdelta3Encode } from "../vcdiff/helpers";
import type { TargetName } from "./targets";

/** The tools each target's seeds need. */
export const SEED_TOOLS: Record<TargetName, string[]> = {
  "harness-check": [],
  vcdiff: ["xdelta3"],
  xz: ["xz"],
  artifact: ["mender-artifact", "openssl"],
  mbdf: ["xdelta3"],
  ext4: ["mke2fs", "debugfs", "e2fsck"],
};

/** The source image every VCDIFF seed (and regression file) is decoded against. */
export function vcdiffSource(): Uint8Array {
  return makeImage(0x5eed, 40 << 10);
}

export interface Seeds {
  seeds: Uint8Array[];
  source?: Uint8Array;
  verifyKey?: string;
}

function withScratch<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mbd-fuzz-seeds-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function makeSeeds(target: TargetName): Seeds {
  switch (target) {
    case "vcdiff":
      return withScratch(vcdiffSeeds);
    case "xz":
      return { seeds: xzSeeds() };
    case "artifact":
      return withScratch(artifactSeeds);
    case "mbdf":
      return withScratch((dir) => ({ seeds: mbdfSeeds(dir), source: mbdfSource() }));
    case "ext4":
      return withScratch((dir) => ({ seeds: ext4Seeds(dir) }));
    case "harness-check":
      return { seeds: [new Uint8Array([0])] };
  }
}

function vcdiffSeeds(dir: string): Seeds {
  const source = vcdiffSource();
  const target = mutateImage(source, 7, 12);
  const noSource = makeImage(0xabc, 20 << 10);
  const seeds: Uint8Array[] = [];
  for (const secondary of ["none", "djw", "lzma"]) {
    seeds.push(xdelta3Encode(dir, source, target, ["-S", secondary]));
    // Small windows: several windows, source segments that move.
    seeds.push(xdelta3Encode(dir, source, target, ["-S", secondary, "-W", "16384"]));
    seeds.push(xdelta3Encode(dir, null, noSource, ["-S", secondary, "-9"]));
  }
  // No checksum and no application header: other header shapes.
  seeds.push(xdelta3Encode(dir, source, target, ["-S", "none", "-n", "-A="]));
  return { seeds, source };
}

function xzSeeds(): Uint8Array[] {
  const data = mixedData(24 << 10, 3);
  const small = mixedData(3000, 4);
  return [
    xz(["-0"], data),
    xz(["-6", "--check=crc32"], data),
    xz(["--check=sha256", "--block-size=4096"], data),
    xz(["--check=none", "-1"], small),
    xz(["-9e", "--check=crc64"], small),
    xz([], new Uint8Array(0)),
    // Concatenated streams with stream padding between them.
    new Uint8Array(Buffer.concat([xz(["-0"], small), Buffer.alloc(4), xz(["-3"], small)])),
    // LZMA2 uncompressed chunks (incompressible data).
    xz(["-0", "--check=crc32"], new Uint8Array(Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 2654435761) >>> 24)))),
  ];
}

function artifactSeeds(dir: string): Seeds {
  const keys = makeKeys(dir);
  const rootfs = makeFile(path.join(dir, "rootfs.ext4"), 3000, 1);
  const delta = makeFile(path.join(dir, "delta.vcdiff"), 1500, 2);
  const seeds: Uint8Array[] = [];
  const write = (name: string, args: string[]): void => {
    const out = path.join(dir, name);
    ok("mender-artifact", ["write", ...args, "-o", out]);
    seeds.push(new Uint8Array(readFileSync(out)));
  };
  write("none.mender", ["rootfs-image", "-f", rootfs, "-t", "beaglebone", "-n", "release-1", "--compression", "none"]);
  write("gzip.mender", ["rootfs-image", "-f", rootfs, "-t", "beaglebone", "-n", "release-2", "--compression", "gzip"]);
  write("lzma.mender", ["rootfs-image", "-f", rootfs, "-t", "beaglebone", "-n", "release-3", "--compression", "lzma"]);
  const meta = path.join(dir, "meta.json");
  writeFileSync(meta, JSON.stringify({ rootfs_sha256: "0".repeat(64), nested: { list: [1, 2, { a: "b" }] } }));
  write("module.mender", [
    "module-image", "-T", "mender-binary-delta", "-f", delta, "-t", "beaglebone", "-n", "delta-1",
    "--compression", "none", "-m", meta, "--software-filesystem", "rootfs-image", "--software-name", "rootfs",
  ]);
  write("signed.mender", ["rootfs-image", "-f", rootfs, "-t", "beaglebone", "-n", "release-4", "--compression", "none", "-k", keys.rsaKey]);
  return { seeds, verifyKey: readFileSync(keys.rsaPub, "utf8") };
}
