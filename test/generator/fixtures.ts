/**
 * Fixtures for the generator tests: two small ext4 releases wrapped as rootfs-image Artifacts by the
 * real mender-artifact, keys made by openssl, and ways to run the generator (in process, or the CLI
 * from source through tsx).
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, type TestContext } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import { readArtifact, readArtifactHeaders } from "../../src/artifact";
import { generateDelta, resolveOptions, type GenerationSummary, type RawOptions } from "../../src/generator";
import { makeExt4, ROOT, sha256File } from "../device/fixtures";
import { hasTool, needTools } from "../helpers/peers";

export { makeExt4, sha256File } from "../device/fixtures";

export const DEVICE_TYPE = "test-device";

/** `mender-artifact write rootfs-image` with extra flags; returns the output path. */
export function rootfsArtifact(out: string, image: string, name: string, extra: string[] = []): string {
  fs.rmSync(out, { force: true });
  execFileSync("mender-artifact", ["write", "rootfs-image", "-t", DEVICE_TYPE, "-n", name, "-f", image, "-o", out, ...extra], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  return out;
}

export interface Releases {
  dir: string;
  v1: string;
  v2: string;
  r1: string;
  r2: string;
}

/** v1 and v2 ext4 images (4 MiB, v2 = v1 with changed files) and their Artifacts release-1/release-2. */
export function makeReleases(dir: string): Releases {
  fs.mkdirSync(dir, { recursive: true });
  const v1 = path.join(dir, "rootfs-v1.ext4");
  const v2 = path.join(dir, "rootfs-v2.ext4");
  makeExt4(v1, 1);
  makeExt4(v2, 2);
  return { dir, v1, v2, r1: rootfsArtifact(path.join(dir, "release-1.mender"), v1, "release-1"), r2: rootfsArtifact(path.join(dir, "release-2.mender"), v2, "release-2") };
}

export interface ReleaseChain {
  /** ext4 images of releases 1..n (4 MiB, each a variant of the last). */
  images: string[];
  /** Their sha256: what each Artifact provides as rootfs-image.checksum. */
  sums: string[];
  /** Their rootfs-image Artifacts release-1..release-n, made by mender-artifact. */
  rootfs: string[];
  imageBytes: number;
}

/** Releases 1..count in `dir`: images rootfs-vN.ext4 and Artifacts release-N.mender. */
export function makeReleaseChain(dir: string, count: number): ReleaseChain {
  fs.mkdirSync(dir, { recursive: true });
  const images = Array.from({ length: count }, (_, i) => path.join(dir, `rootfs-v${i + 1}.ext4`));
  images.forEach((img, i) => makeExt4(img, i + 1));
  return {
    images,
    sums: images.map((img) => sha256File(img)),
    rootfs: images.map((img, i) => rootfsArtifact(path.join(dir, `release-${i + 1}.mender`), img, `release-${i + 1}`)),
    imageBytes: fs.statSync(images[0]!).size,
  };
}

/** The type-info provides of an Artifact as `key:value`: what installing it leaves in the client's database. */
export async function providesOf(artifact: string): Promise<string[]> {
  const provides = (await readArtifactHeaders(artifact)).payloads[0]!.typeInfo.provides;
  return Object.entries(provides).map(([k, v]) => `${k}:${v}`);
}

/** Extracts the (single) payload file of an Artifact with our reader into `out`; returns its name. */
export async function extractPayload(artifact: string, out: string): Promise<string> {
  let name = "";
  await readArtifact(artifact, {
    onPayloadFile(f) {
      name = f.name;
      return fs.createWriteStream(out);
    },
  });
  return name;
}

export interface ReleaseSuite {
  /** The suite's scratch directory. */
  readonly work: string;
  readonly rel: Releases;
  /** Skips (or fails under REQUIRE_PEERS=1) when a tool is missing; true when the test can run. */
  usable(t: TestContext): boolean;
}

/** Registers hooks making the two releases in a fresh directory (when `tools` exist) and removing it afterwards. */
export function releaseSuite(prefix: string, tools: string[]): ReleaseSuite {
  let work = "";
  let rel: Releases | undefined;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    if (tools.every(hasTool)) rel = makeReleases(path.join(work, "rel"));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));
  return {
    get work() {
      return work;
    },
    get rel() {
      assert.ok(rel, "releases made");
      return rel;
    },
    usable(t) {
      if (!needTools(t, ...tools)) return false;
      assert.ok(rel, "releases made");
      return true;
    },
  };
}

/** An RSA (3072) or ECDSA P-256 key pair as PEM files (PKCS#1 / SEC1, as mender-artifact 3.9 reads). */
export function makeKeys(dir: string, kind: "rsa" | "ec"): { key: string; pub: string } {
  const key = path.join(dir, `${kind}.key`);
  const pub = path.join(dir, `${kind}.pub`);
  if (kind === "rsa") execFileSync("openssl", ["genrsa", "-traditional", "-out", key, "3072"], { stdio: "ignore" });
  else execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], { stdio: "ignore" });
  execFileSync("openssl", [kind === "rsa" ? "rsa" : "ec", "-in", key, "-pubout", "-out", pub], { stdio: "ignore" });
  return { key, pub };
}

/** Runs the generator in this process: `raw` as the CLI's parser hands options over, then the inputs. */
export async function generate(raw: RawOptions, ...positional: string[]): Promise<GenerationSummary> {
  return generateDelta(resolveOptions(raw, positional));
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The generator's CLI from source (node + tsx loader), with `env` (e.g. a PATH without peers). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): CliResult {
  const loader = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
  const r = spawnSync(process.execPath, ["--import", loader, path.join(ROOT, "src", "cli", "generator.ts"), ...args], {
    encoding: "utf8", env, timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function mender(args: string[]): CliResult {
  const r = spawnSync("mender-artifact", args, { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
