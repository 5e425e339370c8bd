/**
 * A small read-only ext2/3/4 reader for images and partitions (no mounting, no tools): the layout,
 * the byte ranges a read-write mount may rewrite by itself (the generator keeps its copies out of
 * them), which files own some byte ranges (the device names them when a delta's source changed),
 * and every file with the bytes holding its content, paired across two images (the generator
 * diffs a changed file against its old version).
 */
export type { ByteRange } from "../io/byte-ranges";
export { type Ext4Layout, readExt4Layout, UnsupportedExt4Error } from "./ext4-layout";
export { type Ext4Owners, filesOwning } from "./ext4-owners";
export { volatileRanges } from "./ext4-volatile";
export { type Ext4FileList, Ext4FileReader, FILE_INLINE, HOLE, listExt4Files } from "./ext4-files";
export {
  type ContentHash,
  type FilePairs,
  type FileSide,
  PAIR_CONTENT,
  PAIR_NONE,
  PAIR_PATH,
  PAIR_RULE_NAMES,
  PAIR_VERSION,
  pairFiles,
  type PairableFiles,
  versionlessPath,
} from "./file-pairing";
