/**
 * The one place the device program meets the VCDIFF decoder (src/vcdiff/decode.ts). The decoder
 * reads the source only through the BlockSource it is given, i.e. the O_DIRECT reader of the
 * active partition, in whole aligned blocks.
 */
export { decodeVcdiff as decodeDelta, type DecodeOptions } from "../vcdiff/decoder/decode";
