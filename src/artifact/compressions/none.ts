/** Uncompressed inner tars (`header.tar`, `data/0000.tar`): every client reads them. */
import { PassThrough } from "node:stream";
import type { ArtifactCompression } from "./artifact-compression";

export const none: ArtifactCompression<"none"> = {
  id: "none",
  suffix: "",
  aliases: [],
  createReader: () => new PassThrough(),
  createWriter: () => new PassThrough(),
};
