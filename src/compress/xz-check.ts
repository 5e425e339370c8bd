/** The integrity check of an xz block: computes it over the decompressed bytes and compares. */
import { createHash, type Hash } from "node:crypto";
import { crc32 } from "./crc32.js";
import { Crc64 } from "./crc64.js";

export const CHECK_NONE = 0;
export const CHECK_CRC32 = 1;
export const CHECK_CRC64 = 4;
export const CHECK_SHA256 = 10;

/** Size in bytes of the check field for each of the 16 check IDs the xz format reserves. */
export function checkSize(id: number): number {
  return id === 0 ? 0 : 4 << Math.floor((id - 1) / 3);
}

export function checkName(id: number): string {
  switch (id) {
    case CHECK_NONE:
      return "none";
    case CHECK_CRC32:
      return "CRC32";
    case CHECK_CRC64:
      return "CRC64";
    case CHECK_SHA256:
      return "SHA-256";
    default:
      return `check ID ${id}`;
  }
}

export function isSupportedCheck(id: number): boolean {
  return id === CHECK_NONE || id === CHECK_CRC32 || id === CHECK_CRC64 || id === CHECK_SHA256;
}

/** One block's running check. */
export class BlockCheck {
  private crc = 0;
  private crc64: Crc64 | null = null;
  private sha: Hash | null = null;

  constructor(readonly id: number) {
    if (id === CHECK_CRC64) this.crc64 = new Crc64();
    else if (id === CHECK_SHA256) this.sha = createHash("sha256");
  }

  update(data: Uint8Array, start: number, end: number): void {
    if (start >= end) return;
    switch (this.id) {
      case CHECK_CRC32:
        this.crc = crc32(data, this.crc, start, end);
        break;
      case CHECK_CRC64:
        this.crc64!.update(data, start, end);
        break;
      case CHECK_SHA256:
        this.sha!.update(data.subarray(start, end));
        break;
    }
  }

  /** The value the block's check field must hold (length `checkSize(id)`). */
  digest(): Uint8Array {
    const out = new Uint8Array(checkSize(this.id));
    if (this.id === CHECK_CRC32) {
      out[0] = this.crc & 0xff;
      out[1] = (this.crc >>> 8) & 0xff;
      out[2] = (this.crc >>> 16) & 0xff;
      out[3] = this.crc >>> 24;
    } else if (this.crc64) this.crc64.digestInto(out);
    else if (this.sha) out.set(this.sha.digest());
    return out;
  }
}
