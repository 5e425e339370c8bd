/**
 * Builds a realistic pair of ext4 rootfs images from files on this machine: v1 from some
 * directories, v2 = v1 after a "security update plus a new package" (edited scripts, rebuilt
 * shared objects, a new directory, deleted docs). Both images are made reproducibly (fixed UUID,
 * hash seed and time), as a build pipeline would, so they differ only because of the change and
 * the block allocation it shifts. Used by the encoder tests (small) and the benchmark (larger).
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface Ext4PairSpec {
  /** Directories copied into v1 (missing ones are skipped). */
  base: string[];
  /** Directory added as the "new package" in v2. */
  added: string;
  /** Directories of v1 that v2 no longer has (files after them in allocation order move far). */
  removed?: string[];
  /** Image size for mke2fs, e.g. "48M". */
  imageSize: string;
}

function sh(cmd: string, env: NodeJS.ProcessEnv = {}): void {
  const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8", env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function mkfs(tree: string, image: string, size: string): void {
  rmSync(image, { force: true });
  sh(`mke2fs -q -F -t ext4 -b 4096 -U 3f1e5b2a-6c4d-4e8f-9a0b-1c2d3e4f5a6b -E hash_seed=0b5e8a4c-2f7d-4a1e-8c3b-9d6f0e2a4b7c `
    + `-d "${tree}" "${image}" ${size}`, { E2FSPROGS_FAKE_TIME: "1767225600", LC_ALL: "C" });
}

/** Makes `dir`/v1.ext4 and `dir`/v2.ext4 (and leaves no trees behind). Returns their paths. */
export function makeExt4Pair(dir: string, spec: Ext4PairSpec): { v1: string; v2: string } {
  const tree = path.join(dir, "tree");
  rmSync(tree, { recursive: true, force: true });
  sh(`mkdir -p "${tree}"`);
  for (const d of spec.base) {
    if (!existsSync(d)) continue;
    const dest = path.join(tree, d.replace(/^\/+/, ""));
    sh(`mkdir -p "${path.dirname(dest)}" && cp -a "${d}" "${dest}"`);
  }
  sh(`find "${tree}" -exec touch -h -d @1767225600 {} +`);
  const v1 = path.join(dir, "v1.ext4");
  mkfs(tree, v1, spec.imageSize);

  // The update, deterministic: every 7th script gets a line, every 5th shared object is
  // "rebuilt" (bytes changed throughout, size grows a little), every 9th doc file is deleted.
  const files = walk(tree);
  let scripts = 0, objects = 0, docs = 0;
  for (const f of files) {
    if (/\.(py|pm|pl|sh|txt)$/.test(f) && scripts++ % 7 === 0) {
      const text = readFileSync(f);
      writeFileSync(f, Buffer.concat([Buffer.from("# patched for CVE-2026-0001\n"), text]));
    } else if (/\.so(\.[0-9.]+)?$/.test(f) && objects++ % 5 === 0) {
      const bin = readFileSync(f);
      for (let i = 64; i < bin.length; i += 509) bin[i] = (bin[i]! + 1) & 0xff;
      writeFileSync(f, bin);
      appendFileSync(f, Buffer.alloc(1536, 0x90));
    } else if (/\/(doc|man)\//.test(f) && docs++ % 9 === 0) {
      rmSync(f);
    }
  }
  for (const d of spec.removed ?? []) rmSync(path.join(tree, d.replace(/^\/+/, "")), { recursive: true, force: true });
  if (existsSync(spec.added)) {
    const dest = path.join(tree, "opt", "new-package");
    sh(`mkdir -p "${path.dirname(dest)}" && cp -a "${spec.added}" "${dest}"`);
  }
  sh(`find "${tree}" -exec touch -h -d @1767312000 {} +`);
  const v2 = path.join(dir, "v2.ext4");
  mkfs(tree, v2, spec.imageSize);
  rmSync(tree, { recursive: true, force: true });
  if (statSync(v1).size !== statSync(v2).size) throw new Error("images differ in size");
  return { v1, v2 };
}
