/**
 * The memory one EXEC record may take on the device: at most WORKING_SET_FACTOR times its window
 * (the larger of its old and new files, each at most 16 MiB). Every buffer the record needs (the
 * old file, the output, its streams, the old file's references, the diff's stretches and address
 * map, the prediction's scratch) is claimed here before it is made; a record that would need more
 * is refused before it is made, and so before any byte is written. The generator applies each EXEC
 * record it makes the same way, so a file whose record would not fit keeps its APPROX diff: the
 * device never refuses a record the generator made from the same old file.
 */
export const WORKING_SET_FACTOR = 3;

/** An EXEC record would need more memory than its window allows. */
export class WorkingSetError extends Error {}

export class MemoryBudget {
  /** Bytes claimed so far: nothing is given back while the record is applied. */
  used = 0;
  readonly limit: number;

  constructor(readonly window: number) {
    this.limit = WORKING_SET_FACTOR * window;
  }

  /** Claims `bytes` for `what`, or throws WorkingSetError when the record would go over its limit. */
  claim(bytes: number, what: string): void {
    this.used += bytes;
    if (this.used > this.limit) {
      throw new WorkingSetError(
        `the record needs more than ${WORKING_SET_FACTOR} times its ${this.window}-byte window in memory (${this.used} bytes with ${what})`,
      );
    }
  }
}

/**
 * The budget of an EXEC record from an old file of `oldLength` bytes to a new one of `newLength`
 * (whole files, holes included), with the old buffer, the output and the control and literals
 * streams claimed (the differences stream lies in the output: execute-approx.ts readStreams).
 */
export function execBudget(oldLength: number, newLength: number, controlLength: number, literalsLength: number): MemoryBudget {
  const budget = new MemoryBudget(Math.max(oldLength, newLength));
  budget.claim(oldLength, "the old file");
  budget.claim(newLength, "the output");
  budget.claim(controlLength, "the control stream");
  budget.claim(literalsLength, "the literals stream");
  return budget;
}
