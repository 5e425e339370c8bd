/**
 * Mender Artifact v3: the public API (docs/artifact-library.md). Everything else in this directory
 * is an implementation detail.
 */
export { readArtifact, readArtifactHeaders } from "./reader";
export { NotAnArtifactError } from "./artifact-start";
export type { ArtifactHeaders, ArtifactInfo, PayloadFileInfo, PayloadHeader, PayloadSink, ReadArtifactOptions, StateScript } from "./reader";
export { stateScriptNameProblem, writeArtifact } from "./writer";
export type { ArtifactSpec, FileSpec, PayloadSpec, WriteOptions, WrittenArtifact } from "./writer";
export type { HeaderInfo, MetaData, TypeInfo } from "./headers";
export { COMPRESSIONS, compressionById, compressionsDefaultFirst, DEFAULT_ARTIFACT_COMPRESSION, isCompression } from "./compressions";
export type { ArtifactCompression, Compression, CompressionAlias, LevelRange } from "./compressions";
export { signManifest, verifyManifestSignature } from "./signature";
