import { readFileSync } from "node:fs";
import path from "node:path";

// Replaced by build.mjs (esbuild `define`) with the package version.
declare const __APP_VERSION__: string;

/** The package version; read from package.json when running from source. */
export const VERSION: string =
  typeof __APP_VERSION__ === "undefined"
    ? (JSON.parse(readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as { version: string }).version
    : __APP_VERSION__;
