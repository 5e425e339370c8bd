/**
 * The delta Artifact generator's public API (docs/generator.md): command-line model, the run, and
 * its summary. The CLI (src/cli/generator.ts) is a thin layer over these.
 */
export { DEFAULT_DELTA_COMPRESSION, protectValues, resolveOptions, parseDecoderArguments, parseEncoderArguments, VALUE_OPTIONS } from "./options";
export type { GeneratorOptions, InputSource, RawOptions } from "./options";
export { generateDelta, resumeWriting, SCRATCH_PREFIX } from "./generate";
export { isPrivateDirectory } from "./scratch-owner";
export type { EncodedDelta, GenerateHooks } from "./generate";
export { createProgress, NO_PROGRESS, phase, progressLine } from "../progress";
export type { Progress } from "../progress";
export { formatSummaryJson, formatSummaryText } from "./summary";
export type { GenerationSummary, ReleaseSummary } from "./summary";
export { ROOTFS_CLEARS, deltaArtifactSpec, deltaMetaData } from "./spec";
export { DELTA_PAYLOAD_TYPE } from "../delta/contract";
