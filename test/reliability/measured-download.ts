/**
 * One whole Download of a delta by the Update Module on a simulated device (A holds the running
 * image, B is zeroed, the delta arrives through stream-next and a FIFO), under GNU time: exit
 * status, stderr, peak RSS (maxrss = VmHWM) and wall time. The binary's cached pages are dropped
 * first (`dd iflag=nocache`), so it maps the way it does on a device after boot; a freshly written
 * binary maps in larger pieces and shows several MiB more RSS.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { downloadStreaming, makeFileDevice, sha256File } from "../device/fixtures";

export interface MeasuredRun {
  status: number | null;
  /** stderr without GNU time's line. */
  stderr: string;
  peakMiB: number;
  seconds: number;
  /** User plus system CPU seconds. */
  cpu: number;
  partB: string;
}

export interface DownloadCase {
  /** The running image (partition A's content). */
  image: string;
  delta: Uint8Array;
  /** sha256 of the image the delta must produce (any string for a delta that must fail). */
  targetChecksum: string;
  targetBytes: number;
  decoderArguments?: string;
  /**
   * The payload's meta-data as its Artifact carries it (a delta Artifact's own, any format); by
   * default an xdelta3 delta's, from the image sizes and decoderArguments.
   */
  metaData?: Record<string, unknown>;
}

/** Drops a file's pages from the page cache. */
export function dropCached(file: string): void {
  spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
}

/** GNU time's format for splitMaxrss. */
export const TIME_FORMAT = "MAXRSS_KIB=%M CPU_S=%U+%S";

/** Splits GNU time's TIME_FORMAT line off a program's stderr. */
export function splitMaxrss(stderr: string): { rest: string; peakMiB: number; cpu: number } {
  const m = /MAXRSS_KIB=(\d+) CPU_S=([\d.]+)\+([\d.]+)\s*$/.exec(stderr);
  if (!m) throw new Error(`no maxrss in: ${stderr}`);
  return { rest: stderr.slice(0, m.index), peakMiB: Number(m[1]) / 1024, cpu: Number(m[2]) + Number(m[3]) };
}

/** Runs the Download in `dir` (created; the caller removes it) with `command` (the module program). */
export async function measuredDownload(dir: string, c: DownloadCase, command: string[]): Promise<MeasuredRun> {
  fs.mkdirSync(dir, { recursive: true });
  const sourceBytes = fs.statSync(c.image).size;
  const dev = makeFileDevice(
    dir,
    c.image,
    {
      sourceChecksum: sha256File(c.image),
      targetChecksum: c.targetChecksum,
      metaData: c.metaData ?? {
        delta_algorithm: "xdelta3",
        source_rootfs_file_size: sourceBytes,
        rootfs_file_size: c.targetBytes,
        ...(c.decoderArguments ? { decoder_arguments: [c.decoderArguments] } : {}),
      },
    },
    Math.max(sourceBytes, c.targetBytes),
  );
  if (command.length === 1) dropCached(command[0]!);
  // The partitions were just written (A's copy of the image: dirty pages) and the run before freed
  // its own: that write-back would land in this run's time, by how much depending on the kernel's
  // timing. Every run starts with it done.
  spawnSync("sync");
  const t0 = Date.now();
  const r = await downloadStreaming(dev.tree, dev.env, { name: "rootfs.delta", data: c.delta }, false, ["/usr/bin/time", "-f", TIME_FORMAT, ...command]);
  const seconds = (Date.now() - t0) / 1000;
  const { rest, peakMiB, cpu } = splitMaxrss(r.stderr);
  return { status: r.status, stderr: rest, peakMiB, seconds, cpu, partB: dev.partB };
}

/** The source read figure the module logs after a Download: bytes read per byte written. */
export function sourceReadsPerByte(stderr: string): number | undefined {
  const m = /read \d+ bytes of .* \(([\d.]+) per byte written\)/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

