/** Opening an input the user named, with an error that says which input and what to check. */
import fs from "node:fs";
import { MenderDeltaError } from "../errors";

/** Opens `file` read-only; `what` names it for the message ("source (old image)"). */
export function openForReading(file: string, what: string): number {
  try {
    return fs.openSync(file, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new MenderDeltaError(`cannot open the ${what} ${file}: ${code}; check the path and its permissions`);
  }
}

/**
 * Runs `read` on `file` opened read-only, if it is a regular file, and closes it; undefined when it
 * is not one, cannot be opened or `read` throws. Only a regular file can be read twice: opening
 * and closing a FIFO for a peek would cost its bytes, or its writer a SIGPIPE, before the real
 * reader opens it.
 */
export function peekRegularFile<T>(file: string, read: (fd: number) => T | undefined): T | undefined {
  let fd: number;
  try {
    if (!fs.statSync(file).isFile()) return undefined;
    fd = fs.openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    return read(fd);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}
