/**
 * Which old file each new file should be diffed against. The rules, in order:
 *   1. the same path (any of the new file's names is one of the old file's);
 *   2. identical content (a file moved or renamed): only old files of the same size are hashed;
 *   3. the same path but for version numbers (libfoo.so.1.2.3 -> libfoo.so.1.2.4,
 *      /lib/modules/6.1.0-17-amd64/... -> /lib/modules/6.1.0-18-amd64/...): a security update
 *      upgrades shared libraries and modules that way; among several candidates, the closest size.
 * A new file that none of them pairs is new: its bytes go to the whole-image matcher.
 * Works on any file list with names and sizes; hashing is the caller's (it reads the images).
 */

export interface PairableFiles {
  readonly count: number;
  readonly size: ArrayLike<number>;
  readonly paths: ReadonlyArray<readonly string[]>;
}

export type FileSide = "old" | "new";
/** A digest of the content of file `index` of one side (equal digests: equal content). */
export type ContentHash = (side: FileSide, index: number) => string;

export const PAIR_NONE = 0;
export const PAIR_PATH = 1;
export const PAIR_CONTENT = 2;
export const PAIR_VERSION = 3;
export const PAIR_RULE_NAMES = ["new", "path", "content", "version"] as const;

export interface FilePairs {
  /** For each new file: the index of its old file, or -1. */
  readonly old: Int32Array;
  /** For each new file: PAIR_NONE, PAIR_PATH, PAIR_CONTENT or PAIR_VERSION. */
  readonly rule: Uint8Array;
  /**
   * 1 where the pair's content is identical (a pure copy). Known only with a content hash;
   * without one, every pair counts as changed.
   */
  readonly unchanged: Uint8Array;
}

/** Runs of digits, with the dots, dashes, underscores and plus signs between them, as one version mark. */
const VERSION = /\d+(?:[._+~-]\d+)*/g;

/** The path with its version numbers replaced by a mark, or undefined when it has none. */
export function versionlessPath(path: string): string | undefined {
  const key = path.replace(VERSION, "#");
  return key === path ? undefined : key;
}

/** Pairs every new file with an old one where a rule allows; see the file comment. */
export function pairFiles(oldFiles: PairableFiles, newFiles: PairableFiles, contentHash?: ContentHash): FilePairs {
  const old = new Int32Array(newFiles.count).fill(-1);
  const rule = new Uint8Array(newFiles.count);
  const unchanged = new Uint8Array(newFiles.count);
  const hashes = { old: new Map<number, string>(), new: new Map<number, string>() };
  const hashOf = (side: FileSide, i: number): string => {
    let h = hashes[side].get(i);
    if (h === undefined) {
      h = contentHash!(side, i);
      hashes[side].set(i, h);
    }
    return h;
  };

  const byPath = new Map<string, number>();
  for (let i = 0; i < oldFiles.count; i++) for (const p of oldFiles.paths[i]!) byPath.set(p, i);
  for (let n = 0; n < newFiles.count; n++) {
    for (const p of newFiles.paths[n]!) {
      const o = byPath.get(p);
      if (o === undefined) continue;
      old[n] = o;
      rule[n] = PAIR_PATH;
      if (contentHash && oldFiles.size[o] === newFiles.size[n] && hashOf("old", o) === hashOf("new", n)) unchanged[n] = 1;
      break;
    }
  }

  if (contentHash) {
    const bySize = new Map<number, number[]>();
    for (let i = 0; i < oldFiles.count; i++) {
      const size = oldFiles.size[i]!;
      if (size === 0) continue; // an empty file is no source worth pairing with
      let list = bySize.get(size);
      if (!list) bySize.set(size, (list = []));
      list.push(i);
    }
    for (let n = 0; n < newFiles.count; n++) {
      if (rule[n] !== PAIR_NONE) continue;
      const candidates = bySize.get(newFiles.size[n]!);
      if (!candidates) continue;
      const h = hashOf("new", n);
      const o = candidates.find((c) => hashOf("old", c) === h);
      if (o === undefined) continue;
      old[n] = o;
      rule[n] = PAIR_CONTENT;
      unchanged[n] = 1;
    }
  }

  const byVersionless = new Map<string, number[]>();
  for (let i = 0; i < oldFiles.count; i++) {
    for (const p of oldFiles.paths[i]!) {
      const key = versionlessPath(p);
      if (key === undefined) continue;
      let list = byVersionless.get(key);
      if (!list) byVersionless.set(key, (list = []));
      list.push(i);
    }
  }
  for (let n = 0; n < newFiles.count; n++) {
    if (rule[n] !== PAIR_NONE) continue;
    let best = -1;
    for (const p of newFiles.paths[n]!) {
      const key = versionlessPath(p);
      for (const c of (key !== undefined && byVersionless.get(key)) || []) {
        const distance = Math.abs(oldFiles.size[c]! - newFiles.size[n]!);
        if (best < 0 || distance < Math.abs(oldFiles.size[best]! - newFiles.size[n]!)) best = c;
      }
    }
    if (best < 0) continue;
    old[n] = best;
    rule[n] = PAIR_VERSION;
  }
  return { old, rule, unchanged };
}
