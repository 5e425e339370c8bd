/**
 * Which of RootfsPartA/B is running (the delta's source) and which is free (the target).
 *
 * The boot environment's mender_boot_part names the active one; that is trusted only after checking
 * it against what is really mounted as /: first by device numbers (stat of the partition's node vs
 * the root filesystem's st_dev), then by `root=` on the kernel command line. A mismatch means the
 * environment and the running system disagree, and writing "the other" partition could destroy the
 * running one, so it is an error.
 *
 * Tests point "the mounted root" and the command line at fixtures with MENDER_BINARY_DELTA_TEST_ROOT
 * and MENDER_BINARY_DELTA_TEST_CMDLINE (see docs/device.md); every run that uses them says so on stderr.
 */
import fs from "node:fs";
import { MenderDeltaError } from "../errors";
import { devName } from "../io/device-numbers";
import type { ModuleConfig } from "./config";
import { logWarning } from "./log";
import { openGuardedTarget, type GuardedTarget } from "./storage-guard";

export const TEST_ROOT_ENV = "MENDER_BINARY_DELTA_TEST_ROOT";
export const TEST_CMDLINE_ENV = "MENDER_BINARY_DELTA_TEST_CMDLINE";

export interface Partition {
  /** As configured (RootfsPartA/B). */
  path: string;
  /** Symlinks resolved. */
  realPath: string;
  /** Trailing digits of the configured path: the value of mender_boot_part. */
  number: number;
}

export interface PartitionRoles {
  active: Partition;
  inactive: Partition;
}

export function partitionNumber(devicePath: string): number {
  const m = /(\d+)$/.exec(devicePath);
  if (!m) {
    throw new MenderDeltaError(
      `cannot tell the partition number of ${devicePath}: RootfsPartA/B must end in the partition number (e.g. /dev/mmcblk0p2)`,
    );
  }
  return Number(m[1]);
}

/** mender_boot_part_hex as the 3.4 client writes it. */
export function hexNumber(n: number): string {
  return n.toString(16).toUpperCase();
}

function describe(p: string): Partition {
  if (!p.startsWith("/")) {
    throw new MenderDeltaError(`${p}: UBI volumes and other non-path partitions are not supported; RootfsPartA/B must be device paths`);
  }
  let realPath: string;
  try {
    realPath = fs.realpathSync(p);
  } catch (err) {
    throw new MenderDeltaError(`partition ${p} does not exist (${(err as Error).message}); check RootfsPartA/B`);
  }
  // As the client: udev links (by-partuuid, by-partlabel, ...) and /dev/root are resolved before the
  // partition number is taken from the name; other paths are taken as written.
  const named = p.startsWith("/dev/disk/") || p === "/dev/root" ? realPath : p;
  return { path: p, realPath, number: partitionNumber(named) };
}

/** The configured A/B partitions with their numbers; they must differ. */
export function configuredPartitions(config: ModuleConfig): [Partition, Partition] {
  const a = describe(config.rootfsPartA);
  const b = describe(config.rootfsPartB);
  if (a.realPath === b.realPath || a.number === b.number) {
    throw new MenderDeltaError(`RootfsPartA (${a.path}) and RootfsPartB (${b.path}) must be two different partitions with different numbers`);
  }
  return [a, b];
}

/**
 * The `root=` value of a kernel command line, or undefined. The last one: the kernel takes each in
 * turn and mounts what the last names (a bootloader that puts Mender's `root=` before another one,
 * e.g. a firmware's cmdline.txt, boots the other).
 */
export function rootFromCmdline(cmdline: string): string | undefined {
  let root: string | undefined;
  for (const word of cmdline.trim().split(/\s+/)) if (word.startsWith("root=")) root = word.slice(5);
  return root;
}

/** Resolves root= forms (/dev/..., PARTUUID=, PARTLABEL=, UUID=, LABEL=) to a real path, if it exists. */
function resolveRootSpec(spec: string): string | undefined {
  const by: Record<string, string> = { PARTUUID: "by-partuuid", PARTLABEL: "by-partlabel", UUID: "by-uuid", LABEL: "by-label" };
  const m = /^([A-Z]+)=(.*)$/.exec(spec);
  let candidate: string | undefined = spec;
  if (m) {
    const dir = by[m[1]!];
    // udev names the by-partuuid/by-uuid links in lower case; root=PARTUUID= may be upper case.
    const value = m[1] === "PARTUUID" || m[1] === "UUID" ? m[2]!.toLowerCase() : m[2]!;
    candidate = dir ? `/dev/disk/${dir}/${value}` : undefined;
  }
  if (!candidate) return undefined;
  try {
    return fs.realpathSync(candidate);
  } catch {
    return undefined;
  }
}

interface MountedRoot {
  /** st_dev of the root filesystem, when the root is a mounted directory. */
  dev?: number;
  /** A device or image file that is the root itself (test fixtures). */
  realPath?: string;
  describe: string;
  cmdlinePath: string;
}

let overridesAnnounced = false;

function mountedRoot(env: NodeJS.ProcessEnv): MountedRoot {
  const testRoot = env[TEST_ROOT_ENV];
  const testCmdline = env[TEST_CMDLINE_ENV];
  if ((testRoot || testCmdline) && !overridesAnnounced) {
    overridesAnnounced = true;
    logWarning(
      `test overrides in effect (${[testRoot && `${TEST_ROOT_ENV}=${testRoot}`, testCmdline && `${TEST_CMDLINE_ENV}=${testCmdline}`]
        .filter(Boolean)
        .join(", ")}); never set these on a real device`,
    );
  }
  const rootPath = testRoot || "/";
  const cmdlinePath = testCmdline || "/proc/cmdline";
  let st: fs.Stats;
  try {
    st = fs.statSync(rootPath);
  } catch (err) {
    throw new MenderDeltaError(`cannot stat the root ${rootPath}: ${(err as Error).message}`);
  }
  if (st.isDirectory()) return { dev: st.dev, describe: `the filesystem on ${rootPath} (device ${devName(st.dev)})`, cmdlinePath };
  return { realPath: fs.realpathSync(rootPath), describe: rootPath, cmdlinePath };
}

function isMountedRoot(p: Partition, root: MountedRoot): boolean {
  if (root.realPath !== undefined) return p.realPath === root.realPath;
  const st = fs.statSync(p.realPath);
  return (st.isBlockDevice() || st.isCharacterDevice()) && st.rdev === root.dev;
}

function cmdlineRoot(path: string): string | undefined {
  try {
    return rootFromCmdline(fs.readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Active and inactive partition from the boot environment's mender_boot_part, checked against the
 * mounted root.
 */
export function detectRoles(config: ModuleConfig, env: Map<string, string>, processEnv: NodeJS.ProcessEnv = process.env): PartitionRoles {
  const [a, b] = configuredPartitions(config);
  const bootPart = env.get("mender_boot_part");
  if (bootPart === undefined || !/^\d+$/.test(bootPart)) {
    throw new MenderDeltaError(
      `the boot environment has no valid mender_boot_part (${JSON.stringify(bootPart ?? null)}); is the bootloader integrated with Mender?`,
    );
  }
  const n = Number(bootPart);
  const active = a.number === n ? a : b.number === n ? b : undefined;
  if (!active) {
    throw new MenderDeltaError(
      `mender_boot_part=${n} matches neither RootfsPartA (${a.path}) nor RootfsPartB (${b.path}); fix the configuration or the boot environment`,
    );
  }
  const inactive = active === a ? b : a;
  const root = mountedRoot(processEnv);
  if (!isMountedRoot(active, root)) {
    // The command line only speaks where the mounted root is on neither partition (an overlay, a
    // root the kernel names by another device): a root that is the other partition settles it.
    const onInactive = isMountedRoot(inactive, root);
    const spec = cmdlineRoot(root.cmdlinePath);
    const resolved = spec === undefined || onInactive ? undefined : resolveRootSpec(spec);
    if (resolved !== active.realPath) {
      const other = onInactive ? ` The mounted root is ${inactive.path} instead.` : "";
      throw new MenderDeltaError(
        `mounted root (${root.describe}${spec ? `, root=${spec} on ${root.cmdlinePath}` : ""}) does not match the boot environment ` +
          `(mender_boot_part=${n} -> ${active.path}).${other} Refusing to guess which partition is running: ` +
          `check RootfsPartA/B and the bootloader integration.`,
      );
    }
  }
  return { active, inactive };
}

/**
 * Opens the inactive partition for writing (exclusively, if it is a block device) once the storage
 * guard found it separate from the active partition, the running root and everything mounted.
 */
export function openInactivePartition(roles: PartitionRoles, processEnv: NodeJS.ProcessEnv = process.env): GuardedTarget {
  const { active, inactive } = roles;
  const root = mountedRoot(processEnv);
  return openGuardedTarget(inactive.realPath, {
    name: `the inactive partition ${inactive.path}${inactive.path === inactive.realPath ? "" : ` (${inactive.realPath})`}`,
    protect: [
      { path: active.realPath, what: `the active partition ${active.path}` },
      root.dev !== undefined ? { dev: root.dev, what: `the running root (${root.describe})` } : { path: root.realPath, what: `the running root ${root.describe}` },
    ],
    advice: "Check RootfsPartA/B: each must name a partition of its own that nothing else uses (see lsblk).",
  });
}
