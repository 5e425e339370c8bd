/**
 * Adler-32 in WebAssembly SIMD: the decoder checksums every byte it writes, and a 32-byte vector
 * step is several times faster than V8's best scalar loop (the device's hot path). The module is
 * 480 bytes, assembled here from readable mnemonics so no build step or binary blob is needed.
 * When the runtime lacks wasm SIMD (`WebAssembly.validate` fails), callers use the scalar code.
 *
 * wasm code reads only its own memory, so bytes elsewhere are copied in, a chunk at a time. The
 * module imports its memory, so a buffer can also live in a memory of its own and be summed where
 * it is: the decoder's target window is such a buffer (the copy was a tenth of a decode's CPU).
 *
 * Per chunk of at most 5552 bytes (zlib's NMAX: b stays below 2^32), in blocks of 32 bytes (two
 * vectors), with W = [32, 31, .., 1]:
 *   vs1 += byte sums of each block                    (a's increase)
 *   vps += vs1 before each block                      (32 * vps: earlier blocks counted again)
 *   vs2 += W-weighted byte sums of each block         (bytes within their block)
 *   a += sum(vs1);  b += n * a0 + 32 * sum(vps) + sum(vs2)
 * A block's byte sums and weighted sums are added as 16-bit lanes (at most 1020 and 255 * 80)
 * before one widening each: fewer vector steps per byte than 16-byte blocks widened one by one.
 */

const MOD = 65521;
/** Bytes copied into wasm memory per call; the memory is one 64 KiB page. */
export const SIMD_CHUNK = 65536;

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const tee = (i: number) => [0x22, i];
const i32 = (v: number) => [0x41, ...sleb(v)];
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_MUL = 0x6c;
const I32_REM_U = 0x70;
const I32_AND = 0x71;
const I32_OR = 0x72;
const I32_SHL = 0x74;
const I32_SHR_U = 0x76;
const I32_LT_U = 0x49;
const I32_EQZ = 0x45;
const SELECT = 0x1b;
const I32_LOAD8_U = [0x2d, 0x00, 0x00];
const simd = (op: number) => [0xfd, ...uleb(op)];
const V128_LOAD = (offset: number) => [...simd(0x00), 0x00, ...uleb(offset)];
const V128_CONST = (bytes: number[]) => [...simd(0x0c), ...bytes];
const I32X4_ADD = simd(0xae);
const I16X8_ADD = simd(0x8e);
const I16X8_EXTADD_PAIRWISE_I8X16_U = simd(0x7d);
const I32X4_EXTADD_PAIRWISE_I16X8_U = simd(0x7f);
const I16X8_EXTMUL_LOW_I8X16_U = simd(0x9e);
const I16X8_EXTMUL_HIGH_I8X16_U = simd(0x9f);
const I32X4_EXTRACT_LANE = (lane: number) => [...simd(0x1b), lane];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = 0x0b;
const BR = (depth: number) => [0x0c, depth];
const BR_IF = (depth: number) => [0x0d, depth];

// Locals: params (ptr, len, init), then i32 a, b, blocks, n and v128 vs1, vs2, vps, v, v2.
const PTR = 0;
const LEN = 1;
const INIT = 2;
const A = 3;
const B = 4;
const BLOCKS = 5;
const N = 6;
const VS1 = 7;
const VS2 = 8;
const VPS = 9;
const V = 10;
const V2 = 11;
const WEIGHTS_FIRST = Array.from({ length: 16 }, (_, j) => 32 - j);
const WEIGHTS_SECOND = Array.from({ length: 16 }, (_, j) => 16 - j);
const hsum = (l: number) => [
  ...get(l), ...I32X4_EXTRACT_LANE(0),
  ...get(l), ...I32X4_EXTRACT_LANE(1), I32_ADD,
  ...get(l), ...I32X4_EXTRACT_LANE(2), I32_ADD,
  ...get(l), ...I32X4_EXTRACT_LANE(3), I32_ADD,
];

/** adler(ptr, len, init) -> adler32 of memory[ptr, ptr + len) continuing from `init`. */
const BODY = [
  0x02, 0x04, 0x7f, 0x05, 0x7b, // locals: 4 x i32, 5 x v128
  ...get(INIT), ...i32(0xffff), I32_AND, ...set(A),
  ...get(INIT), ...i32(16), I32_SHR_U, ...set(B),
  ...BLOCK, ...LOOP, // while (len >= 32)
  ...get(LEN), ...i32(32), I32_LT_U, ...BR_IF(1),
  // n = min(len, 5552) rounded down to 32; blocks = n / 32; len -= n; b += n * a
  ...get(LEN), ...i32(5552), ...get(LEN), ...i32(5552), I32_LT_U, SELECT, ...i32(-32), I32_AND, ...tee(N),
  ...i32(5), I32_SHR_U, ...set(BLOCKS),
  ...get(LEN), ...get(N), I32_SUB, ...set(LEN),
  ...get(B), ...get(N), ...get(A), I32_MUL, I32_ADD, ...set(B),
  ...V128_CONST(new Array<number>(16).fill(0)), ...tee(VS1), ...tee(VS2), ...set(VPS),
  ...LOOP, // for each 32-byte block
  ...get(PTR), ...V128_LOAD(0), ...set(V),
  ...get(PTR), ...V128_LOAD(16), ...set(V2),
  ...get(VPS), ...get(VS1), ...I32X4_ADD, ...set(VPS),
  ...get(VS1),
  ...get(V), ...I16X8_EXTADD_PAIRWISE_I8X16_U, ...get(V2), ...I16X8_EXTADD_PAIRWISE_I8X16_U, ...I16X8_ADD,
  ...I32X4_EXTADD_PAIRWISE_I16X8_U, ...I32X4_ADD, ...set(VS1),
  ...get(VS2),
  ...get(V), ...V128_CONST(WEIGHTS_FIRST), ...I16X8_EXTMUL_LOW_I8X16_U,
  ...get(V), ...V128_CONST(WEIGHTS_FIRST), ...I16X8_EXTMUL_HIGH_I8X16_U, ...I16X8_ADD,
  ...get(V2), ...V128_CONST(WEIGHTS_SECOND), ...I16X8_EXTMUL_LOW_I8X16_U, ...I16X8_ADD,
  ...get(V2), ...V128_CONST(WEIGHTS_SECOND), ...I16X8_EXTMUL_HIGH_I8X16_U, ...I16X8_ADD,
  ...I32X4_EXTADD_PAIRWISE_I16X8_U, ...I32X4_ADD, ...set(VS2),
  ...get(PTR), ...i32(32), I32_ADD, ...set(PTR),
  ...get(BLOCKS), ...i32(1), I32_SUB, ...tee(BLOCKS), ...BR_IF(0),
  END,
  ...get(A), ...hsum(VS1), I32_ADD, ...i32(MOD), I32_REM_U, ...set(A),
  ...get(B), ...hsum(VPS), ...i32(5), I32_SHL, I32_ADD, ...hsum(VS2), I32_ADD, ...i32(MOD), I32_REM_U, ...set(B),
  ...BR(0),
  END, END,
  ...BLOCK, ...LOOP, // the last < 32 bytes one at a time
  ...get(LEN), I32_EQZ, ...BR_IF(1),
  ...get(A), ...get(PTR), ...I32_LOAD8_U, I32_ADD, ...tee(A), ...get(B), I32_ADD, ...set(B),
  ...get(PTR), ...i32(1), I32_ADD, ...set(PTR),
  ...get(LEN), ...i32(1), I32_SUB, ...set(LEN),
  ...BR(0),
  END, END,
  ...get(A), ...i32(MOD), I32_REM_U, ...get(B), ...i32(MOD), I32_REM_U, ...i32(16), I32_SHL, I32_OR,
  END,
];

const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
const name = (s: string) => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];

const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  ...section(1, [1, 0x60, 3, 0x7f, 0x7f, 0x7f, 1, 0x7f]), // type: (i32, i32, i32) -> i32
  ...section(2, [1, ...name("env"), ...name("mem"), 2, 0, 1]), // imports env.mem, a memory of >= 1 page
  ...section(3, [1, 0]), // one function of that type
  ...section(7, [1, ...name("adler"), 0, 0]),
  ...section(10, [1, ...uleb(BODY.length), ...BODY]),
]);

/** The lib settings carry no WebAssembly types; these are the parts used here. */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface Wasm {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Instance: new (module: object, imports: { env: { mem: WasmMemory } }) => { exports: { adler: AdlerExport } };
}
type AdlerExport = (ptr: number, len: number, init: number) => number;

export type Adler32Continue = (data: Uint8Array, start: number, end: number, initial: number) => number;

export interface SimdAdler32 {
  /** Adler-32 of data[start, end) continuing from `initial`, wherever the bytes are. */
  checksum: Adler32Continue;
  /**
   * A zeroed buffer of `size` bytes in a wasm memory of its own, which `checksum` sums in place
   * (no copy); null when the runtime cannot reserve one (the caller then uses a plain array).
   */
  allocate(size: number): Uint8Array<ArrayBuffer> | null;
}

const PAGE = 65536;

/** The SIMD Adler-32, or null when this runtime has no wasm SIMD. */
export function createSimdAdler32(): SimdAdler32 | null {
  const wasm = (globalThis as unknown as { WebAssembly?: Wasm }).WebAssembly;
  if (!wasm || !wasm.validate(MODULE)) return null;
  const module = new wasm.Module(MODULE);
  const instantiate = (memory: WasmMemory): AdlerExport => new wasm.Instance(module, { env: { mem: memory } }).exports.adler;
  const staging = new wasm.Memory({ initial: SIMD_CHUNK / PAGE });
  const stagingAdler = instantiate(staging);
  const stagingBytes = new Uint8Array(staging.buffer, 0, SIMD_CHUNK);
  // The memories of allocate's buffers, each with its instance's function. Never grown, so a
  // memory's ArrayBuffer stays the same (growing would replace it) and identifies the buffer.
  const inPlace = new WeakMap<ArrayBuffer, AdlerExport>();
  return {
    checksum(data, start, end, initial) {
      const adler = inPlace.get(data.buffer as ArrayBuffer);
      if (adler !== undefined) return adler(data.byteOffset + start, end - start, initial) >>> 0;
      let sum = initial;
      for (let p = start; p < end; p += SIMD_CHUNK) {
        const n = Math.min(SIMD_CHUNK, end - p);
        stagingBytes.set(data.subarray(p, p + n), 0);
        sum = stagingAdler(0, n, sum);
      }
      return sum >>> 0;
    },
    allocate(size) {
      let memory: WasmMemory;
      try {
        memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(size / PAGE)) });
      } catch {
        return null; // address space or memory limits: a plain array does the same job
      }
      inPlace.set(memory.buffer, instantiate(memory));
      return new Uint8Array(memory.buffer, 0, size);
    },
  };
}
