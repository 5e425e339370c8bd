/**
 * The device side of the benchmarks: the Update Module program under test, a delta Artifact's
 * payload as the client hands it to the module, and one whole Download
 * (test/reliability/measured-download.ts) checked to have written the image it must.
 */
import fs from "node:fs";
import path from "node:path";
import { readArtifact, type MetaData } from "../../../src/artifact";
import { moduleCommand, sha256File } from "../../device/fixtures";
import { dropCached, measuredDownload, sourceReadsPerByte, type DownloadCase } from "../../reliability/measured-download";

/**
 * The module: $DIST (default dist)/x86_64/mender-binary-delta when built, else the bundled
 * source; or `built`, another build's module (the formats bench's baseline release). The binary is
 * copied into a new directory in `dir`: its cached pages are dropped before each run (as on a
 * device after boot) without touching dist/.
 */
export function moduleUnderTest(dir: string, built = path.join(process.env.DIST ?? path.join(__dirname, "..", "..", "..", "dist"), "x86_64", "mender-binary-delta")): string[] {
  if (!fs.existsSync(built)) return moduleCommand();
  const copy = path.join(fs.mkdtempSync(path.join(dir, "module-")), "mender-binary-delta");
  fs.copyFileSync(built, copy);
  fs.chmodSync(copy, 0o755);
  dropCached(copy);
  return [copy];
}

export interface DeviceRun {
  wall: number;
  /** User plus system CPU seconds. */
  cpu: number;
  peakMiB: number;
  /** Source bytes read per target byte written, as the module logs it. */
  readsPerByte?: number;
}

/** One Download in `dir` (created, then removed); throws unless it succeeded and partition B holds the target. */
export async function verifiedDownload(dir: string, c: DownloadCase, module: string[]): Promise<DeviceRun> {
  const r = await measuredDownload(dir, c, module);
  try {
    if (r.status !== 0) throw new Error(`module Download failed: ${r.stderr}`);
    if (sha256File(r.partB, c.targetBytes) !== c.targetChecksum) throw new Error("module wrote the wrong image");
    return { wall: r.seconds, cpu: r.cpu, peakMiB: r.peakMiB, readsPerByte: sourceReadsPerByte(r.stderr) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A delta Artifact's one payload file and its meta-data, read (and checked) by our Artifact reader. */
export async function deltaPayload(artifact: string): Promise<{ delta: Uint8Array; metaData: MetaData }> {
  const chunks: Uint8Array[] = [];
  let metaData: MetaData | null = null;
  await readArtifact(artifact, {
    onHeaders(h) {
      if (h.payloads.length !== 1) throw new Error(`${artifact}: ${h.payloads.length} payloads, a delta Artifact has one`);
      metaData = h.payloads[0]!.metaData;
    },
    onPayloadFile: () => ({ write: (c: Uint8Array) => void chunks.push(c.slice()) }),
  });
  return { delta: new Uint8Array(Buffer.concat(chunks)), metaData: metaData ?? {} };
}
