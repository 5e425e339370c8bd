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
