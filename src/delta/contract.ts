/**
 * The delta Artifact's contract: what the generator writes and the Update Module reads. Both sides
 * import these names, so the format is spelled in one place (docs/generator.md, "The delta
 * Artifact", describes it for people).
 *
 * - payload type `mender-binary-delta`, one payload file `<TO image>.delta`;
 * - type-info depends on the source image's checksum and provides the new image's, under either
 *   spelling of the checksum key;
 * - meta-data: the algorithm, the decoder's arguments and the sizes of both images.
 */

/** The payload type, which is also the name of the Update Module that installs it. */
export const DELTA_PAYLOAD_TYPE = "mender-binary-delta";
/** The payload type of the full Artifacts a delta is made between. */
export const ROOTFS_IMAGE_PAYLOAD_TYPE = "rootfs-image";

/** The delta file's name: the new image's file name plus this. */
export const DELTA_FILE_SUFFIX = ".delta";

/**
 * The two spellings of the image checksum in depends/provides: the current one, and the legacy one
 * of old Artifacts. A reader accepts either; a writer keeps the spelling its input used.
 */
export const CHECKSUM_KEYS = ["rootfs-image.checksum", "rootfs_image_checksum"] as const;
export const DEFAULT_CHECKSUM_KEY = CHECKSUM_KEYS[0];

/** Meta-data keys of the delta payload. */
export const META = {
  /** The delta algorithm's id (ALGORITHM_IDS); absent means xdelta3, as Mender's own tooling writes. */
  algorithm: "delta_algorithm",
  /** Decoder flags for the device as given to the generator's -D (xdelta3's -B -W -P -I). */
  decoderArguments: "decoder_arguments",
  /** The size of the image the delta produces (some of Mender's docs use it for the source's). */
  targetSize: "rootfs_file_size",
  /** The size of the image the delta reads: the device hashes that many bytes of its active partition. */
  sourceSize: "source_rootfs_file_size",
} as const;

/** Delta algorithms by the id written in meta-data `delta_algorithm`. */
export const ALGORITHM_IDS = {
  /** VCDIFF (RFC 3284) with xdelta3's extensions: what stock `xdelta3 -e` and our encoder write. */
  xdelta3: "xdelta3",
  /** The file-aware delta format, version 1 (docs/file-delta-format.md; decoder in delta/mbdf/). */
  mbdf1: "mbdf1",
} as const;
export type AlgorithmId = (typeof ALGORITHM_IDS)[keyof typeof ALGORITHM_IDS];
/** The algorithm of a delta whose meta-data names none. */
export const DEFAULT_ALGORITHM: AlgorithmId = ALGORITHM_IDS.xdelta3;
