/**
 * `apply` of an MBDF delta in the built single-file binaries (dist/<arch>/mender-binary-delta,
 * foreign arches under qemu-user): the MBDF decoder on the runtimes the devices run. The delta
 * holds an APPROX record of a patched copy of that architecture's libc, a LITERAL record of it
 * with that architecture's branch filter, EXEC records of perl's Socket.so across a security
 * upgrade, its x86-64 and its arm64 build (each predicted the same way on every runtime), and an
 * EXEC record with holes of apt's arm64 cdrom method (its data, as mke2fs -d stores it).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import type { BcjArch } from "../../src/compress/bcj";
import { MbdfWriter } from "../../src/delta/mbdf/writer";
import { approximateDiff } from "../../src/filediff/approximate-diff";
import { execDiff } from "../../src/filediff/exec/exec-diff";
import { cdromWithHoles, diffCost, socketPair } from "../filediff/exec-helpers";
import { needBuilt, needTools, REQUIRE_PEERS } from "../helpers/peers";
import { TARGETS, binaryPath, runBinary } from "../helpers/targets";
import { scratchDir } from "../vcdiff/helpers";
import { concat, sha256 } from "./mbdf-helpers";

const CODE: Record<string, { libc: string; filter: BcjArch }> = {
  x86_64: { libc: "/usr/lib/x86_64-linux-gnu/libc.so.6", filter: "x86" },
  aarch64: { libc: "/usr/aarch64-linux-gnu/lib/libc.so.6", filter: "arm64" },
  armhf: { libc: "/usr/arm-linux-gnueabihf/lib/libc.so.6", filter: "arm" },
};

for (const target of TARGETS.filter((t) => t.programs.includes("mender-binary-delta"))) {
  test(`${target.arch} binary: apply an MBDF delta (APPROX, filtered LITERAL, x86-64 and AArch64 EXEC, EXEC with holes) from standard input`, (t) => {
    if (!needTools(t, ...target.run.slice(0, 1))) return;
    const bin = binaryPath(target, "mender-binary-delta");
    if (!needBuilt(t, bin)) return;
    const code = CODE[target.arch];
    if (!code || !fs.existsSync(code.libc)) {
      if (REQUIRE_PEERS) throw new Error(`no libc of ${target.arch} to test with; REQUIRE_PEERS=1 forbids skipping`);
      t.skip(`no libc of ${target.arch}`);
      return;
    }
    const dir = scratchDir(`mbdf-${target.arch}`);
    const old = new Uint8Array(fs.readFileSync(code.libc)).slice(0, 300_000);
    const patched = old.slice();
    for (let i = 0; i < patched.length; i += 499) patched[i] = patched[i]! ^ 4;
    const literal = old.subarray(100_000, 200_000);
    const socket = socketPair();
    const exec = execDiff(socket.old, socket.neu, approximateDiff(socket.old, socket.neu), diffCost)!;
    const arm = socketPair("arm64");
    const armExec = execDiff(arm.old, arm.neu, approximateDiff(arm.old, arm.neu), diffCost)!;
    const cdrom = cdromWithHoles();
    const cdromExec = execDiff(cdrom.wholeOld, cdrom.wholeNew, approximateDiff(cdrom.wholeOld, cdrom.wholeNew), diffCost)!;
    assert.deepEqual([exec.transform, armExec.transform, cdromExec.transform], [1, 2, 2]);
    const neu = concat([patched, literal, socket.neu, arm.neu, cdrom.newData]);
    const source = concat([old, socket.old, arm.old, cdrom.oldData]);
    const w = new MbdfWriter({ targetSize: neu.length, sourceSize: source.length, targetSha256: sha256(neu) });
    w.approx([{ sourceOffset: 0, length: old.length }], approximateDiff(old, patched), patched);
    w.literal(literal, code.filter, 100_000);
    w.exec([{ sourceOffset: old.length, length: socket.old.length }], exec, socket.neu);
    w.exec([{ sourceOffset: old.length + socket.old.length, length: arm.old.length }], armExec, arm.neu);
    w.exec([{ sourceOffset: old.length + socket.old.length + arm.old.length, length: cdrom.oldData.length }], cdromExec, cdrom.newData, cdrom.holes);
    w.end();
    const oldFile = path.join(dir, "old");
    fs.writeFileSync(oldFile, source);
    const out = path.join(dir, "new");
    const r = runBinary(target, "mender-binary-delta", ["apply", "-q", "--source", oldFile, "--delta", "-", "--target", out], { input: Buffer.from(w.bytes()) });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${out}: ${neu.length} bytes written from 5 MBDF records`);
    assert.ok(fs.readFileSync(out).equals(Buffer.from(neu)), "output differs");
  });
}
