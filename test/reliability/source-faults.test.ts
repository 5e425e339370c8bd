/**
 * Short reads of `apply`'s source image, injected by the kernel: the source is a file served
 * through FUSE (faulty-file.ts) that answers every read with a few odd-sized bytes. `apply` reads
 * image files with its own reader (not the Update Module's partition reader); every read loop
 * must continue after a short result, so the output must still be the new image.
 *
 * The Update Module's reads of the active partition under short reads and EIO are cases of
 * fault-injection.test.ts, where the real `mender` client installs the delta Artifact.
 *
 * Runs the built program when there is one (a private copy), else the source.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { REQUIRE_PEERS, needRoot, needTools } from "../helpers/peers";
import { makeReleasePair, moduleCommand, sha256File } from "../device/fixtures";
import { copyOfBuiltProgram } from "./built-binary";
import { serveFaultyFile, type FaultyFile } from "./faulty-file";

let work = "";
let served: FaultyFile | undefined;

after(async () => {
  await served?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test("short reads of apply's --source (FUSE, 1..4093 bytes each): the output is the new image", async (t) => {
  if (!needRoot(t, "FUSE mounts") || !needTools(t, "mke2fs", "xdelta3", "mount", "umount")) return;
  if (!fs.existsSync("/dev/fuse")) {
    assert.ok(!REQUIRE_PEERS, "/dev/fuse is missing; REQUIRE_PEERS=1 forbids skipping");
    process.stderr.write("SKIPPED: no /dev/fuse\n");
    t.skip("no /dev/fuse");
    return;
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mbd-source-faults-"));
  const { v1, deltaFile, sum2 } = makeReleasePair(work);
  const built = copyOfBuiltProgram(work);
  const [cmd, ...pre] = built ? [built] : moduleCommand();
  served = await serveFaultyFile(path.join(work, "fuse"), v1, "v1.ext4", { maxReplyBytes: 4093 });
  const out = path.join(work, "applied.ext4");
  const r = spawnSync(cmd!, [...pre, "apply", "--source", served.path, "--delta", deltaFile, "--target", out], { encoding: "utf8", timeout: 120_000 });
  const counters = await served.close();
  served = undefined;
  process.stdout.write(
    `source read faults (apply, ${built ? "built binary" : "source"}): ${counters.reads} reads, ${counters.shortReplies} short replies; exit ${r.status}\n`,
  );
  assert.equal(r.status, 0, `apply failed: ${r.stderr}`);
  assert.equal(sha256File(out), sum2, "apply made a different image");
  assert.ok(counters.shortReplies > 100, `the fault did not happen: ${JSON.stringify(counters)}`);
});
