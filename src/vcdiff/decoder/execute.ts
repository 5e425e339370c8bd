/**
 * Runs one window's instructions (RFC 3284 §5) into the target window buffer, with every check
 * xdelta3 makes: sizes fit 32 bits, nothing is written past the window, ADD/RUN stay inside the data
 * section, COPY addresses lie before "here" and do not straddle the source/target boundary, and all
 * three sections are consumed exactly.
 *
 * This is the device's hot path: one flat loop over typed arrays, varints decoded inline, no object
 * per instruction; short copies are byte loops, long ones `set`/`copyWithin`/`fill`.
 */
import type { AddressCache } from "../format/address-cache";
import * as codeTable from "../format/code-table";
import { type CopyBatch, copyWithinTarget } from "./copy-batch";

// Module-local copies: under a CommonJS transform (tsx: the tests and benchmarks) every use of an
// import is a getter call, a tenth of the decoder's time in its instruction loop.
const { ADD, CODE_TABLE_INST1, CODE_TABLE_INST2, CODE_TABLE_MODE1, CODE_TABLE_MODE2, CODE_TABLE_SIZE1, CODE_TABLE_SIZE2, MODE_HERE, MODE_SAME0, MODE_SELF, NOOP, RUN } =
  codeTable;

/** Copies up to this size are done with a byte loop: cheaper than a call into a typed-array builtin. */
const SHORT_COPY = 32;
/** Largest value before the last `* 128` of a 32-bit size (xdelta3's `0xFE000000` overflow mask). */
const SIZE_SHIFT_LIMIT = 0x2000000;

/** The code table interleaved by `opcode * 2 + half`, so one loop handles both halves of an opcode. */
const CODE_TYPE = new Uint8Array(512);
const CODE_SIZE = new Uint8Array(512);
const CODE_MODE = new Uint8Array(512);
for (let op = 0; op < 256; op++) {
  CODE_TYPE[op * 2] = CODE_TABLE_INST1[op]!;
  CODE_SIZE[op * 2] = CODE_TABLE_SIZE1[op]!;
  CODE_MODE[op * 2] = CODE_TABLE_MODE1[op]!;
  CODE_TYPE[op * 2 + 1] = CODE_TABLE_INST2[op]!;
  CODE_SIZE[op * 2 + 1] = CODE_TABLE_SIZE2[op]!;
  CODE_MODE[op * 2 + 1] = CODE_TABLE_MODE2[op]!;
}

export type SectionName = "instruction" | "data" | "address";

/** A check failed; the driver adds the window and delta offsets. */
export class ExecuteProblem extends Error {
  constructor(
    message: string,
    readonly section: SectionName,
    readonly sectionOffset: number,
    readonly targetOffset: number,
  ) {
    super(message);
  }
}

export interface WindowLayout {
  targetLength: number;
  /** Length of the window's source segment (0 without VCD_SOURCE). */
  sourceLength: number;
  /** Absolute source offset of the segment. */
  sourcePosition: number;
}

/**
 * Decodes `inst` (with its `data` and `addr`) into target[0, layout.targetLength). Source copies are
 * queued in `copies` (done in source order), so the caller must `copies.flush(target)` afterwards.
 * `copies` may be null only when the window has no source segment.
 */
export function executeWindow(
  layout: WindowLayout,
  target: Uint8Array,
  data: Uint8Array,
  inst: Uint8Array,
  addr: Uint8Array,
  cache: AddressCache,
  copies: CopyBatch | null,
): void {
  const targetLength = layout.targetLength;
  const s = layout.sourceLength;
  const sourcePosition = layout.sourcePosition;
  const dataEnd = data.length;
  const instEnd = inst.length;
  const addrEnd = addr.length;
  const near = cache.near;
  const same = cache.same;
  cache.reset();
  let dp = 0;
  let ip = 0;
  let ap = 0;
  let tp = 0;

  // One loop over instruction halves (not a loop over opcodes around one over their two halves):
  // V8 compiled the inner loop alone on stack replacement and left that code at every opcode
  // (thousands of deoptimizations in one Download).
  let opAt = 0;
  let half = 0;
  let halvesEnd = 0;
  for (;;) {
    if (half === halvesEnd) {
      if (ip >= instEnd) break;
      opAt = ip;
      half = inst[ip++]! * 2;
      halvesEnd = half + 2;
    }
    const h = half++;
    const type = CODE_TYPE[h]!;
    if (type === NOOP) continue;
    let size = CODE_SIZE[h]!;
    if (size === 0) {
      const sizeAt = ip;
      for (;;) {
        if (ip >= instEnd) throw new ExecuteProblem("instruction section ends inside an instruction size", "instruction", sizeAt, tp);
        const b = inst[ip++]!;
        if (size >= SIZE_SHIFT_LIMIT) throw new ExecuteProblem("instruction size overflows 32 bits", "instruction", sizeAt, tp);
        size = size * 128 + (b & 0x7f);
        if (b < 0x80) break;
      }
    }
    if (size > targetLength - tp) {
      throw new ExecuteProblem(
        `instruction of ${size} bytes writes past the end of the ${targetLength}-byte target window`,
        "instruction",
        opAt,
        tp,
      );
    }
    if (type === ADD) {
      if (size > dataEnd - dp) {
        throw new ExecuteProblem(`ADD of ${size} bytes runs past the end of the data section`, "data", dp, tp);
      }
      if (size <= SHORT_COPY) {
        for (let i = 0; i < size; i++) target[tp + i] = data[dp + i]!;
      } else {
        target.set(data.subarray(dp, dp + size), tp);
      }
      dp += size;
      tp += size;
    } else if (type === RUN) {
      if (dp >= dataEnd) throw new ExecuteProblem("RUN byte missing: the data section is exhausted", "data", dp, tp);
      const value = data[dp++]!;
      if (size <= SHORT_COPY) {
        for (let i = 0; i < size; i++) target[tp + i] = value;
      } else {
        target.fill(value, tp, tp + size);
      }
      tp += size;
    } else {
      const mode = CODE_MODE[h]!;
      const here = s + tp;
      const addrAt = ap;
      let a: number;
      if (mode >= MODE_SAME0) {
        if (ap >= addrEnd) throw new ExecuteProblem("address section exhausted", "address", ap, tp);
        a = same[(mode - MODE_SAME0) * 256 + addr[ap++]!]!;
      } else {
        let v = 0;
        for (;;) {
          if (ap >= addrEnd) throw new ExecuteProblem("address section ends inside an address", "address", addrAt, tp);
          const b = addr[ap++]!;
          if (v >= SIZE_SHIFT_LIMIT) throw new ExecuteProblem("address overflows 32 bits", "address", addrAt, tp);
          v = v * 128 + (b & 0x7f);
          if (b < 0x80) break;
        }
        a = mode === MODE_SELF ? v : mode === MODE_HERE ? here - v : near[mode - 2]! + v;
      }
      if (a >= here || a < 0) {
        throw new ExecuteProblem(
          `COPY address ${a} (mode ${mode}) is not before the current position ${here}`,
          "address",
          addrAt,
          tp,
        );
      }
      cache.update(a);
      if (a < s) {
        if (size > s - a) {
          throw new ExecuteProblem(
            `COPY of ${size} bytes from source segment offset ${a} straddles the end of the ${s}-byte segment`,
            "address",
            addrAt,
            tp,
          );
        }
        copies!.addSource(target, tp, sourcePosition + a, size);
      } else if (copies !== null && copies.pending) {
        copies.addTarget(target, tp, a - s, size);
      } else {
        copyWithinTarget(target, tp, a - s, size);
      }
      tp += size;
    }
  }
  if (tp !== targetLength) {
    throw new ExecuteProblem(
      `instructions produce ${tp} bytes but the window declares ${targetLength} (wrong window length)`,
      "instruction",
      ip,
      tp,
    );
  }
  if (dp !== dataEnd) throw new ExecuteProblem(`${dataEnd - dp} unused bytes left in the data section`, "data", dp, tp);
  if (ap !== addrEnd) throw new ExecuteProblem(`${addrEnd - ap} unused bytes left in the address section`, "address", ap, tp);
}
