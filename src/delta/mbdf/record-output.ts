/**
 * Where a record's bytes go: counted against its declared length, CRC-32'd, and hashed into the
 * whole target's SHA-256. A record of at most CHUNK bytes, or one built whole in memory anyway
 * (`whole`: APPROX, filtered LITERAL, REDEFLATE, at most 16 MiB), is held here until its CRC
 * matched, so a bad record writes nothing; a longer streamed one (ZERO, COPY, unfiltered LITERAL,
 * VCDIFF: memory must not grow with it) is written chunk by chunk and checked at its end. Either
 * way the target is only activated after its SHA-256.
 */
import { createHash, type Hash } from "node:crypto";
import { crc32, crc32OfZeros, hex32 } from "../../compress/crc32";
import type { TargetSink } from "../../io/interfaces";
import { CHUNK } from "./format";
import { RecordProblem } from "./problems";

export class RecordOutput {
  /** Target bytes written to the sink so far. */
  written = 0;
  /** Absent when the caller hashes the written image itself (DeltaDecodeOptions.targetChecksum). */
  private readonly hash: Hash | undefined;
  private readonly held = new Uint8Array(CHUNK);
  private holding = false;
  /** The record's whole output, when it was handed over in one buffer (`whole`). */
  private wholeOutput: Uint8Array | undefined;
  private length = 0;
  private produced = 0;
  private crc = 0;

  constructor(private readonly sink: TargetSink, hashTarget = true) {
    this.hash = hashTarget ? createHash("sha256") : undefined;
  }

  begin(length: number): void {
    this.length = length;
    this.produced = 0;
    this.crc = 0;
    this.holding = length <= CHUNK;
    this.wholeOutput = undefined;
  }

  /** Bytes the record produced so far. */
  get done(): number {
    return this.produced;
  }

  /** Appends bytes the record produced (not kept after the call). */
  push(bytes: Uint8Array): void {
    if (this.produced + bytes.length > this.length) {
      throw new RecordProblem(`the record produces more than its declared ${this.length} bytes`);
    }
    this.crc = crc32(bytes, this.crc);
    if (this.holding) this.held.set(bytes, this.produced);
    else this.write(bytes);
    this.produced += bytes.length;
  }

  /** `length` zero bytes, the record's whole output (its CRC is known by length, not computed byte by byte). */
  zeros(length: number, chunk: Uint8Array): void {
    if (this.produced !== 0 || length !== this.length) throw new Error("zeros() is a record's only output");
    this.crc = crc32OfZeros(length);
    if (this.holding) this.held.fill(0, 0, length);
    else for (let left = length; left > 0; left -= chunk.length) this.write(chunk.subarray(0, Math.min(chunk.length, left)));
    this.produced = length;
  }

  /**
   * The record's whole output in one buffer it owns and no longer changes: held, however long,
   * until the CRC matched. Only as the record's single output.
   */
  whole(bytes: Uint8Array): void {
    if (this.produced !== 0) throw new Error("whole() after push()");
    if (bytes.length > this.length) throw new RecordProblem(`the record produces more than its declared ${this.length} bytes`);
    this.crc = crc32(bytes);
    this.produced = bytes.length;
    this.wholeOutput = bytes;
  }

  /** The record is complete: its length and CRC-32 must be the declared ones; then it is written. */
  finish(declaredCrc: number, sourceRead: boolean): void {
    if (this.produced !== this.length) {
      throw new RecordProblem(`the record produced ${this.produced} bytes, it declares ${this.length}`);
    }
    if (this.crc !== declaredCrc) {
      const what = `the record's bytes have CRC-32 ${hex32(this.crc)}, the delta declares ${hex32(declaredCrc)}`;
      // Bytes built from the delta alone are wrong only if the delta is; with source bytes in them,
      // the source is the likelier culprit (the delta's own fields were all checked).
      throw new RecordProblem(what, sourceRead ? "source" : "delta");
    }
    if (this.wholeOutput) this.write(this.wholeOutput);
    else if (this.holding) this.write(this.held.subarray(0, this.length));
    this.wholeOutput = undefined;
  }

  /** SHA-256 (hex) of everything written. */
  sha256(): string | undefined {
    return this.hash?.digest("hex");
  }

  private write(bytes: Uint8Array): void {
    this.sink.write(bytes);
    this.hash?.update(bytes);
    this.written += bytes.length;
  }
}
