/**
 * A small read-only ext2/3/4 reader for images and partitions (no mounting, no tools): the layout,
 * the byte ranges a read-write mount may rewrite by itself (the generator keeps its copies out of
 * them), and which files own some byte ranges (the device names them when a delta's source changed).
 */
export type { ByteRange } from "../io/byte-ranges";
export { type Ext4Layout, readExt4Layout } from "./ext4-layout";
export { type Ext4Owners, filesOwning } from "./ext4-owners";
export { volatileRanges } from "./ext4-volatile";
