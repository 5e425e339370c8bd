/**
 * src/cli/run.ts: which failures are one line (expected failures, and system errors that are the
 * machine's condition) and which are a bug's stack trace.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import { systemConditionMessage } from "../../src/cli/run";

/** A real system error of Node's, as fs raises it. */
function systemError(act: () => unknown): NodeJS.ErrnoException {
  try {
    act();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error("no error raised");
}

test("a full or read-only file system, a permission, failing storage: one line with what to do", () => {
  const err = Object.assign(new Error("ENOSPC: no space left on device,\nwrite"), { code: "ENOSPC", syscall: "write" });
  assert.equal(systemConditionMessage(err), "ENOSPC: no space left on device, write; the file system is full: free some space and run again");
  for (const [code, advice] of [["EROFS", /read-only: make it writable/], ["EACCES", /permission denied/], ["EIO", /may be failing/], ["EMFILE", /ulimit -n/]] as const) {
    assert.match(systemConditionMessage(Object.assign(new Error(`${code}: x`), { code }))!, advice, code);
  }
});

test("anything else stays a bug's report: other system errors, errors without a code, non-errors", () => {
  const missing = systemError(() => fs.readFileSync("/nonexistent/mbd-run-test"));
  assert.equal(missing.code, "ENOENT");
  assert.equal(systemConditionMessage(missing), undefined, "a missing file the program did not check for is a bug");
  assert.equal(systemConditionMessage(new TypeError("x is not a function")), undefined);
  assert.equal(systemConditionMessage({ code: "ENOSPC", message: "not an Error" }), undefined);
  assert.equal(systemConditionMessage(Object.assign(new Error("odd"), { code: "toString" })), undefined, "only the table's own codes");
});
