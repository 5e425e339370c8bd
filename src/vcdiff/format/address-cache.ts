/**
 * RFC 3284 §5.1-5.3 address caches ("near" ring of 4, "same" table of 3*256), reset at every window.
 * Addresses are kept in Float64Arrays: they reach source-segment length + window length (> 2^31).
 */
import { NEAR_SLOTS, SAME_CACHE_SIZE } from "./code-table";

/**
 * The "same" cache slot of an address: addr mod 3*256. `%` of a float64 compiles to a call into C
 * (the hottest line of the window executor's profile on a stock delta; 0.02-0.03 s of pair B's
 * decode); below 2^31, where every address of a window under 2 GiB lies, the int32 remainder is
 * the same number.
 */
export function sameSlot(addr: number): number {
  return addr <= 0x7fffffff ? (addr | 0) % SAME_CACHE_SIZE : addr % SAME_CACHE_SIZE;
}

export class AddressCache {
  readonly near = new Float64Array(NEAR_SLOTS);
  readonly same = new Float64Array(SAME_CACHE_SIZE);
  private nextSlot = 0;

  reset(): void {
    this.near.fill(0);
    this.same.fill(0);
    this.nextSlot = 0;
  }

  /** Records a decoded COPY address (both caches, as the encoder did). */
  update(addr: number): void {
    this.near[this.nextSlot] = addr;
    this.nextSlot = (this.nextSlot + 1) % NEAR_SLOTS;
    this.same[sameSlot(addr)] = addr;
  }
}
