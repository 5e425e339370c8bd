/**
 * `npm run demo`: the whole story with the freshly built host programs. Two releases of a small
 * ext4 root file system (v2 = v1 plus a package-like change) become full rootfs-image Artifacts; the
 * generator makes the delta Artifact; the device program installs it on a simulated A/B device
 * (image files as partitions, a file-backed U-Boot environment through the real fw_setenv and
 * fw_printenv), the client's part played by this script as Mender 3.x plays it; reboot, commit.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readArtifact, readArtifactHeaders, writeArtifact } from "../artifact";
import { downloadStreaming, makeFileDevice, runModuleSync } from "./simulated-device";

const dist = path.resolve(__dirname, "..", "..", "dist", "x86_64");
const GENERATOR = path.join(dist, "mender-binary-delta-generator");
const MODULE = path.join(dist, "mender-binary-delta");
const DEVICE_TYPE = "demo-board";
const IMAGE_MIB = 16;
const PART_BYTES = 20 << 20;

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function fail(text: string): never {
  process.stderr.write(`demo: ${text}\n`);
  process.exit(1);
}

function kib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function sha256(file: string, bytes?: number): string {
  const data = fs.readFileSync(file);
  return createHash("sha256").update(bytes === undefined ? data : data.subarray(0, bytes)).digest("hex");
}

function tool(name: string, pkg: string): void {
  if (spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status !== 0) fail(`needs ${name} (Debian/Ubuntu package ${pkg})`);
}

/** Deterministic bytes that compress like binaries do (neither random nor trivial). */
function binaryLike(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = (x >>> 24) & (i % 7 === 0 ? 0xff : 0x3f);
  }
  return out;
}

/** A root file system tree for release `version` (2 adds a package and changes a library). */
function rootfsTree(dir: string, version: number): void {
  fs.rmSync(dir, { recursive: true, force: true });
  const put = (rel: string, data: string | Buffer): void => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data);
  };
  put("etc/os-release", `NAME="Demo Linux"\nVERSION_ID="${version}.0"\n`);
  put("etc/hostname", "demo\n");
  put("usr/bin/busybox", binaryLike(1_200_000, 1));
  const libc = binaryLike(2_000_000, 2);
  if (version >= 2) for (let i = 0; i < 40; i++) libc.writeUInt32LE(0xdecaf000 + i, 50_000 * i + 17); // a security fix
  put("usr/lib/libc.so.6", libc);
  put("usr/share/doc/README", "Demo root file system.\n".repeat(200));
  if (version >= 2) {
    put("usr/bin/dropbear", binaryLike(300_000, 3)); // the new package
    put("etc/dropbear/dropbear.conf", "port 22\n");
    put("var/lib/dpkg/status", "Package: dropbear\nVersion: 2022.83\n");
  }
}

function mkext4(tree: string, image: string): void {
  fs.rmSync(image, { force: true });
  execFileSync("truncate", ["-s", `${IMAGE_MIB}M`, image]);
  // Fixed UUID, hash seed and time: the same tree always gives the same image.
  execFileSync("mke2fs", ["-q", "-t", "ext4", "-F", "-d", tree, "-U", "8b0c1c7e-5d1f-4f55-9a0e-6a1b2c3d4e5f", "-E", "hash_seed=0d4c2b1a-1111-2222-3333-444455556666", image], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: "1767225600" },
  });
}

/** A full rootfs-image Artifact, with the provides mender-artifact gives one. */
async function rootfsArtifact(out: string, image: string, name: string): Promise<void> {
  await writeArtifact(out, {
    artifactName: name,
    deviceTypes: [DEVICE_TYPE],
    payload: {
      type: "rootfs-image",
      provides: { "rootfs-image.checksum": sha256(image), "rootfs-image.version": name },
      clearsProvides: ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"],
      files: [{ path: image }],
    },
  });
}

async function main(): Promise<void> {
  for (const p of [GENERATOR, MODULE]) if (!fs.existsSync(p)) fail(`${p} is missing; run 'npm run demo' (it builds it first)`);
  tool("mke2fs", "e2fsprogs");
  tool("fw_setenv", "libubootenv-tool");
  tool("fw_printenv", "libubootenv-tool");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mender-delta-demo-"));
  try {
    await story(work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function story(work: string): Promise<void> {
  const t0 = Date.now();
  say("1. Two releases of a root file system (ext4, mke2fs -d)");
  const v1 = path.join(work, "demo-image.ext4.v1");
  const v2dir = path.join(work, "release-2");
  fs.mkdirSync(v2dir);
  const v2 = path.join(v2dir, "demo-image.ext4");
  rootfsTree(path.join(work, "tree-1"), 1);
  rootfsTree(path.join(work, "tree-2"), 2);
  mkext4(path.join(work, "tree-1"), v1);
  mkext4(path.join(work, "tree-2"), v2);
  say(`   release-1: ${kib(fs.statSync(v1).size)} image; release-2 adds a package (dropbear) and patches libc`);

  say("2. Full rootfs-image Artifacts, as a build system makes them");
  const r1 = path.join(work, "release-1.mender");
  const r2 = path.join(work, "release-2.mender");
  // The image keeps one name in both releases, as a Yocto build's does.
  const v1named = path.join(work, "release-1-image");
  fs.mkdirSync(v1named);
  fs.copyFileSync(v1, path.join(v1named, "demo-image.ext4"));
  await rootfsArtifact(r1, path.join(v1named, "demo-image.ext4"), "release-1");
  await rootfsArtifact(r2, v2, "release-2");
  say(`   release-1.mender ${kib(fs.statSync(r1).size)}, release-2.mender ${kib(fs.statSync(r2).size)}`);

  say("3. The delta Artifact");
  const delta = path.join(work, "release-2-delta.mender");
  const args = ["-o", delta, r1, r2];
  say(`   $ mender-binary-delta-generator ${args.map((a) => (a.startsWith(work) ? path.relative(work, a) : a)).join(" ")}`);
  const gen = spawnSync(GENERATOR, args, { encoding: "utf8" });
  if (gen.status !== 0) fail(`the generator failed:\n${gen.stderr}`);
  say(gen.stdout.trimEnd().split("\n").map((l) => `   ${l}`).join("\n"));

  say("4. A device running release-1: partitions A (running) and B as image files, U-Boot env in a file");
  // The client gives the module the delta's headers in a file tree; these are the ones it would write.
  const headers = await readArtifactHeaders(delta);
  const payload = headers.payloads[0]!;
  const device = makeFileDevice(path.join(work, "device"), v1, {
    artifactName: headers.headerInfo.artifactName,
    deviceType: DEVICE_TYPE,
    artifactDeviceTypes: headers.headerInfo.deviceTypes,
    sourceChecksum: String(payload.typeInfo.depends["rootfs-image.checksum"]),
    targetChecksum: payload.typeInfo.provides["rootfs-image.checksum"]!,
    metaData: payload.metaData ?? {},
  }, PART_BYTES);
  const { env, tree, partB } = device;
  const showEnv = (): string => Object.entries(device.readEnv()).filter(([k]) => k !== "mender_boot_part_hex").map(([k, v]) => `${k}=${v}`).join(" ");
  say(`   boot env: ${showEnv()}`);

  say("5. Install: the client hands the delta to the mender-binary-delta Update Module");
  const chunks: Buffer[] = [];
  await readArtifact(delta, { onPayloadFile: () => ({ write: (c: Uint8Array) => void chunks.push(Buffer.from(c)) }) });
  const deltaBytes = Buffer.concat(chunks);
  const step = (state: string): string => {
    const r = runModuleSync(state, tree, env, [MODULE]);
    if (r.status !== 0) fail(`${state} failed:\n${r.stderr}`);
    return r.stdout.trim();
  };
  const dl = await downloadStreaming(tree, env, { name: payload.files[0]!.name, data: deltaBytes }, false, [MODULE]);
  if (dl.status !== 0) fail(`Download failed:\n${dl.stderr}`);
  say(`   Download: ${kib(deltaBytes.length)} of delta streamed into partition B`);
  step("ArtifactInstall");
  say(`   ArtifactInstall: boot env now ${showEnv()}`);
  say(`   NeedsArtifactReboot: ${step("NeedsArtifactReboot")}`);

  say("6. Reboot into B, verify, commit");
  device.boot(3);
  step("ArtifactVerifyReboot");
  step("ArtifactCommit");
  step("Cleanup");
  const imageBytes = fs.statSync(v2).size;
  const ok = sha256(partB, imageBytes) === sha256(v2);
  say(`   boot env: ${showEnv()}; partition B ${ok ? "equals" : "DIFFERS FROM"} release-2's image`);
  if (!ok) fail("partition B does not hold release-2");

  const full = fs.statSync(r2).size;
  const small = fs.statSync(delta).size;
  say("");
  say(`Result: release-2 reached the device as a ${kib(small)} delta Artifact instead of the ${kib(full)} full one ` +
    `(${((small / full) * 100).toFixed(1)}%, ${(full / small).toFixed(0)}x smaller); ${((Date.now() - t0) / 1000).toFixed(1)} s in all.`);
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));
