/**
 * The VCDIFF format's numbers (RFC 3284 §4 plus xdelta3's extensions), shared by the decoder, which
 * checks them, and the encoder, which writes them: defined once here.
 */
export const MAGIC = [0xd6, 0xc3, 0xc4] as const;

/** Hdr_Indicator bits. */
export const VCD_DECOMPRESS = 0x01;
export const VCD_CODETABLE = 0x02;
export const VCD_APPHEADER = 0x04;

/** Win_Indicator bits. */
export const VCD_SOURCE = 0x01;
export const VCD_TARGET = 0x02;
export const VCD_ADLER32 = 0x04;

/** Delta_Indicator bits: which sections went through the secondary compressor. */
export const VCD_DATACOMP = 0x01;
export const VCD_INSTCOMP = 0x02;
export const VCD_ADDRCOMP = 0x04;

/** xdelta3's secondary compressor ids (not IANA-registered). */
export const SECONDARY_DJW = 1;
export const SECONDARY_LZMA = 2;
export const SECONDARY_FGK = 16;
