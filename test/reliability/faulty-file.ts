/**
 * A file whose reads fail the way storage really fails, served by the kernel's FUSE driver: each
 * read returns at most a few bytes (short reads), or fails with EIO over a chosen byte range.
 * Device-mapper (dm-flakey/dm-error) would be the usual tool, but it is not always in the kernel;
 * FUSE only needs /dev/fuse, root and `mount`. The server below speaks the FUSE protocol itself
 * (no libfuse): one read-only regular file, its bytes taken from a backing file.
 *
 * The file is opened with FOPEN_DIRECT_IO, so the kernel passes every reply through to the
 * reader's read()/pread() as it is: a reply shorter than asked is a short read, an error reply is
 * that errno. Nothing is cached between the reader and the server.
 *
 * Run as a program (`faulty-file.ts <fd> <backing> <name> <faults JSON>`) it is the server;
 * `serveFaultyFile` starts it and mounts it.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers/targets";

/** Starts this file (the server) with the running Node through the tsx loader. */
const TSX_LOADER = ["--import", `file://${path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")}`];

export interface Faults {
  /** Every read reply carries at most this many bytes (varied between 1 and this, never 0 before the end). */
  maxReplyBytes?: number;
  /**
   * Reads that touch bytes [from, to) fail with EIO; with `afterBytes`, only once that many bytes
   * have been served (a sector that goes bad after the first full pass).
   */
  eio?: { from: number; to: number; afterBytes?: number };
}

export interface FaultyFile {
  /** The served file. */
  path: string;
  /** Unmounts, stops the server and returns its counters. */
  close(): Promise<ServerCounters>;
}

export interface ServerCounters {
  reads: number;
  /** Replies with fewer bytes than asked, before the end of the file. */
  shortReplies: number;
  eioReplies: number;
}

const FUSE_ROOT = 1n;
const FILE_NODE = 2n;
const ENOENT = 2;
const EIO = 5;
const ENOSYS = 38;
const EROFS = 30;

const OP = { LOOKUP: 1, FORGET: 2, GETATTR: 3, OPEN: 14, READ: 15, RELEASE: 18, GETXATTR: 22, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29, ACCESS: 34, INTERRUPT: 36, DESTROY: 38, BATCH_FORGET: 42 };
const NO_REPLY = new Set([OP.FORGET, OP.BATCH_FORGET, OP.INTERRUPT]);
const FOPEN_DIRECT_IO = 1;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/** struct fuse_attr (88 bytes). */
function attr(ino: bigint, size: number, mode: number): Buffer {
  const b = Buffer.alloc(88);
  b.writeBigUInt64LE(ino, 0);
  b.writeBigUInt64LE(BigInt(size), 8);
  b.writeBigUInt64LE(BigInt(Math.ceil(size / 512)), 16);
  b.writeUInt32LE(mode, 60);
  b.writeUInt32LE(1, 64); // nlink
  b.writeUInt32LE(4096, 80); // blksize
  return b;
}

/** The server loop: runs until the file system is unmounted (the read on /dev/fuse fails). */
function serve(fd: number, backing: string, name: string, faults: Faults): ServerCounters {
  const data = fs.openSync(backing, "r");
  const size = fs.fstatSync(data).size;
  const counters: ServerCounters = { reads: 0, shortReplies: 0, eioReplies: 0 };
  const request = Buffer.alloc(1 << 21);
  let turn = 0;
  let served = 0;
  const reply = (unique: bigint, error: number, body?: Buffer): void => {
    const head = Buffer.alloc(16);
    head.writeUInt32LE(16 + (body?.length ?? 0), 0);
    head.writeInt32LE(-error, 4);
    head.writeBigUInt64LE(unique, 8);
    fs.writeSync(fd, body ? Buffer.concat([head, body]) : head);
  };
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, request, 0, request.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EINTR" || code === "EAGAIN" || code === "ENOENT") continue; // ENOENT: an interrupted request
      break; // ENODEV: unmounted
    }
    if (n < 40) break;
    const opcode = request.readUInt32LE(4);
    const unique = request.readBigUInt64LE(8);
    const node = request.readBigUInt64LE(16);
    const arg = request.subarray(40, n);
    if (NO_REPLY.has(opcode)) continue;
    try {
      switch (opcode) {
        case OP.INIT: {
          const out = Buffer.alloc(64);
          out.writeUInt32LE(7, 0);
          out.writeUInt32LE(Math.min(arg.readUInt32LE(4), 31), 4);
          out.writeUInt32LE(0, 8); // no readahead: reads reach us as the reader asked
          out.writeUInt16LE(16, 16);
          out.writeUInt16LE(12, 18);
          out.writeUInt32LE(1 << 17, 20); // max_write
          out.writeUInt32LE(1, 24);
          reply(unique, 0, out);
          break;
        }
        case OP.LOOKUP: {
          const wanted = arg.subarray(0, arg.indexOf(0)).toString();
          if (node !== FUSE_ROOT || wanted !== name) {
            reply(unique, ENOENT);
            break;
          }
          const out = Buffer.alloc(40);
          out.writeBigUInt64LE(FILE_NODE, 0);
          reply(unique, 0, Buffer.concat([out, attr(FILE_NODE, size, S_IFREG | 0o444)]));
          break;
        }
        case OP.GETATTR: {
          const out = Buffer.alloc(16);
          const a = node === FUSE_ROOT ? attr(FUSE_ROOT, 0, S_IFDIR | 0o555) : attr(FILE_NODE, size, S_IFREG | 0o444);
          reply(unique, 0, Buffer.concat([out, a]));
          break;
        }
        case OP.OPEN: {
          if ((arg.readUInt32LE(0) & 3) !== 0) {
            reply(unique, EROFS);
            break;
          }
          const out = Buffer.alloc(16);
          out.writeUInt32LE(FOPEN_DIRECT_IO, 8);
          reply(unique, 0, out);
          break;
        }
        case OP.OPENDIR:
          reply(unique, 0, Buffer.alloc(16));
          break;
        case OP.READ: {
          counters.reads++;
          const offset = Number(arg.readBigUInt64LE(8));
          const asked = arg.readUInt32LE(16);
          const end = Math.min(size, offset + asked);
          const e = faults.eio;
          if (e && offset < e.to && end > e.from && served >= (e.afterBytes ?? 0)) {
            counters.eioReplies++;
            reply(unique, EIO);
            break;
          }
          let give = Math.max(0, end - offset);
          if (faults.maxReplyBytes && give > 0) {
            // Vary the lengths (odd sizes, never aligned): 1, then up to the maximum.
            const cap = 1 + ((turn++ * 7919) % faults.maxReplyBytes);
            if (cap < give) {
              give = cap;
              counters.shortReplies++;
            }
          }
          const out = Buffer.alloc(give);
          if (give > 0) fs.readSync(data, out, 0, give, offset);
          served += give;
          reply(unique, 0, out);
          break;
        }
        case OP.READDIR:
          reply(unique, 0, Buffer.alloc(0));
          break;
        case OP.RELEASE:
        case OP.RELEASEDIR:
        case OP.FLUSH:
        case OP.ACCESS:
          reply(unique, 0);
          break;
        case OP.DESTROY:
          reply(unique, 0);
          return counters;
        default:
          reply(unique, ENOSYS);
      }
    } catch {
      // The request was interrupted (ENOENT on reply): nothing to do.
    }
  }
  fs.closeSync(data);
  return counters;
}

/**
 * Mounts a FUSE file system at `mountDir` holding one file `name` with the bytes of `backing`
 * and the given read faults. Needs root and /dev/fuse.
 */
export async function serveFaultyFile(mountDir: string, backing: string, name: string, faults: Faults): Promise<FaultyFile> {
  fs.mkdirSync(mountDir, { recursive: true });
  const dev = fs.openSync("/dev/fuse", "r+");
  const server = spawn(process.execPath, [...TSX_LOADER, __filename, "3", backing, name, JSON.stringify(faults)], {
    stdio: ["ignore", "pipe", "inherit", dev],
  });
  let out = "";
  server.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => server.on("close", () => resolve()));
  // The kernel ties the mount to the open /dev/fuse file; mount(8) gets it as its fd 3.
  const m = spawnSync("mount", ["-i", "-t", "fuse", "-o", "fd=3,rootmode=40000,user_id=0,group_id=0,ro", "mbd-faulty", mountDir], {
    stdio: ["ignore", "pipe", "pipe", dev],
    encoding: "utf8",
  });
  fs.closeSync(dev);
  if (m.status !== 0) {
    server.kill("SIGKILL");
    await exited;
    throw new Error(`mounting the FUSE file system failed: ${m.stderr}`);
  }
  return {
    path: path.join(mountDir, name),
    async close(): Promise<ServerCounters> {
      // A server that died leaves the mount disconnected: then detach it lazily.
      if (spawnSync("umount", [mountDir]).status !== 0) spawnSync("umount", ["-l", mountDir]);
      const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      const line = out.trim().split("\n").pop() ?? "";
      return line.startsWith("{") ? (JSON.parse(line) as ServerCounters) : { reads: -1, shortReplies: -1, eioReplies: -1 };
    },
  };
}

if (require.main === module) {
  const [fdArg, backing, name, faults] = process.argv.slice(2);
  const counters = serve(Number(fdArg), backing!, name!, JSON.parse(faults!) as Faults);
  process.stdout.write(`${JSON.stringify(counters)}\n`);
}
