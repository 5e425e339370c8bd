/**
 * Encodes one target window's instruction list into VCDIFF window bytes (RFC 3284 §4.2 plus the
 * xdelta3 VCD_ADLER32 extension): the exact source segment of the window's source copies, the
 * cheapest address mode per copy under the per-window near/same caches, double opcodes of the
 * default code table, and minimal integers everywhere.
 */
import { AddressCache, sameSlot } from "../format/address-cache";
import { adler32 } from "../format/adler32";
import { ByteSink } from "./byte-sink";
import {
  addCopyOpcode, addOpcode, addSizeImplied, copyAddOpcode, copyOpcode, copySizeImplied,
  MODE_HERE, MODE_NEAR0, MODE_SAME0, MODE_SELF, NEAR_SLOTS, OPCODE_RUN,
} from "../format/code-table";
import { InstructionList, KIND_ADD, KIND_COPY_SOURCE, KIND_COPY_TARGET, KIND_RUN } from "./instruction-list";
import { varintLength, writeVarint } from "../format/varint";
import { MAGIC, VCD_ADLER32, VCD_SOURCE } from "../format/constants";

/** The 5-byte file header of the profile: magic, version 0, Hdr_Indicator 0. */
export const FILE_HEADER = Uint8Array.of(...MAGIC, 0x00, 0x00);

export class WindowWriter {
  private readonly data = new ByteSink(1 << 16);
  private readonly inst = new ByteSink(1 << 16);
  private readonly addr = new ByteSink(1 << 16);
  /** The same near/same caches the decoder keeps, updated after every COPY as it does. */
  private readonly cache = new AddressCache();
  // Result of chooseAddress (fields, not an object, on a hot path).
  private mode = 0;
  private value = 0;

  /**
   * Returns the window's bytes. `target` holds the window's target bytes (ADD/RUN data come from
   * it); `list` covers exactly `target.length` bytes.
   */
  encode(target: Uint8Array, list: InstructionList, checksum: boolean): Uint8Array {
    const n = list.count;
    const { kind, size, pos } = list;
    // The segment is exactly [lowest source byte used, highest + 1).
    let segStart = Infinity;
    let segEnd = 0;
    for (let i = 0; i < n; i++) {
      if (kind[i] === KIND_COPY_SOURCE) {
        const p = pos[i]!;
        if (p < segStart) segStart = p;
        if (p + size[i]! > segEnd) segEnd = p + size[i]!;
      }
    }
    const hasSource = segEnd > 0 || segStart !== Infinity;
    const segLen = hasSource ? segEnd - segStart : 0;
    if (!hasSource) segStart = 0;

    this.data.reset(); this.inst.reset(); this.addr.reset();
    this.cache.reset();

    let written = 0; // target bytes produced so far in this window
    let i = 0;
    while (i < n) {
      const k = kind[i]!;
      const s = size[i]!;
      if (k === KIND_ADD) {
        // ADD 1..4 followed by a short COPY shares one opcode.
        if (s <= 4 && i + 1 < n && isCopy(kind[i + 1]!)) {
          const cs = size[i + 1]!;
          const ca = copyAddress(kind[i + 1]!, pos[i + 1]!, segStart, segLen);
          this.chooseAddress(ca, segLen + written + s);
          const op = addCopyOpcode(s, cs, this.mode);
          if (op >= 0) {
            this.inst.byte(op);
            this.data.bytes(target, pos[i]!, pos[i]! + s);
            this.emitAddress(ca);
            written += s + cs;
            i += 2;
            continue;
          }
        }
        this.inst.byte(addOpcode(s));
        if (!addSizeImplied(s)) this.varint(this.inst, s);
        this.data.bytes(target, pos[i]!, pos[i]! + s);
        written += s;
        i++;
      } else if (k === KIND_RUN) {
        this.inst.byte(OPCODE_RUN);
        this.varint(this.inst, s);
        this.data.byte(target[pos[i]!]!);
        written += s;
        i++;
      } else {
        const ca = copyAddress(k, pos[i]!, segStart, segLen);
        this.chooseAddress(ca, segLen + written);
        const mode = this.mode;
        // COPY 4 followed by ADD 1 shares one opcode.
        if (s === 4 && i + 1 < n && kind[i + 1] === KIND_ADD && size[i + 1] === 1) {
          this.inst.byte(copyAddOpcode(4, mode, 1));
          this.emitAddress(ca);
          this.data.byte(target[pos[i + 1]!]!);
          written += 5;
          i += 2;
          continue;
        }
        this.inst.byte(copyOpcode(s, mode));
        if (!copySizeImplied(s)) this.varint(this.inst, s);
        this.emitAddress(ca);
        written += s;
        i++;
      }
    }
    if (written !== target.length) {
      throw new Error(`window program covers ${written} bytes, window has ${target.length}`);
    }
    return this.assemble(target, hasSource, segStart, segLen, checksum);
  }

  /** Picks the mode whose encoded address is shortest (same-cache hits cost one byte). */
  private chooseAddress(addr: number, here: number): void {
    let mode = MODE_SELF;
    let value = addr;
    let cost = varintLength(addr);
    const h = here - addr;
    const hc = varintLength(h);
    if (hc < cost) { mode = MODE_HERE; value = h; cost = hc; }
    for (let j = 0; j < NEAR_SLOTS && cost > 1; j++) {
      const d = addr - this.cache.near[j]!;
      if (d >= 0) {
        const c = varintLength(d);
        if (c < cost) { mode = MODE_NEAR0 + j; value = d; cost = c; }
      }
    }
    if (cost > 1) {
      const slot = sameSlot(addr);
      if (this.cache.same[slot] === addr) { mode = MODE_SAME0 + Math.floor(slot / 256); value = slot % 256; }
    }
    this.mode = mode;
    this.value = value;
  }

  /** Writes the address chosen by chooseAddress and updates the caches as every decoder does. */
  private emitAddress(addr: number): void {
    if (this.mode >= MODE_SAME0) this.addr.byte(this.value);
    else this.varint(this.addr, this.value);
    this.cache.update(addr);
  }

  private varint(sink: ByteSink, value: number): void {
    const p = sink.reserve(5 + 4);
    sink.length = writeVarint(sink.buf, p, value);
  }

  private assemble(target: Uint8Array, hasSource: boolean, segStart: number, segLen: number, checksum: boolean): Uint8Array {
    const dataLen = this.data.length, instLen = this.inst.length, addrLen = this.addr.length;
    const tgtLen = target.length;
    const encLen = varintLength(tgtLen) + 1 + varintLength(dataLen) + varintLength(instLen) + varintLength(addrLen)
      + (checksum ? 4 : 0) + dataLen + instLen + addrLen;
    const headLen = 1 + (hasSource ? varintLength(segLen) + varintLength(segStart) : 0) + varintLength(encLen);
    const out = new Uint8Array(headLen + encLen);
    let p = 0;
    out[p++] = (hasSource ? VCD_SOURCE : 0) | (checksum ? VCD_ADLER32 : 0);
    if (hasSource) {
      p = writeVarint(out, p, segLen);
      p = writeVarint(out, p, segStart);
    }
    p = writeVarint(out, p, encLen);
    p = writeVarint(out, p, tgtLen);
    out[p++] = 0; // Delta_Indicator: no secondary compression
    p = writeVarint(out, p, dataLen);
    p = writeVarint(out, p, instLen);
    p = writeVarint(out, p, addrLen);
    if (checksum) {
      const sum = adler32(target);
      out[p++] = sum >>> 24; out[p++] = (sum >>> 16) & 0xff; out[p++] = (sum >>> 8) & 0xff; out[p++] = sum & 0xff;
    }
    out.set(this.data.buf.subarray(0, dataLen), p); p += dataLen;
    out.set(this.inst.buf.subarray(0, instLen), p); p += instLen;
    out.set(this.addr.buf.subarray(0, addrLen), p); p += addrLen;
    return out;
  }
}

function isCopy(kind: number): boolean {
  return kind === KIND_COPY_SOURCE || kind === KIND_COPY_TARGET;
}

/** Address in the superstring U = segment ‖ target window. */
function copyAddress(kind: number, pos: number, segStart: number, segLen: number): number {
  return kind === KIND_COPY_SOURCE ? pos - segStart : segLen + pos;
}
