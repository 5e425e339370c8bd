/**
 * One target window's delta program as the matcher chose it, before it is encoded: parallel typed
 * arrays (no object per instruction), appended in target order and covering the window exactly.
 */

/** Literal bytes, taken from the target window itself at `pos`. */
export const KIND_ADD = 1;
/** `size` copies of the target byte at window offset `pos`. */
export const KIND_RUN = 2;
/** Bytes from the source (old image) at absolute position `pos`. */
export const KIND_COPY_SOURCE = 3;
/** Bytes from earlier in this target window at window offset `pos` (may overlap the output). */
export const KIND_COPY_TARGET = 4;

export class InstructionList {
  kind: Uint8Array;
  size: Uint32Array;
  /** Float64 because source positions of multi-GB images exceed 2^32 in principle. */
  pos: Float64Array;
  count = 0;

  constructor(capacity = 1024) {
    this.kind = new Uint8Array(capacity);
    this.size = new Uint32Array(capacity);
    this.pos = new Float64Array(capacity);
  }

  clear(): void {
    this.count = 0;
  }

  push(kind: number, size: number, pos: number): void {
    if (this.count === this.kind.length) this.grow();
    const i = this.count++;
    this.kind[i] = kind;
    this.size[i] = size;
    this.pos[i] = pos;
  }

  private grow(): void {
    const cap = this.kind.length * 2;
    const kind = new Uint8Array(cap); kind.set(this.kind); this.kind = kind;
    const size = new Uint32Array(cap); size.set(this.size); this.size = size;
    const pos = new Float64Array(cap); pos.set(this.pos); this.pos = pos;
  }
}
