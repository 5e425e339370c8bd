/**
 * Checks on the output path that need no input read: a run that cannot write its result must fail
 * in a second, not after the whole encoding. (The output being one of the inputs is checkPair's.)
 */
import { constants, promises as fsp } from "node:fs";
import path from "node:path";
import { MenderDeltaError } from "../errors";

export async function checkOutputPath(output: string): Promise<void> {
  const cannot = (why: string): MenderDeltaError => new MenderDeltaError(`cannot write the output ${output}: ${why}`);
  // lstat: a symbolic link at the output is replaced like a file (the rename does not follow it).
  const existing = await fsp.lstat(output).catch(() => undefined);
  // A trailing "/" names a directory: the rename at the end would fail (ENOTDIR), after all the work.
  if (output.endsWith("/") && !existing?.isDirectory()) {
    throw cannot(`it ends in "/", which names a directory; give the delta Artifact's file name, e.g. ${path.join(output, "delta.mender")}`);
  }
  if (existing?.isDirectory()) {
    throw cannot(`it is a directory; give the delta Artifact's file name, e.g. ${path.join(output, "delta.mender")}`);
  }
  if (existing && !existing.isFile() && !existing.isSymbolicLink()) {
    throw cannot("it exists and is not a regular file (a device, FIFO or socket); the Artifact is written to a new file and renamed, give a file path");
  }
  const dir = path.dirname(path.resolve(output));
  const st = await fsp.stat(dir).catch(() => undefined);
  if (st === undefined) throw cannot(`the directory ${dir} does not exist; create it first`);
  if (!st.isDirectory()) throw cannot(`${dir} is not a directory`);
  try {
    await fsp.access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const readOnly = (err as NodeJS.ErrnoException).code === "EROFS";
    throw cannot(`the directory ${dir} is not writable${readOnly ? " (a read-only file system)" : " (by this user)"}; choose a writable directory`);
  }
}
