/** Shared set-up for the Artifact tests: temp directories, keys, and the real mender-artifact. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";

/** A fresh directory removed when the test ends. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), "mbd-artifact-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], cwd?: string): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd, timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command that must succeed; returns its stdout. */
export function ok(cmd: string, args: string[], cwd?: string): string {
  const r = run(cmd, args, cwd);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** RSA (PKCS#1, as mender-artifact 3.9 requires) and ECDSA P-256 (SEC1) key pairs made by openssl. */
export function makeKeys(dir: string): { rsaKey: string; rsaPub: string; ecKey: string; ecPub: string } {
  const k = {
    rsaKey: path.join(dir, "rsa.key"),
    rsaPub: path.join(dir, "rsa.pub"),
    ecKey: path.join(dir, "ec.key"),
    ecPub: path.join(dir, "ec.pub"),
  };
  ok("openssl", ["genrsa", "-traditional", "-out", k.rsaKey, "2048"]);
  ok("openssl", ["rsa", "-in", k.rsaKey, "-pubout", "-out", k.rsaPub]);
  ok("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", k.ecKey]);
  ok("openssl", ["ec", "-in", k.ecKey, "-pubout", "-out", k.ecPub]);
  return k;
}

/** A small pseudo-random file (deterministic for a given seed). */
export function makeFile(file: string, size: number, seed = 1): string {
  const data = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    // Half text-like, half noise: compressors have something to do.
    data[i] = i % 64 < 32 ? 97 + (i % 26) : x >>> 24;
  }
  writeFileSync(file, data);
  return file;
}

/** Where a member of an Artifact's outer tar sits (one ustar header per member, as mender-artifact writes). */
export function outerMember(artifact: Buffer, member: string): { header: number; start: number; end: number; mtime: number } {
  for (let off = 0; off + 512 <= artifact.length; ) {
    const name = artifact.subarray(off, off + 100).toString("latin1").replace(/\0.*$/s, "");
    const size = parseInt(artifact.subarray(off + 124, off + 136).toString("latin1"), 8);
    if (name === member) {
      const mtime = parseInt(artifact.subarray(off + 136, off + 148).toString("latin1"), 8);
      return { header: off, start: off + 512, end: off + 512 + size, mtime };
    }
    if (name === "") break;
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${member} is not in the Artifact`);
}
