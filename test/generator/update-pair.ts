/**
 * Two small ext4 images, made by mke2fs -d from directories, that differ the way a package update
 * makes them differ: what the file-aware (MBDF) planner has a record for, and what it leaves to
 * VCDIFF. The planner's own test and the real-client installs of its deltas use the same pair.
 *
 * FROM -> TO:
 * - usr/bin/tool, a real executable (/usr/bin/tar), rebuilt: addresses all across it moved by a few
 *   bytes (a byte every 61 shifted by 3, which VCDIFF must add one by one) and 300 bytes inserted in
 *   its middle: an APPROX record;
 * - usr/lib/perl/Socket.so, perl's Socket module before and after a security upgrade (an x86-64
 *   ELF file rebuilt: test/filediff/fixtures): an EXEC record;
 * - usr/share/doc/changelog.gz, made by `gzip -9n`, its text changed: a REDEFLATE record; so is
 *   usr/share/doc/note.gz, smaller than a block;
 * - usr/bin/newtool, a new executable (/usr/bin/gzip): a LITERAL record with the x86 branch filter
 *   on x86-64 machines (where that codes it smaller than VCDIFF);
 * - two new .gz files (a man page and a changelog): REDEFLATE records holding their text;
 * - etc/same unchanged; opt/removed removed; opt/new, a new directory with files and a symlink new;
 * - etc/config: the same bytes, another mode and mtime (an inode change only).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { socketPair } from "../filediff/exec-helpers";
import { Rng } from "../vcdiff/helpers";

/** The executable the pair changes, and the one TO adds: present on every Debian machine. */
const BINARY = "/usr/bin/tar";
const NEW_PROGRAM = "/usr/bin/gzip";

export interface UpdatePair {
  from: string;
  to: string;
}

/** Text that compresses like a changelog: lines of words from a small vocabulary. */
function text(rng: Rng, lines: number): string {
  const words = ["update", "fix", "security", "package", "release", "version", "build", "kernel", "library", "patch", "memory", "overflow"];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const n = 4 + rng.below(8);
    const line: string[] = [`${i}:`];
    for (let k = 0; k < n; k++) line.push(words[rng.below(words.length)]!);
    out.push(line.join(" "));
  }
  return `${out.join("\n")}\n`;
}

function put(root: string, rel: string, data: string | Uint8Array, mode = 0o644): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  fs.chmodSync(file, mode);
}

/** `rel` (ending in .gz) as `gzip -9n` makes it from `data`: what Debian packages ship. */
function gzip9n(root: string, rel: string, data: string): void {
  put(root, rel.replace(/\.gz$/, ""), data);
  execFileSync("gzip", ["-9n", path.join(root, rel.replace(/\.gz$/, ""))]);
}

/** `name`.ext4 in `dir` (`sizeMiB`, 4 KiB blocks) holding the tree `fill` writes; fixed UUID and hash seed. */
export function ext4Image(dir: string, name: string, sizeMiB: number, fill: (root: string) => void): string {
  const root = path.join(dir, `${name}.d`);
  fs.rmSync(root, { recursive: true, force: true });
  fill(root);
  const file = path.join(dir, `${name}.ext4`);
  fs.rmSync(file, { force: true });
  execFileSync("truncate", ["-s", `${sizeMiB}M`, file]);
  execFileSync("mke2fs", ["-q", "-t", "ext4", "-b", "4096", "-F", "-d", root, "-U", "11111111-2222-3333-4444-555555555555", "-E", "hash_seed=11111111-2222-3333-4444-555555555555", file], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: "1600000000" },
  });
  fs.rmSync(root, { recursive: true, force: true });
  return file;
}

/** FROM and TO (from.ext4, to.ext4 in `dir`, `sizeMiB` each); needs mke2fs and gzip. */
export function makeUpdatePair(dir: string, sizeMiB = 8): UpdatePair {
  fs.mkdirSync(dir, { recursive: true });
  // mke2fs -d stores all-zero blocks as holes; a file record needs its file in one run of the image.
  const binary = fs.readFileSync(BINARY);
  for (let at = 0; at < binary.length; at += 4096) if (binary.subarray(at, at + 4096).every((b) => b === 0)) binary[at] = 1;
  const rng = new Rng(7);
  const changelog = text(rng, 6000);
  const same = rng.bytes(64 * 1024);
  const removed = rng.bytes(20_000);
  const config = text(rng, 40);
  const smallNote = text(rng, 60);
  const socket = socketPair();
  const from = ext4Image(dir, "from", sizeMiB, (root) => {
    gzip9n(root, "usr/share/doc/note.gz", smallNote);
    put(root, "usr/bin/tool", binary, 0o755);
    put(root, "usr/lib/perl/Socket.so", socket.old);
    gzip9n(root, "usr/share/doc/changelog.gz", changelog);
    put(root, "etc/same", same);
    put(root, "opt/removed", removed);
    put(root, "etc/config", config);
    fs.utimesSync(path.join(root, "etc/config"), 1_600_000_000, 1_600_000_000);
  });
  const patched = Buffer.from(binary);
  for (let i = 1000; i < patched.length; i += 61) patched[i] = (patched[i]! + 3) & 0xff;
  const half = patched.length >> 1;
  const newBinary = Buffer.concat([patched.subarray(0, half), Buffer.from(rng.bytes(300)), patched.subarray(half)]);
  const newChangelog = `${text(new Rng(8), 40)}${changelog.replace(/security/g, "SECURITY")}`;
  // A new program: a real executable of this machine (a LITERAL record with its branch filter).
  const newProgram = fs.readFileSync(NEW_PROGRAM);
  for (let at = 0; at < newProgram.length; at += 4096) if (newProgram.subarray(at, at + 4096).every((b) => b === 0)) newProgram[at] = 1;
  const to = ext4Image(dir, "to", sizeMiB, (root) => {
    gzip9n(root, "usr/share/doc/note.gz", smallNote.replace(/fix/g, "FIX"));
    put(root, "usr/bin/newtool", newProgram, 0o755);
    // New compressed files (REDEFLATE records with their content stored, judged together).
    const manual = text(new Rng(21), 600);
    gzip9n(root, "usr/share/man/man1/newtool.1.gz", manual);
    gzip9n(root, "usr/share/doc/newtool/changelog.gz", manual.replace(/update/g, "upgrade"));
    put(root, "usr/bin/tool", newBinary, 0o755);
    put(root, "usr/lib/perl/Socket.so", socket.neu);
    gzip9n(root, "usr/share/doc/changelog.gz", newChangelog);
    put(root, "etc/same", same);
    put(root, "opt/new", rng.bytes(10_000));
    put(root, "usr/lib/plugin/plugin.conf", text(rng, 30));
    put(root, "usr/lib/plugin/plugin.so", rng.bytes(40_000), 0o755);
    fs.symlinkSync("plugin/plugin.so", path.join(root, "usr/lib/libplugin.so"));
    put(root, "etc/config", config, 0o600);
    fs.utimesSync(path.join(root, "etc/config"), 1_700_000_000, 1_700_000_000);
  });
  return { from, to };
}
