/**
 * The planner threads (src/generator/mbdf/plan-files.ts): the records of changed files planned on
 * worker threads are the records planned here, in the caller's order, whatever the thread count;
 * --no-executable-diffs reaches the threads; the files' versions are moved, not copied.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { execFileSync } from "node:child_process";
import type { Changed } from "../../src/generator/mbdf/plan-file";
import { planChangedFiles } from "../../src/generator/mbdf/plan-files";
import { socketPair } from "../filediff/exec-helpers";

/** Four changed files: the Socket.so pair (EXEC), a changelog as gzip -9 (REDEFLATE), a text file (APPROX) and a tiny one. */
/** `gzip -9n` of `bytes`, as Debian packages compress changelogs. */
const gzip9 = (bytes: Uint8Array): Uint8Array => new Uint8Array(execFileSync("gzip", ["-9n"], { input: bytes }));

function changes(): Changed[] {
  const { old, neu } = socketPair();
  const text = (n: number, seed: number): Uint8Array =>
    Buffer.from(Array.from({ length: n }, (_, i) => `line ${i} of the changelog, entry ${(i * seed) % 97}\n`).join(""));
  const extents = (length: number) => [{ sourceOffset: 0, length }];
  const file = (path: string, o: Uint8Array, n: Uint8Array, offset: number): Changed =>
    ({ path, run: { offset, length: n.length }, extents: extents(o.length), old: o.slice(), neu: n.slice() });
  return [
    file("/usr/lib/Socket.so", old, neu, 0),
    file("/usr/share/doc/x/changelog.gz", gzip9(text(3000, 7)), gzip9(text(3100, 7)), 1 << 20),
    file("/etc/big.conf", text(5000, 3), text(5000, 5), 2 << 20),
    file("/etc/small", Buffer.from("a".repeat(5000)), Buffer.from("a".repeat(4999) + "b"), 3 << 20),
  ];
}

test("planned on 1, 2 and 3 threads: the same records in the same order (EXEC, REDEFLATE, APPROX)", async () => {
  const local = await planChangedFiles(changes(), { executableDiffs: true }, 1);
  assert.deepEqual(local.map((p) => p.planned?.record.kind), ["exec", "redeflate", "approx", "approx"]);
  for (const threads of [2, 3]) {
    const inThreads = await planChangedFiles(changes(), { executableDiffs: true }, threads);
    assert.deepEqual(inThreads, local, `${threads} threads`);
  }
});

test("the threads plan without EXEC when told so, and say why in the debug lines", async () => {
  const planned = await planChangedFiles(changes(), { executableDiffs: false }, 2);
  assert.equal(planned[0]!.planned?.record.kind, "approx");
  const withExec = await planChangedFiles(changes().slice(0, 1), { executableDiffs: true }, 2);
  assert.equal(withExec[0]!.planned?.record.kind, "exec");
  assert.deepEqual(withExec[0]!.debug, [], "an EXEC record that was kept needs no excuse");
  const notElf = await planChangedFiles(changes().slice(2, 3), { executableDiffs: true }, 2);
  assert.deepEqual(notElf[0]!.debug, [], "a text file is not tried");
});

test("the caller's file versions are moved to the threads (no second copy of them is kept)", async () => {
  const list = changes();
  await planChangedFiles(list, { executableDiffs: true }, 2);
  assert.equal(list[0]!.old.length, 0, "detached: moved to a worker");
  assert.equal(list[0]!.neu.length, 0);
});
