/**
 * The Update Module states (protocol v3). Download applies the delta straight into the inactive
 * partition while it streams in (the partition only becomes bootable in ArtifactInstall);
 * ArtifactInstall switches the boot environment; Commit and Rollback finish or undo that, with the
 * same variables and checks as Mender's own rootfs-image handling (docs/device.md).
 */
import fs from "node:fs";
import fsp, { type FileHandle } from "node:fs/promises";
import path from "node:path";
import { MenderDeltaError } from "../errors";
import { readInReusedChunks } from "../io/reused-chunks";
import { applyDelta, verifySource, type SourceMismatch, type VerifiedTarget } from "./apply-delta";
import { openBootEnv, type BootEnv } from "./bootenv";
import { loadConfig, type ModuleConfig } from "./config";
import { checkDeviceType, checkTargetFits, deltaFacts, type DeltaFacts } from "./delta-header";
import { checkStateWritable, hasStreamNext, listPayloadFiles, nextStream, readPayloadHeader, readState, removeState, writeState } from "./file-tree";
import { logEvent } from "./log";
import { configuredPartitions, detectRoles, hexNumber, openInactivePartition, type Partition, type PartitionRoles } from "./partitions";
import { checkDeclaredSize } from "./payload-size";
import type { GuardedTarget } from "./storage-guard";

/** Where the module is installed on a device (the client's Update Module directory). */
const INSTALLED_PATH = "/usr/share/mender/modules/v3/mender-binary-delta";
const TARGET_STATE = "target.json";
const ORIG_PART_STATE = "orig-part.json";

interface TargetState extends VerifiedTarget {
  /** mender_boot_part of the partition written. */
  number: number;
}

interface OrigPartState {
  number: number;
}

interface Device {
  config: ModuleConfig;
  bootEnv: BootEnv;
  vars: Map<string, string>;
}

function openDevice(): Device {
  const config = loadConfig();
  const bootEnv = openBootEnv();
  return { config, bootEnv, vars: bootEnv.read() };
}

function requireNoPendingUpdate(vars: Map<string, string>): void {
  if (vars.get("upgrade_available") === "1") {
    // Mender 3.4 in standalone mode starts a second `mender install` over a pending one and, once
    // this refuses it, forgets the first: its `mender commit` and `mender rollback` then find
    // nothing. The module's own rollback needs no client state (it goes back to the partition the
    // environment does not point at), so the message names it.
    throw new MenderDeltaError(
      `the boot environment has upgrade_available=1 (mender_boot_part=${vars.get("mender_boot_part") ?? "unset"}): another update is waiting ` +
        `for commit or rollback; finish it first (\`mender commit\` after its reboot, or \`mender rollback\`). If the client no longer knows of it ` +
        `(Mender 3.4 says there is nothing to commit), roll it back with: ${INSTALLED_PATH} ArtifactRollback "$(mktemp -d)"`,
    );
  }
}

function answer(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}

/**
 * Download and DownloadWithFileSizes: stream the delta into the inactive partition. With file sizes
 * (4.x/5.x clients, after ProvidePayloadFileSizes answered Yes) the declared size is checked before
 * the stream is opened and held to while it is read.
 */
async function download(tree: string): Promise<number> {
  const header = readPayloadHeader(tree);
  checkDeviceType(header);
  const facts = deltaFacts(header);
  const { config, vars } = openDevice();
  requireNoPendingUpdate(vars);
  const roles = detectRoles(config, vars);
  // Before the first byte of the stream is read: wrong storage, a target that cannot fit, a wrong
  // source or a data directory that cannot take the result's state must cost no download, and
  // nothing is written.
  checkStateWritable(tree);
  const guarded = openInactivePartition(roles);
  try {
    checkTargetFits(facts, guarded.size, roles.inactive.path);
    removeState(tree, TARGET_STATE);
    if (!hasStreamNext(tree)) {
      logEvent("no stream-next in the file tree: the client will store the payload in files/; applying it in ArtifactInstall");
      return 0;
    }
    const sourceMismatch = await verifySource(roles.active.realPath, facts);
    const entry = await nextStream(tree);
    if (!entry) throw new MenderDeltaError("the payload holds no file; a delta Artifact carries exactly one <image>.delta");
    if (entry.size !== undefined) checkDeclaredSize(entry.name, entry.size, roles.inactive.path, guarded.size);
    const target = await applyPayload(entry.path, entry.name, roles, facts, guarded, sourceMismatch, entry.size);
    const more = await nextStream(tree);
    if (more) throw new MenderDeltaError(`the payload holds more than one file (${entry.name}, ${more.name}, ...); a delta Artifact carries exactly one`);
    writeState(tree, TARGET_STATE, target);
    return 0;
  } finally {
    fs.closeSync(guarded.fd);
  }
}

/** Decodes the delta in `file` (a FIFO or a regular file) onto the inactive partition and verifies it. */
async function applyPayload(
  file: string,
  name: string,
  roles: PartitionRoles,
  facts: DeltaFacts,
  guarded: GuardedTarget,
  sourceMismatch: SourceMismatch | undefined,
  payloadBytes?: number,
): Promise<TargetState> {
  let payload: FileHandle;
  try {
    payload = await fsp.open(file, "r");
  } catch (err) {
    throw new MenderDeltaError(`cannot open the payload file ${name} the client named: ${(err as Error).message}`);
  }
  const target = await applyDelta(readInReusedChunks(payload), {
    sourcePath: roles.active.realPath,
    targetPath: roles.inactive.realPath,
    targetFd: guarded.fd,
    facts,
    deltaName: name,
    payloadBytes,
    sourceMismatch,
  });
  return { ...target, number: roles.inactive.number };
}

/** The files/ fallback: the client stored the payload instead of streaming it. */
async function applyFromFiles(tree: string, roles: PartitionRoles): Promise<TargetState> {
  const files = listPayloadFiles(tree);
  if (files.length === 0) {
    throw new MenderDeltaError("nothing was downloaded: no verified image from Download and no payload in files/");
  }
  if (files.length > 1) throw new MenderDeltaError(`the payload holds ${files.length} files; a delta Artifact carries exactly one`);
  const facts = deltaFacts(readPayloadHeader(tree));
  checkStateWritable(tree);
  const guarded = openInactivePartition(roles);
  try {
    checkTargetFits(facts, guarded.size, roles.inactive.path);
    const sourceMismatch = await verifySource(roles.active.realPath, facts);
    const state = await applyPayload(files[0]!, path.basename(files[0]!), roles, facts, guarded, sourceMismatch);
    writeState(tree, TARGET_STATE, state);
    return state;
  } finally {
    fs.closeSync(guarded.fd);
  }
}

async function artifactInstall(tree: string): Promise<number> {
  const { config, bootEnv, vars } = openDevice();
  // Run again after its switch (the module ended before it could report it: a crash, a signal):
  // the switch this update recorded is in place, so it is done, not "another update" pending.
  const recorded = readState<OrigPartState>(tree, ORIG_PART_STATE);
  const verified = readState<TargetState>(tree, TARGET_STATE);
  if (recorded && verified && vars.get("upgrade_available") === "1" && vars.get("mender_boot_part") === String(verified.number) && recorded.number !== verified.number) {
    logEvent(`boot environment already switched to partition ${verified.number} by this update (mender_boot_part=${verified.number}); reboot to run the new image`);
    return 0;
  }
  requireNoPendingUpdate(vars);
  const roles = detectRoles(config, vars);
  const facts = deltaFacts(readPayloadHeader(tree));
  const target = verified ?? (await applyFromFiles(tree, roles));
  if (target.number !== roles.inactive.number || target.sha256 !== facts.targetChecksum) {
    throw new MenderDeltaError(
      `the verified image (partition ${target.number}, sha256 ${target.sha256}) does not match what is to be activated ` +
        `(partition ${roles.inactive.number}, ${facts.targetChecksum}); the boot environment changed since Download. Not switching.`,
    );
  }
  writeState(tree, ORIG_PART_STATE, { number: roles.active.number } satisfies OrigPartState);
  const n = roles.inactive.number;
  bootEnv.write({ mender_boot_part: String(n), mender_boot_part_hex: hexNumber(n), upgrade_available: "1", bootcount: "0" });
  logEvent(`boot environment switched to ${roles.inactive.path} (mender_boot_part=${n}); reboot to run the new image`);
  return 0;
}

/** The bootloader booted the new partition and has not fallen back. */
function checkBootedNew(state: string, tree: string): Device {
  const device = openDevice();
  if (device.vars.get("upgrade_available") !== "1") {
    if (readState<OrigPartState>(tree, ORIG_PART_STATE) === undefined) {
      throw new MenderDeltaError(`${state}: nothing was installed by this update (it switched no partition, and upgrade_available is not 1)`);
    }
    throw new MenderDeltaError(
      `${state}: upgrade_available is not 1: the new partition failed to boot and the bootloader rolled back; the update cannot be committed`,
    );
  }
  try {
    detectRoles(device.config, device.vars);
  } catch (err) {
    if (!(err instanceof MenderDeltaError)) throw err;
    throw new MenderDeltaError(
      `${state}: the device is not running the new partition (it was not rebooted into it); the client now rolls this update back: ` +
        `deploy it again and let the device reboot before the commit. Detail: ${err.message}`,
    );
  }
  return device;
}

async function artifactCommit(tree: string): Promise<number> {
  const { bootEnv } = checkBootedNew("ArtifactCommit", tree);
  bootEnv.write({ upgrade_available: "0" });
  logEvent("update committed (upgrade_available=0)");
  return 0;
}

/** The configured partition that is not `current`; refused when `current` is neither of them. */
function otherPartition([a, b]: [Partition, Partition], current: number): number {
  if (current === a.number) return b.number;
  if (current === b.number) return a.number;
  throw new MenderDeltaError(
    `cannot tell which partition to roll back to: mender_boot_part=${current} is neither RootfsPartA (${a.path}) nor RootfsPartB (${b.path}), ` +
      `and this update recorded no partition of its own; set mender_boot_part to the partition that holds the release to run`,
  );
}

async function artifactRollback(tree: string): Promise<number> {
  const bootEnv = openBootEnv();
  const vars = bootEnv.read();
  const orig = readState<OrigPartState>(tree, ORIG_PART_STATE);
  const current = Number(vars.get("mender_boot_part"));
  let back: number | undefined;
  // The partition ArtifactInstall switched away from, as it recorded it: that needs no
  // configuration, so a configuration broken since (or by) the update cannot stop the way back.
  if (orig) back = orig.number;
  else if (vars.get("upgrade_available") === "1") back = otherPartition(configuredPartitions(loadConfig()), current);
  if (back === undefined) {
    logEvent("nothing to roll back: the boot environment was never switched");
    return 0;
  }
  if (current === back && vars.get("upgrade_available") !== "1") {
    logEvent(`boot environment already points at partition ${back}; nothing to roll back`);
    return 0;
  }
  bootEnv.write({ mender_boot_part: String(back), mender_boot_part_hex: hexNumber(back), upgrade_available: "0" });
  logEvent(`rolled back the boot environment to partition ${back} (upgrade_available=0)`);
  return 0;
}

async function artifactVerifyRollbackReboot(): Promise<number> {
  const { config, vars } = openDevice();
  if (vars.get("upgrade_available") === "1") {
    throw new MenderDeltaError("ArtifactVerifyRollbackReboot: upgrade_available is still 1 after the rollback reboot");
  }
  detectRoles(config, vars);
  return 0;
}

export type StateHandler = (fileTree: string) => Promise<number | void>;

export const STATE_HANDLERS: Record<string, StateHandler> = {
  Download: download,
  DownloadWithFileSizes: download,
  ProvidePayloadFileSizes: async () => answer("Yes"),
  SupportsRollback: async () => answer("Yes"),
  NeedsArtifactReboot: async () => answer("Automatic"),
  ArtifactInstall: artifactInstall,
  // NeedsArtifactReboot=Automatic: the client reboots itself; nothing to do here.
  ArtifactReboot: async () => 0,
  ArtifactVerifyReboot: async (tree) => {
    checkBootedNew("ArtifactVerifyReboot", tree);
    return 0;
  },
  ArtifactCommit: artifactCommit,
  ArtifactRollback: artifactRollback,
  ArtifactRollbackReboot: async () => 0,
  ArtifactVerifyRollbackReboot: artifactVerifyRollbackReboot,
  ArtifactFailure: async () => {
    logEvent("update failed; the device keeps (or returns to) its previous release, whose partition this update never wrote");
    return 0;
  },
  // The client removes the tree (with our tmp/ state) after Cleanup.
  Cleanup: async () => 0,
};
