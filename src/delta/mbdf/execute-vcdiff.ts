/**
 * VCDIFF records: a nested VCDIFF delta (vcdiff/decoder), decoded with the source's first
 * source_size bytes as its source, its windows going into the record's output, which holds it to
 * exactly the record's length.
 */
import { MenderDeltaError } from "../../errors";
import type { TargetSink } from "../../io/interfaces";
import { decodeVcdiff } from "../../vcdiff/decoder/decode";
import { SourceMismatchError } from "../../vcdiff/decoder/errors";
import type { RecordContext, RecordResult } from "./context";
import { CHUNK } from "./format";
import { RecordProblem } from "./problems";

export async function executeVcdiff(ctx: RecordContext, length: number): Promise<RecordResult> {
  const deltaLength = await ctx.input.varint("delta_length");
  if (deltaLength < 1) throw new RecordProblem("an empty nested VCDIFF delta");
  const sink: TargetSink = { write: (data) => ctx.out.push(data), finish: () => {} };
  try {
    const result = await decodeVcdiff(ctx.input.substream(deltaLength, CHUNK / 4), ctx.source, sink, {
      maxWindowSize: ctx.vcdiff.maxWindowSize,
      scratch: ctx.vcdiff.scratch,
      // What is left of the whole delta's read budget, not a budget of its own per record.
      readBudget: { initial: ctx.readAllowance, perTargetByte: 0 },
    });
    return { sourceRead: result.sourceBytesRead > 0 };
  } catch (err) {
    if (err instanceof RecordProblem) throw err;
    // The nested decoder's one line already says what and where (its own window and byte).
    if (err instanceof MenderDeltaError) {
      throw new RecordProblem(`the nested VCDIFF delta: ${err.message.replace(/\.$/, "")}`, err instanceof SourceMismatchError ? "source" : "delta");
    }
    throw err;
  }
}
