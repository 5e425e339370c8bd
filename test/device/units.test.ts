/** The device program's small modules on their own: configuration, boot environment, writer, headers. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needRoot, needTools } from "../helpers/peers";
import { execFileSync } from "node:child_process";
import { configPaths, loadConfig } from "../../src/device/config";
import { openBootEnv, parsePrintedVariable } from "../../src/device/bootenv";
import { crc32 } from "../../src/compress/crc32";
import { PartitionWriter, FRAME_BYTES } from "../../src/device/partition-writer";
import { deltaFacts, sourceBufferFromArguments } from "../../src/device/delta-header";
import { configuredPartitions, hexNumber, rootFromCmdline } from "../../src/device/partitions";
import { MenderDeltaError } from "../../src/errors";
import { makeBootEnv, sha256 } from "./fixtures";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "mbd-units-"));

test("config: own file first, mender.conf keys as fallback, keys case-insensitive, env var names the file", () => {
  const dir = tmp();
  const own = path.join(dir, "mbd.conf");
  const main = path.join(dir, "mender.conf");
  const fallback = path.join(dir, "var-mender.conf");
  fs.writeFileSync(own, JSON.stringify({ rootfsparta: "/dev/own2" }));
  fs.writeFileSync(main, JSON.stringify({ RootfsPartA: "/dev/main2", ROOTFSPARTB: "/dev/main3" }));
  fs.writeFileSync(fallback, JSON.stringify({ RootfsPartB: "/dev/var3", FlashTool: "mender-flash" }));
  const c = loadConfig({ MENDER_BINARY_DELTA_CONF: own }, [main, fallback]);
  assert.deepEqual([c.rootfsPartA, c.rootfsPartB, c.flashTool], ["/dev/own2", "/dev/main3", "mender-flash"]);

  assert.throws(() => loadConfig({ MENDER_BINARY_DELTA_CONF: path.join(dir, "missing") }, [main]), /names .*missing, which does not exist/);
  assert.throws(() => loadConfig({ MENDER_BINARY_DELTA_CONF: own }, []), /RootfsPartA and RootfsPartB are not both set/);
  fs.writeFileSync(own, "{ not json");
  assert.throws(() => loadConfig({ MENDER_BINARY_DELTA_CONF: own }, []), (e) => e instanceof MenderDeltaError && /not valid JSON/.test(e.message));
  fs.writeFileSync(own, JSON.stringify({ RootfsPartA: "/dev/a2", RootfsPartB: "/dev/a3", FlashTool: "ubiupdatevol" }));
  assert.throws(() => loadConfig({ MENDER_BINARY_DELTA_CONF: own }, []), /FlashTool "ubiupdatevol" is not supported/);
  fs.rmSync(dir, { recursive: true });
});

test("config: the client's directories (MENDER_CONF_DIR, MENDER_DATASTORE_DIR), main mender.conf over the data store's; errors name the files read", () => {
  const dir = tmp();
  const conf = path.join(dir, "conf");
  const store = path.join(dir, "store");
  fs.mkdirSync(conf);
  fs.mkdirSync(store);
  const env = { MENDER_CONF_DIR: conf, MENDER_DATASTORE_DIR: store };
  assert.deepEqual(configPaths(env), {
    own: path.join(conf, "mender-binary-delta.conf"),
    menderConf: [path.join(conf, "mender.conf"), path.join(store, "mender.conf")],
  });
  // Unset or empty: the device's defaults (as ${VAR:-default} in Mender's rootfs-image module).
  const defaults = { own: "/etc/mender/mender-binary-delta.conf", menderConf: ["/etc/mender/mender.conf", "/var/lib/mender/mender.conf"] };
  assert.deepEqual(configPaths({}), defaults);
  assert.deepEqual(configPaths({ MENDER_CONF_DIR: "", MENDER_DATASTORE_DIR: "" }), defaults);

  // Both partitions only in the client's mender.conf under MENDER_CONF_DIR (meta-mender's layout).
  fs.writeFileSync(path.join(conf, "mender.conf"), JSON.stringify({ RootfsPartA: "/dev/conf2", RootfsPartB: "/dev/conf3" }));
  fs.writeFileSync(path.join(store, "mender.conf"), JSON.stringify({ RootfsPartA: "/dev/store2", RootfsPartB: "/dev/store3" }));
  let c = loadConfig(env);
  assert.deepEqual([c.rootfsPartA, c.rootfsPartB], ["/dev/conf2", "/dev/conf3"]);
  assert.deepEqual(c.sources, [`RootfsPartA from ${path.join(conf, "mender.conf")}`, `RootfsPartB from ${path.join(conf, "mender.conf")}`]);
  // The data store's copy fills what the main file leaves out; the module's own file wins over both.
  fs.writeFileSync(path.join(conf, "mender.conf"), JSON.stringify({ RootfsPartA: "/dev/conf2" }));
  fs.writeFileSync(path.join(conf, "mender-binary-delta.conf"), JSON.stringify({ RootfsPartA: "/dev/own2" }));
  c = loadConfig(env);
  assert.deepEqual([c.rootfsPartA, c.rootfsPartB], ["/dev/own2", "/dev/store3"]);

  fs.rmSync(path.join(store, "mender.conf"));
  const err = (() => {
    try {
      loadConfig(env);
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  })();
  assert.equal(
    err,
    `RootfsPartA and RootfsPartB are not both set (looked in ${path.join(conf, "mender-binary-delta.conf")}: sets RootfsPartA only, ` +
      `${path.join(conf, "mender.conf")}: sets RootfsPartA only, ${path.join(store, "mender.conf")}: not found). ` +
      `Write them to ${path.join(conf, "mender-binary-delta.conf")}, e.g. {"RootfsPartA": "/dev/mmcblk0p2", "RootfsPartB": "/dev/mmcblk0p3"}`,
  );
  fs.rmSync(dir, { recursive: true });
});

test("boot env: one batch through fw_setenv -s -, read back; the canary check refuses writes", (t) => {
  if (!needTools(t, "fw_printenv", "fw_setenv")) return;
  const dir = tmp();
  const fx = makeBootEnv(dir, { mender_boot_part: "2", upgrade_available: "0" });
  const env = { PATH: `${fx.binDir}:${process.env.PATH}` };
  const be = openBootEnv(env);
  assert.equal(path.basename(be.setTool), "fw_setenv");
  be.write({ mender_boot_part: "3", mender_boot_part_hex: "3", upgrade_available: "1", bootcount: "0" });
  assert.equal(fx.read().get("mender_boot_part"), "3");
  assert.equal(fx.read().get("upgrade_available"), "1");

  fx.set({ mender_check_saveenv_canary: "1" });
  assert.throws(() => be.write({ upgrade_available: "0" }), /mender_saveenv_canary check/);
  assert.equal(fx.read().get("upgrade_available"), "1", "nothing written");
  assert.throws(() => be.read(), /mender_saveenv_canary check/);
  fx.set({ mender_saveenv_canary: "1" });
  be.write({ upgrade_available: "0" });
  assert.equal(fx.read().get("upgrade_available"), "0");
  fs.rmSync(dir, { recursive: true });
});

test("boot env: GRUB's grub-mender-grubenv tools win over fw_printenv, as in the client", (t) => {
  if (!needTools(t, "fw_printenv", "fw_setenv")) return;
  const dir = tmp();
  const fx = makeBootEnv(dir, { mender_boot_part: "2" });
  // Stand-ins with GRUB's names (same command-line contract: print name=value lines, -s - script).
  fs.copyFileSync(path.join(fx.binDir, "fw_printenv"), path.join(fx.binDir, "grub-mender-grubenv-print"));
  fs.copyFileSync(path.join(fx.binDir, "fw_setenv"), path.join(fx.binDir, "grub-mender-grubenv-set"));
  const be = openBootEnv({ PATH: `${fx.binDir}:${process.env.PATH}` });
  assert.equal(path.basename(be.printTool), "grub-mender-grubenv-print");
  assert.equal(path.basename(be.setTool), "grub-mender-grubenv-set");
  assert.equal(be.read().get("mender_boot_part"), "2");
  assert.throws(() => openBootEnv({ PATH: path.join(dir, "nothing") }), /no boot environment tools found/);
  fs.rmSync(dir, { recursive: true });
});

test("boot env: one variable per print call, read exactly: multi-line, '=' inside, empty; other output is refused", () => {
  assert.equal(parsePrintedVariable("bootcmd=run a=b; boot\n", "bootcmd", "x"), "run a=b; boot");
  assert.equal(parsePrintedVariable("s=line 1\nupgrade_available=1\n\n", "s", "x"), "line 1\nupgrade_available=1\n");
  assert.equal(parsePrintedVariable("e=\n", "e", "x"), "");
  assert.throws(() => parsePrintedVariable("## Error: something\n", "e", "fw_printenv"), /unexpected output from fw_printenv e: .*expected e=VALUE/);
  assert.throws(() => parsePrintedVariable("", "e", "fw_printenv"), /unexpected output/);
});

test("boot env: a value that would smuggle a second variable into the -s - batch is refused, nothing written", (t) => {
  if (!needTools(t, "fw_printenv", "fw_setenv")) return;
  const dir = tmp();
  const fx = makeBootEnv(dir, { mender_boot_part: "2", upgrade_available: "0" });
  const be = openBootEnv({ PATH: `${fx.binDir}:${process.env.PATH}` });
  const before = [...fx.read()];
  const bads: Record<string, string>[] = [{ upgrade_available: "0\nmender_boot_part=3" }, { upgrade_available: "0\rx" }, { upgrade_available: "0 1" }, { upgrade_available: "1".repeat(1000) }, { "a=b": "1" }, { "#x": "1" }];
  for (const bad of bads) {
    assert.throws(() => be.write(bad), /refusing to write .* to the boot environment: .*nothing was written/, JSON.stringify(bad));
  }
  assert.deepEqual([...fx.read()], before);
  assert.deepEqual(fx.takeSetBatches(), [], "fw_setenv never ran");
  fs.rmSync(dir, { recursive: true });
});

test("boot env: U-Boot's own fw_printenv ('## Error: \"NAME\" not defined', exit 1) reads as unset; other failures are errors", (t) => {
  if (!needTools(t, "fw_printenv", "fw_setenv")) return;
  const dir = tmp();
  const fx = makeBootEnv(dir, { mender_boot_part: "2" });
  // The message and exit status of U-Boot's tools/env fw_printenv for an undefined variable.
  const legacy = path.join(dir, "legacy");
  fs.mkdirSync(legacy);
  fs.writeFileSync(
    path.join(legacy, "fw_printenv"),
    `#!/bin/sh\nout=$("${fx.binDir}/fw_printenv" "$@") || exit 1\n` +
      `if [ "$out" = "$1=" ]; then echo "## Error: \\"$1\\" not defined" >&2; exit 1; fi\nprintf '%s\\n' "$out"\n`,
    { mode: 0o755 },
  );
  fs.symlinkSync(path.join(fx.binDir, "fw_setenv"), path.join(legacy, "fw_setenv"));
  const be = openBootEnv({ PATH: `${legacy}:${process.env.PATH}` });
  assert.deepEqual([...be.read()], [["mender_boot_part", "2"]], "upgrade_available is not defined: absent, not an error");
  be.write({ upgrade_available: "1" });
  assert.deepEqual([...be.read()], [["mender_boot_part", "2"], ["upgrade_available", "1"]]);
  fs.writeFileSync(path.join(legacy, "fw_printenv"), `#!/bin/sh\necho "Cannot read environment, using default" >&2\nexit 1\n`);
  assert.throws(() => be.read(), /fw_printenv mender_check_saveenv_canary failed \(exit 1\): Cannot read environment, using default; cannot read the boot environment/);
  fs.rmSync(dir, { recursive: true });
});

test("partition writer: frames that already hold the right bytes are not rewritten; too large an image is refused", () => {
  const dir = tmp();
  const target = path.join(dir, "p3");
  fs.writeFileSync(target, Buffer.alloc(4 * FRAME_BYTES));
  const image = Buffer.alloc(3 * FRAME_BYTES + 1234);
  for (let i = 0; i < image.length; i += 4096) image[i] = ((i / 4096) % 255) + 1;
  const write = () => {
    const w = new PartitionWriter(target);
    for (let i = 0; i < image.length; i += 100_000) w.write(image.subarray(i, i + 100_000));
    w.finish();
    return w.stats();
  };
  const first = write();
  const frameCrcs = (img: Uint8Array, frames: number[]) => frames.map((i) => crc32(img.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES)));
  assert.deepEqual([first.framesWritten, first.framesSkipped, first.bytes], [4, 0, image.length]);
  assert.deepEqual([[...first.writtenFrames], [...first.writtenCrcs]], [[0, 1, 2, 3], frameCrcs(image, [0, 1, 2, 3])], "each written frame and its CRC-32");
  const second = write();
  assert.deepEqual([second.framesWritten, second.framesSkipped], [0, 4]);
  assert.equal(sha256(fs.readFileSync(target).subarray(0, image.length)), sha256(image));
  // A frame that differs only after its first page (read first, alone) and one that differs in it.
  const fd = fs.openSync(target, "r+");
  fs.writeSync(fd, Buffer.from([0xee]), 0, 1, FRAME_BYTES + 500_000);
  fs.writeSync(fd, Buffer.from([0xee]), 0, 1, 2 * FRAME_BYTES + 10);
  fs.closeSync(fd);
  const third = write();
  assert.deepEqual([third.framesWritten, third.framesSkipped], [2, 2]);
  assert.deepEqual([[...third.writtenFrames], [...third.writtenCrcs]], [[1, 2], frameCrcs(image, [1, 2])], "only the frames written are listed");
  assert.equal(sha256(fs.readFileSync(target).subarray(0, image.length)), sha256(image));

  // Many frames, written in pieces that straddle frame boundaries: every byte lands where it belongs.
  const big = Buffer.alloc(9 * FRAME_BYTES + 77);
  for (let i = 0; i < big.length; i += 512) big[i] = ((i / 512) % 253) + 1;
  fs.writeFileSync(target, Buffer.alloc(10 * FRAME_BYTES));
  const wb = new PartitionWriter(target);
  for (let i = 0; i < big.length; i += 300_000) wb.write(big.subarray(i, i + 300_000));
  wb.finish();
  assert.deepEqual([wb.stats().framesWritten, [...wb.stats().writtenCrcs]], [10, frameCrcs(big, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])]);
  assert.equal(sha256(fs.readFileSync(target).subarray(0, big.length)), sha256(big));

  fs.truncateSync(target, FRAME_BYTES);
  const w = new PartitionWriter(target);
  assert.throws(() => w.write(image), /does not fit/);
  w.abort();
  fs.rmSync(dir, { recursive: true });
});

test("partition writer: a write that fails (a full file system) is reported with its offset, as the storage's fault", (t) => {
  if (!needRoot(t, "a small tmpfs")) return;
  const dir = tmp();
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir]);
  try {
    const target = path.join(dir, "p3");
    fs.writeFileSync(target, "");
    fs.truncateSync(target, 8 * FRAME_BYTES); // larger than the file system can hold
    const image = Buffer.alloc(8 * FRAME_BYTES, 0x5a);
    const w = new PartitionWriter(target);
    assert.throws(
      () => {
        for (let i = 0; i < image.length; i += FRAME_BYTES) w.write(image.subarray(i, i + FRAME_BYTES));
        w.finish();
      },
      (err: unknown) => err instanceof MenderDeltaError && /^writing .*p3 at byte \d+ failed: ENOSPC.*; the storage may be failing$/.test(err.message),
    );
    w.abort();
  } finally {
    execFileSync("umount", [dir]);
    fs.rmSync(dir, { recursive: true });
  }
});

test("headers: checksums (also the legacy key), source size, decoder -B, algorithm", () => {
  const base = {
    artifactName: "r2",
    payloadType: "mender-binary-delta",
    currentDeviceType: "dev",
    headerInfo: {},
    typeInfo: { artifact_depends: { rootfs_image_checksum: "A".repeat(64) }, artifact_provides: { "rootfs-image.checksum": "b".repeat(64) } },
    metaData: { delta_algorithm: "xdelta3", rootfs_file_size: 1000, decoder_arguments: ["-B", "524288000", "-W150000"] },
  };
  const f = deltaFacts(base);
  assert.deepEqual(f.sourceChecksums, ["a".repeat(64)]);
  assert.equal(f.sourceSize, 1000);
  assert.equal(f.sourceBufferBytes, 524288000);
  assert.equal(deltaFacts({ ...base, metaData: { rootfs_file_size: 1000, source_rootfs_file_size: "900" } }).sourceSize, 900);
  for (const loose of ["0x384", " 900 ", "9e2", "900.0", ""]) {
    assert.throws(() => deltaFacts({ ...base, metaData: { rootfs_file_size: 1000, source_rootfs_file_size: loose } }), /must be a positive integer/, JSON.stringify(loose));
  }
  assert.equal(sourceBufferFromArguments(["-B1048576"]), 1048576);
  assert.throws(() => deltaFacts({ ...base, metaData: { delta_algorithm: "bsdiff", rootfs_file_size: 1 } }), /only "xdelta3"/);
  assert.throws(() => deltaFacts({ ...base, metaData: {} }), /size of the source image/);
  assert.throws(() => deltaFacts({ ...base, typeInfo: { artifact_provides: base.typeInfo.artifact_provides } }), /does not depend on rootfs-image.checksum/);
});

test("partitions: numbers, hex as the 3.4 client writes it, root= parsing, A and B must differ", () => {
  assert.equal(hexNumber(10), "A");
  assert.equal(rootFromCmdline("console=ttyS0 root=PARTUUID=abc-02 rootwait"), "PARTUUID=abc-02");
  assert.equal(rootFromCmdline("quiet"), undefined);
  assert.equal(rootFromCmdline("root=/dev/mmcblk0p3 rootwait root=/dev/mmcblk0p2"), "/dev/mmcblk0p2", "the kernel mounts the last root=");
  const dir = tmp();
  fs.writeFileSync(path.join(dir, "p2"), "");
  fs.symlinkSync(path.join(dir, "p2"), path.join(dir, "p3"));
  assert.throws(
    () => configuredPartitions({ rootfsPartA: path.join(dir, "p2"), rootfsPartB: path.join(dir, "p3"), sources: [] }),
    /must be two different partitions/,
  );
  assert.throws(() => configuredPartitions({ rootfsPartA: "ubi0_0", rootfsPartB: "ubi0_1", sources: [] }), /UBI volumes/);
  fs.rmSync(dir, { recursive: true });
});
