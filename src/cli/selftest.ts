import { createHash, randomBytes } from "node:crypto";
import { gunzipSync } from "fflate";
import { MenderDeltaError } from "../errors";
import { runTask } from "../workers/spawn";
import type { SelfTestReply, SelfTestRequest } from "../workers/selftest-task";

/**
 * `selftest`: proves on the machine at hand that this build can run its worker threads (an eval
 * worker round trip through a bundled dependency and node:crypto). Prints one JSON line.
 */
export async function selfTest(program: string, version: string): Promise<number> {
  const payload = randomBytes(256 * 1024);
  const expected = createHash("sha256").update(payload).digest("hex");
  const copy = new Uint8Array(payload); // the worker gets its own copy, moved rather than cloned
  const request: SelfTestRequest = { task: "selftest", payload: copy };
  const reply = await runTask<SelfTestReply>(request, [copy.buffer]);
  const roundTrip = Buffer.from(gunzipSync(reply.gzip)).equals(payload);
  if (reply.sha256 !== expected || !roundTrip) {
    throw new MenderDeltaError("selftest failed: the worker thread returned wrong data");
  }
  process.stdout.write(
    JSON.stringify({ program, version, arch: process.arch, node: process.version, flags: process.execArgv, worker: "ok", bytes: payload.length }) + "\n",
  );
  return 0;
}
