/**
 * The Artifact library next to mender-artifact 3.9 on the same rootfs-image, as ratios:
 *   npx tsx test/bench/artifact.ts [MiB=32]
 * - write: writeArtifact (gzip, fflate) vs `mender-artifact write rootfs-image` (gzip, pgzip)
 * - read:  readArtifact (every checksum; payload hashed, discarded) vs `mender-artifact validate`
 * - the gzip choices behind src/artifact/compression.ts: fflate vs Node's zlib, inflate and deflate
 * - what xz writing would buy: xz -9 / gzip -6 / zstd -3 sizes of an image and of a VCDIFF delta
 * Times are CPU seconds (user + system, best of 3): the machine is shared, wall time is noise.
 * Peak RSS of the read shows the payload is streamed, not held.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as zlib from "node:zlib";
import { Gunzip, Gzip } from "fflate";
import { readArtifact, writeArtifact } from "../../src/artifact";
import { mixedData } from "../compress/xz-fixtures";

const RUNS = 3;

async function cpu(fn: () => unknown): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.cpuUsage();
    await fn();
    const u = process.cpuUsage(t0);
    best = Math.min(best, (u.user + u.system) / 1e6);
  }
  return best;
}

/** CPU seconds of a shell command (children included), best of RUNS. */
function cpuCli(cmd: string): number {
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync("/usr/bin/time", ["-f", "%U %S", "sh", "-c", cmd], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
    const [user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number) as [number, number];
    best = Math.min(best, user + sys);
  }
  return best;
}

function sh(cmd: string): void {
  const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
}

const row = (what: string, ours: number, peer: number, peerName: string): void =>
  console.log(`${what.padEnd(34)} ours ${ours.toFixed(2)} s   ${peerName} ${peer.toFixed(2)} s   ratio ${(ours / peer).toFixed(2)}`);

async function main(): Promise<void> {
  const mib = Number(process.argv[2] ?? 32);
  const dir = mkdtempSync(path.join(tmpdir(), "artifact-bench-"));
  try {
    const image = path.join(dir, "rootfs.ext4");
    const imageBytes = mixedData(mib << 20, 1);
    writeFileSync(image, imageBytes);
    const checksum = createHash("sha256").update(imageBytes).digest("hex");
    console.log(`image: ${mib} MiB of mixed data (text, random runs, zeros, repeats)`);

    const ours = path.join(dir, "ours.mender");
    const theirs = path.join(dir, "theirs.mender");
    const spec = {
      artifactName: "bench",
      deviceTypes: ["qemux86-64"],
      payload: { type: "rootfs-image", provides: { "rootfs-image.checksum": checksum, "rootfs-image.version": "bench" }, files: [{ path: image }] },
    };
    const writeOurs = await cpu(() => writeArtifact(ours, spec));
    const writeTheirs = cpuCli(`mender-artifact write rootfs-image -t qemux86-64 -n bench -f ${image} -o ${theirs} --no-progress`);
    row("write rootfs-image (gzip)", writeOurs, writeTheirs, "mender-artifact");
    console.log(`${"".padEnd(34)} size ours ${statSync(ours).size} B, mender-artifact ${statSync(theirs).size} B`);

    const read = (file: string) => readArtifact(file, { onPayloadFile: () => ({ write: () => undefined }) });
    const rssBefore = process.resourceUsage().maxRSS;
    const readOurs = await cpu(() => read(theirs));
    const rssAfter = process.resourceUsage().maxRSS;
    const readTheirs = cpuCli(`mender-artifact validate ${theirs} > /dev/null`);
    row("read + verify (gzip)", readOurs, readTheirs, "mender-artifact validate");
    console.log(`${"".padEnd(34)} peak RSS ${(rssAfter / 1024).toFixed(0)} MiB (before reading ${(rssBefore / 1024).toFixed(0)} MiB) for a ${mib} MiB payload`);

    // The gzip implementation choices.
    const gz = zlib.gzipSync(imageBytes, { level: 6 });
    const fflateInflate = await cpu(() => {
      const g = new Gunzip(() => undefined);
      for (let i = 0; i < gz.length; i += 1 << 20) g.push(gz.subarray(i, i + (1 << 20)), i + (1 << 20) >= gz.length);
    });
    const zlibInflate = await cpu(() => zlib.gunzipSync(gz));
    row("gunzip: fflate vs zlib", fflateInflate, zlibInflate, "zlib");
    let fflateSize = 0;
    const fflateDeflate = await cpu(() => {
      fflateSize = 0;
      const g = new Gzip({ level: 6, mtime: 0 }, (c) => (fflateSize += c.length));
      for (let i = 0; i < imageBytes.length; i += 1 << 20) g.push(imageBytes.subarray(i, i + (1 << 20)), i + (1 << 20) >= imageBytes.length);
    });
    const zlibDeflate = await cpu(() => zlib.gzipSync(imageBytes, { level: 6 }));
    row("gzip -6: fflate vs zlib", fflateDeflate, zlibDeflate, "zlib");
    console.log(`${"".padEnd(34)} size fflate ${fflateSize} B, zlib ${gz.length} B`);

    // What xz writing would buy over gzip and zstd, for an image and for a delta.
    const next = Buffer.from(imageBytes);
    for (let i = 0; i < next.length; i += 65536) next[i] = (next[i]! + 1) & 255; // a scattered change
    next.set(mixedData(1 << 20, 2), next.length >> 1); // and a new MiB in the middle
    const nextPath = path.join(dir, "next.ext4");
    writeFileSync(nextPath, next);
    const delta = path.join(dir, "delta.vcdiff");
    sh(`xdelta3 -e -f -S none -s ${image} ${nextPath} ${delta}`);
    for (const [name, file] of [["image", image], ["delta (xdelta3 -S none)", delta]] as const) {
      const size = (cmd: string): number => Number(spawnSync("sh", ["-c", `${cmd} < ${file} | wc -c`], { encoding: "utf8" }).stdout.trim());
      const g = size("gzip -6 -c");
      const z = size("zstd -3 -q -c");
      const x = size("xz -9 -T1 -c");
      console.log(`${name.padEnd(34)} raw ${statSync(file).size} B   gzip -6 ${g}   zstd -3 ${z} (${((z / g) * 100).toFixed(1)}%)   xz -9 ${x} (${((x / g) * 100).toFixed(1)}% of gzip)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
