/**
 * The planner threads (src/generator/mbdf/plan-files.ts): the records of changed files planned on
 * worker threads are the records planned here, in the caller's order, whatever the thread count;
 * --no-executable-diffs reaches the threads; the files' versions are moved, not copied; new
 * executables' LITERAL estimates and new compressed files' rebuild checks come back the same from the
 * threads, next to the files' records.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { execFileSync } from "node:child_process";
import { type Changed, redeflateOf } from "../../src/generator/mbdf/plan-file";
import { planChangedFiles } from "../../src/generator/mbdf/plan-files";
import { socketPair } from "../filediff/exec-helpers";
import { bcjFilter } from "../../src/compress/bcj";
import { xzSize } from "../../src/compress/xz-size";

/** Four changed files: the Socket.so pair (EXEC), a changelog as gzip -9 (REDEFLATE), a text file (APPROX) and a tiny one. */
/** `gzip -9n` of `bytes`, as Debian packages compress changelogs. */
const gzip9 = (bytes: Uint8Array): Uint8Array => new Uint8Array(execFileSync("gzip", ["-9n"], { input: bytes }));

function changes(): Changed[] {
  const { old, neu } = socketPair();
  const text = (n: number, seed: number): Uint8Array =>
    Buffer.from(Array.from({ length: n }, (_, i) => `line ${i} of the changelog, entry ${(i * seed) % 97}\n`).join(""));
  const extents = (length: number) => [{ sourceOffset: 0, length }];
  const file = (path: string, o: Uint8Array, n: Uint8Array, offset: number): Changed =>
    ({ path, run: { offset, length: n.length }, extents: extents(o.length), old: Uint8Array.from(o), neu: Uint8Array.from(n) });
  return [
    file("/usr/lib/Socket.so", old, neu, 0),
    file("/usr/share/doc/x/changelog.gz", gzip9(text(3000, 7)), gzip9(text(3100, 7)), 1 << 20),
    file("/etc/big.conf", text(5000, 3), text(5000, 5), 2 << 20),
    file("/etc/small", Buffer.from("a".repeat(5000)), Buffer.from("a".repeat(4999) + "b"), 3 << 20),
  ];
}

test("planned on 1, 2 and 3 threads: the same records in the same order (EXEC, REDEFLATE, APPROX)", async () => {
  const local = (await planChangedFiles(changes(), { executableDiffs: true }, 1)).planned;
  assert.deepEqual(local.map((p) => p.planned?.record.kind), ["exec", "redeflate", "approx", "approx"]);
  for (const threads of [2, 3]) {
    const inThreads = (await planChangedFiles(changes(), { executableDiffs: true }, threads)).planned;
    assert.deepEqual(inThreads, local, `${threads} threads`);
  }
});

test("the threads plan without EXEC when told so, and say why in the debug lines", async () => {
  const { planned } = await planChangedFiles(changes(), { executableDiffs: false }, 2);
  assert.equal(planned[0]!.planned?.record.kind, "approx");
  const withExec = (await planChangedFiles(changes().slice(0, 1), { executableDiffs: true }, 2)).planned;
  assert.equal(withExec[0]!.planned?.record.kind, "exec");
  assert.deepEqual(withExec[0]!.debug, [], "an EXEC record that was kept needs no excuse");
  const notElf = (await planChangedFiles(changes().slice(2, 3), { executableDiffs: true }, 2)).planned;
  assert.deepEqual(notElf[0]!.debug, [], "a text file is not tried");
});

test("the caller's file versions are moved to the threads (no second copy of them is kept)", async () => {
  const list = changes();
  await planChangedFiles(list, { executableDiffs: true }, 2);
  assert.equal(list[0]!.old.length, 0, "detached: moved to a worker");
  assert.equal(list[0]!.neu.length, 0);
});

test("new executables' pieces are estimated as filtered LITERAL records on the threads, as here, in order", async () => {
  const { neu } = socketPair();
  const pieceSize = 16 << 10;
  // What the writer compared before the estimates moved to the planner: fast xz of each filtered piece, plus 8.
  const expected = (bytes: Uint8Array, filter: "x86" | "arm64"): number[] => {
    const sizes: number[] = [];
    for (let at = 0; at < bytes.length; at += pieceSize) {
      const piece = bytes.slice(at, at + pieceSize);
      bcjFilter(filter, piece, true, at);
      sizes.push(xzSize([piece]) + 8);
    }
    return sizes;
  };
  const jobs = [
    { filter: "x86" as const, read: () => neu.slice() },
    { filter: "arm64" as const, read: () => neu.slice(0, 40_000) },
  ];
  const want = [expected(neu, "x86"), expected(neu.slice(0, 40_000), "arm64")];
  assert.ok(want[0]!.length >= 3 && want[1]!.length === 3, "several pieces, the last one shorter");
  for (const threads of [1, 2, 3]) {
    const result = await planChangedFiles(changes().slice(1, 3), { executableDiffs: true }, threads, { literals: jobs, pieceSize });
    assert.deepEqual(result.literalSizes, want, `${threads} threads`);
    assert.deepEqual(result.planned.map((p) => p.planned?.record.kind), ["redeflate", "approx"]);
  }
  // Only executables, no changed file: still estimated (on threads when asked for).
  assert.deepEqual((await planChangedFiles([], { executableDiffs: true }, 2, { literals: jobs, pieceSize })).literalSizes, want);
});

test("new compressed files are checked for their rebuild on the threads: the records redeflateOf makes here, in order, none for a file no compressor rebuilds", async () => {
  const text = (n: number, seed: number): Uint8Array =>
    Buffer.from(Array.from({ length: n }, (_, i) => `entry ${i}: ${(i * seed) % 89} fixes\n`).join(""));
  const made = gzip9(text(2000, 3));
  // A member with one bit of its deflate body flipped: it no longer inflates to its CRC, so no record.
  const odd = gzip9(text(500, 11));
  odd[odd.length - 20] = odd[odd.length - 20]! ^ 1;
  const files = [made, odd, gzip9(text(3000, 5))];
  const jobs = files.map((f) => ({ read: () => f.slice() }));
  const want = files.map((f) => redeflateOf(undefined, f.slice(), []));
  assert.ok(want[0] && want[2] && !want[1], "the damaged member is not rebuilt");
  for (const threads of [1, 2, 3]) {
    const result = await planChangedFiles(changes().slice(2, 3), { executableDiffs: true }, threads, { rebuilds: jobs });
    assert.deepEqual(result.rebuilt, want, `${threads} threads`);
    assert.deepEqual(result.planned.map((p) => p.planned?.record.kind), ["approx"]);
  }
  assert.deepEqual((await planChangedFiles([], { executableDiffs: true }, 2, { rebuilds: jobs })).rebuilt, want, "rebuild checks alone");
});
