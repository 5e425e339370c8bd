/**
 * The storage guard and the target checks with the real Mender 3.4 client (standalone install):
 * RootfsPartB set to the whole disk that holds the active partition, or to a hard link of the
 * active partition's image file; a delta whose new image is empty or larger than partition B.
 * Every install fails, and the storage and the boot environment are exactly as before.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needRoot, needTools } from "../helpers/peers";
import { ClientSandbox } from "./client-sandbox";
import { makeImagePartitions, makeReleasePair, sha256, sha256Direct, type ReleasePair } from "./fixtures";

const MiB = 1 << 20;
const PART_BYTES = 6 * MiB;
/** The disk for the whole-disk case: a 1 MiB p1 at 1 MiB, p2 (A, holding release 1) at 2 MiB, p3 after it. */
const P2_SECTOR = 4096;
const PART_SECTORS = PART_BYTES / 512;
const TOOLS = ["mender", "mender-artifact", "fw_printenv", "fw_setenv", "xdelta3", "mke2fs", "losetup", "unshare", "mount", "sfdisk", "partx"];
const CLEARS = ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"];
const INITIAL_ENV = { mender_boot_part: "2", mender_boot_part_hex: "2", upgrade_available: "0", bootcount: "0" };

let work: string;
let sb: ClientSandbox | undefined;
let rel: ReleasePair;
let partAFile: string;
let disk: string | undefined;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-guard-client-"));
  if (process.getuid?.() !== 0 || spawnSync("sh", ["-c", TOOLS.map((t) => `command -v ${t}`).join(" && ")], { stdio: "ignore" }).status !== 0) return;
  rel = makeReleasePair(work);
  partAFile = path.join(work, "partA.img");
  makeImagePartitions(partAFile, path.join(work, "partB.img"), rel.v1, PART_BYTES);
  sb = new ClientSandbox(path.join(work, "sb"), [partAFile, path.join(work, "partB.img")]);
  const image = path.join(work, "disk.img");
  fs.writeFileSync(image, Buffer.alloc(P2_SECTOR * 512 + 2 * PART_BYTES));
  execFileSync("sfdisk", ["-q", image], { input: `label: dos\n2048,2048,83\n${P2_SECTOR},${PART_SECTORS},83\n${P2_SECTOR + PART_SECTORS},${PART_SECTORS},83\n` });
  const fd = fs.openSync(image, "r+");
  fs.writeSync(fd, fs.readFileSync(rel.v1), 0, rel.imageBytes, P2_SECTOR * 512);
  fs.closeSync(fd);
  disk = execFileSync("losetup", ["-f", "--show", "-P", image], { encoding: "utf8" }).trim();
  // Kernels without a DOS partition parser show no partitions until partx adds them.
  if (!fs.existsSync(`${disk}p1`)) execFileSync("partx", ["-a", disk]);
  for (let i = 0; i < 200 && !fs.existsSync(`${disk}p1`); i++) spawnSync("sleep", ["0.01"]);
});

after(() => {
  sb?.close();
  if (disk) {
    spawnSync("partx", ["-d", disk]);
    spawnSync("losetup", ["-d", disk]);
  }
  fs.rmSync(work, { recursive: true, force: true });
});

function usable(t: import("node:test").TestContext): ClientSandbox | undefined {
  if (!needRoot(t, "loop devices, mounts and mount namespaces") || !needTools(t, ...TOOLS)) return undefined;
  assert.ok(sb && disk && fs.existsSync(`${disk}p1`), "sandbox and partitioned disk set up");
  return sb;
}

function seed(s: ClientSandbox): void {
  const art = s.artifact("seed", { type: "noop-module", provides: [`rootfs-image.checksum:${rel.sum1}`, "rootfs-image.version:release-1"] });
  const r = s.mender("install", art);
  assert.equal(r.status, 0, r.log);
}

function deltaArtifact(s: ClientSandbox, name: string, file: string, provides: string, meta: object): string {
  return s.artifact(name, {
    file,
    depends: [`rootfs-image.checksum:${rel.sum1}`],
    provides: [`rootfs-image.checksum:${provides}`, `rootfs-image.version:${name}`],
    clears: CLEARS,
    meta: { delta_algorithm: "xdelta3", ...meta },
  });
}

/** The module's configuration in the sandbox, with RootfsPartB replaced for one test. */
function withPartB(s: ClientSandbox, partB: string, body: () => void): void {
  const conf = path.join(s.etc, "mender-binary-delta.conf");
  const saved = fs.readFileSync(conf);
  fs.writeFileSync(conf, JSON.stringify({ ...JSON.parse(saved.toString()), RootfsPartB: partB }));
  try {
    body();
  } finally {
    fs.writeFileSync(conf, saved);
  }
}

/**
 * `mender install` fails on `artifact` with `message` in its log; the sha256 of each device in
 * `unchanged`, the boot environment and the provides are as before; fw_setenv never ran.
 */
function expectRefused(s: ClientSandbox, artifact: string, message: RegExp, unchanged: string[]): string {
  const sums = unchanged.map((d) => sha256Direct(d));
  s.bootEnv.takeSetBatches();
  const r = s.mender("install", artifact);
  assert.equal(r.status, 1, r.log);
  assert.match(r.log, message);
  assert.deepEqual(s.env(), INITIAL_ENV, "boot environment unchanged");
  assert.deepEqual(s.bootEnv.takeSetBatches(), [], "fw_setenv never called");
  assert.deepEqual(unchanged.map((d) => sha256Direct(d)), sums, `bytes of ${unchanged.join(", ")} unchanged`);
  assert.equal(s.provides().get("rootfs-image.checksum"), rel.sum1);
  return r.log;
}

test("real client: RootfsPartB is the whole disk holding the active partition -> install refused, disk and env unchanged", (t) => {
  const s = usable(t);
  if (!s) return;
  s.reset();
  seed(s);
  const art = deltaArtifact(s, "release-2", rel.deltaFile, rel.sum2, { rootfs_file_size: rel.imageBytes });
  // A is partition 2 of the disk; B is named like a real whole disk, whose name ends in a digit.
  const wholeDisk = path.join(s.dir, "dev", "mmcblk0");
  fs.symlinkSync(disk!, wholeDisk);
  s.serveActiveFrom(`${disk}p2`);
  try {
    withPartB(s, wholeDisk, () => {
      // Not mounted: only sysfs (p2's start and size on the disk) tells.
      let log = expectRefused(s, art, /refusing to write the inactive partition .*\/dev\/mmcblk0 \(\/dev\/loop\d+\): it contains the active partition .*mmcblk0p2/, [disk!]);
      assert.doesNotMatch(log, /checking the active partition/, "refused before the source check and the download");
      // Mounted, as a running root is: the kernel's exclusive claim refuses as well.
      const mnt = fs.mkdtempSync(path.join(work, "root2-"));
      execFileSync("mount", ["-t", "ext4", "-o", "ro", `${disk}p2`, mnt]);
      try {
        log = expectRefused(s, art, /refusing to write the inactive partition .*\/dev\/mmcblk0 .*: the kernel reports it in use/, [disk!]);
      } finally {
        execFileSync("umount", [mnt]);
      }
    });
  } finally {
    s.serveActiveFrom(undefined);
    fs.rmSync(wholeDisk);
  }
  // The same Artifact installs with the configuration fixed.
  const r = s.mender("install", art);
  assert.equal(r.status, 0, r.log);
  assert.equal(sha256Direct(s.loops[1], rel.imageBytes), rel.sum2);
});

test("real client: RootfsPartB is a hard link of the active partition's image file -> install refused, A and env unchanged", (t) => {
  const s = usable(t);
  if (!s) return;
  s.reset();
  seed(s);
  const link = path.join(s.dir, "dev", "partA-hardlink3");
  fs.rmSync(link, { force: true });
  fs.linkSync(partAFile, link);
  try {
    withPartB(s, link, () => {
      const art = deltaArtifact(s, "release-2", rel.deltaFile, rel.sum2, { rootfs_file_size: rel.imageBytes });
      expectRefused(s, art, /refusing to write the inactive partition \S*partA-hardlink3: it is the same storage as the active partition .*mmcblk0p2/, [s.loops[0], s.loops[1]]);
    });
  } finally {
    fs.rmSync(link);
  }
});

test("real client: a delta to an empty image, or declaring an image larger than partition B -> refused before download, B and env unchanged", (t) => {
  const s = usable(t);
  if (!s) return;
  s.reset();
  seed(s);
  const empty = path.join(work, "empty");
  fs.mkdirSync(empty, { recursive: true });
  fs.writeFileSync(path.join(empty, "empty.ext4"), "");
  const emptyDelta = path.join(empty, "empty.ext4.delta");
  execFileSync("xdelta3", ["-e", "-f", "-S", "lzma", "-A", "-s", rel.v1, path.join(empty, "empty.ext4"), emptyDelta]);
  const emptySum = sha256(new Uint8Array(0));
  const devices = [s.loops[0], s.loops[1]];

  // As Mender's docs use rootfs_file_size (the source's size), and as the generator (the target's).
  let log = expectRefused(s, deltaArtifact(s, "empty-1", emptyDelta, emptySum, { rootfs_file_size: rel.imageBytes }), /the Artifact's new image is empty/, devices);
  assert.doesNotMatch(log, /checking the active partition/, "refused before the source check and the download");
  log = expectRefused(
    s,
    deltaArtifact(s, "empty-2", emptyDelta, emptySum, { rootfs_file_size: 0, source_rootfs_file_size: rel.imageBytes }),
    /meta-data rootfs_file_size must be a positive integer/,
    devices,
  );
  assert.doesNotMatch(log, /checking the active partition/);
  log = expectRefused(
    s,
    deltaArtifact(s, "too-large", rel.deltaFile, rel.sum2, { rootfs_file_size: PART_BYTES + 4096, source_rootfs_file_size: rel.imageBytes }),
    new RegExp(`the new image does not fit on the inactive partition \\S+: the Artifact declares rootfs_file_size ${PART_BYTES + 4096} bytes, the partition holds ${PART_BYTES}\\. Refused before download`),
    devices,
  );
  assert.doesNotMatch(log, /checking the active partition/);
});
