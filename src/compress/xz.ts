/**
 * The xz / LZMA2 codec's public API. Decoding: `XzDecoder` for incremental use (xdelta3's LZMA
 * secondary compression: a never-ending stream pulled N bytes at a time) and
 * `createXzDecompressStream` for whole .xz files. Failures are `XzError` (a MenderDeltaError).
 */
export { XzDecoder, type XzDecoderOptions } from "./xz-decoder.js";
export { createXzDecompressStream } from "./xz-stream.js";
export { XzError, type XzErrorKind } from "./xz-error.js";
// Encoding: `createXzCompressStream` (a Transform) or `XzEncoder` (push-style).
export { createXzCompressStream, XzEncoder, XZ_DEFAULT_DICT, type XzEncoderOptions } from "./xz-encoder.js";
export { createXzParallelStream, xzPartSizeFor, type XzParallelOptions } from "./xz-parallel-stream.js";
export { xzPreset, XZ_MAX_PRESET, XZ_MIN_PRESET } from "./xz-presets.js";
