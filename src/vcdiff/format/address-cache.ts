/**
 * RFC 3284 §5.1-5.3 address caches ("near" ring of 4, "same" table of 3*256), reset at every window.
 * Addresses are kept in Float64Arrays: they reach source-segment length + window length (> 2^31).
 */
import { NEAR_SLOTS, SAME_CACHE_SIZE } from "./code-table";

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
    this.same[addr % SAME_CACHE_SIZE] = addr;
  }
}
