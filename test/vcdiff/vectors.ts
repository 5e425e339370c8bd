/** A tiny writer of hand-made VCDIFF files for edge and negative tests. */
import { adler32 } from "../../src/vcdiff/format/adler32";
import { varintLength, writeVarint } from "../../src/vcdiff/format/varint";

export function varint(value: number): number[] {
  const out = new Uint8Array(varintLength(value));
  writeVarint(out, 0, value);
  return [...out];
}

export interface WindowSpec {
  /** Win_Indicator; default VCD_SOURCE when `source` is given, else 0 (plus 0x04 when `checksumOf`). */
  indicator?: number;
  source?: [length: number, position: number];
  targetLength: number;
  deltaIndicator?: number;
  data?: number[];
  inst: number[];
  addr?: number[];
  /** Adds VCD_ADLER32 with the checksum of these bytes. */
  checksumOf?: Uint8Array;
  /** Added to the computed length of the delta encoding (to corrupt it). */
  encLengthDelta?: number;
}

export function window(w: WindowSpec): number[] {
  const data = w.data ?? [];
  const addr = w.addr ?? [];
  const adler = w.checksumOf !== undefined;
  let indicator = w.indicator ?? (w.source ? 0x01 : 0);
  if (adler) indicator |= 0x04;
  const body = [
    ...varint(w.targetLength),
    w.deltaIndicator ?? 0,
    ...varint(data.length),
    ...varint(w.inst.length),
    ...varint(addr.length),
  ];
  const checksum = adler ? adler32(w.checksumOf!) : 0;
  const sum = adler ? [checksum >>> 24, (checksum >>> 16) & 255, (checksum >>> 8) & 255, checksum & 255] : [];
  const encLength = body.length + sum.length + data.length + w.inst.length + addr.length + (w.encLengthDelta ?? 0);
  return [
    indicator,
    ...(w.source ? [...varint(w.source[0]), ...varint(w.source[1])] : []),
    ...varint(encLength),
    ...body,
    ...sum,
    ...data,
    ...w.inst,
    ...addr,
  ];
}

export const MAGIC = [0xd6, 0xc3, 0xc4, 0x00];

export function file(windows: number[][], header: number[] = [0]): Uint8Array {
  return Uint8Array.from([...MAGIC, ...header, ...windows.flat()]);
}

const ascii = (s: string) => [...Buffer.from(s, "latin1")];

/** RFC 3284 §3's example: source and target. */
export const RFC_SOURCE = new Uint8Array(Buffer.from("abcdefghijklmnop"));
export const RFC_TARGET = new Uint8Array(Buffer.from("abcdwxyzefghefghefghefghzzzz"));

/** The example window as xdelta3 encodes it (COPY 4 S@0, ADD 8, COPY 12 T@8 overlapping, ADD 4). */
export function rfcWindow(extra: Partial<WindowSpec> = {}): number[] {
  return window({
    source: [4, 0],
    targetLength: 28,
    data: ascii("wxyzefghzzzz"),
    inst: [0x14, 0x09, 0x1c, 0x05],
    addr: [0x00, 0x0c],
    ...extra,
  });
}
