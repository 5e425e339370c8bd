import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import { Rng } from "../vcdiff/helpers";
import { BCJ_ARCHES, type BcjArch, bcjFilter } from "../../src/compress/bcj";

/** xz's own filtered bytes: compress raw with the filter + LZMA2, then undo the LZMA2 alone. */
function xzFiltered(arch: BcjArch, data: Uint8Array): Buffer | null {
  const packed = spawnSync("xz", ["--format=raw", `--${arch}`, "--lzma2=preset=0", "-c"], { input: data, maxBuffer: 1 << 28 });
  if (packed.status !== 0) return null;
  const py = "import lzma,sys; sys.stdout.buffer.write(lzma.decompress(sys.stdin.buffer.read(), format=lzma.FORMAT_RAW, filters=[{'id': lzma.FILTER_LZMA2, 'preset': 0}]))";
  return execFileSync("python3", ["-c", py], { input: packed.stdout, maxBuffer: 1 << 28 });
}


/** Inputs that exercise each filter: real code, random bytes rich in opcodes, edge sizes. */
function inputs(): Uint8Array[] {
  const rng = new Rng(11);
  const next = (): number => rng.next() / 2 ** 32;
  const out: Uint8Array[] = [new Uint8Array(0), new Uint8Array(3), Uint8Array.from([0xe8, 0, 0, 0, 0])];
  out.push(new Uint8Array(fs.readFileSync(process.execPath).subarray(0, 1 << 20)));
  for (const f of ["/usr/bin/qemu-aarch64-static", "/usr/bin/qemu-arm-static"]) {
    if (fs.existsSync(f)) out.push(new Uint8Array(fs.readFileSync(f).subarray(0, 1 << 20)));
  }
  for (const lib of ["/usr/aarch64-linux-gnu/lib/libc.so.6", "/usr/arm-linux-gnueabihf/lib/libc.so.6"]) {
    if (fs.existsSync(lib)) out.push(new Uint8Array(fs.readFileSync(lib)));
  }
  // Dense opcode soup: every filter's trigger bytes, 0x00/0xFF address tops, runs of E8.
  const soup = new Uint8Array(200_000);
  const alphabet = [0xe8, 0xe9, 0x00, 0xff, 0xeb, 0xf0, 0xf8, 0x94, 0x97, 0x90, 0x12];
  for (let i = 0; i < soup.length; i++) soup[i] = next() < 0.7 ? alphabet[Math.floor(next() * alphabet.length)]! : Math.floor(next() * 256);
  out.push(soup);
  return out;
}

for (const arch of BCJ_ARCHES) {
  test(`${arch}: encode equals xz --${arch}, decode restores the input`, (t) => {
    let compared = 0;
    for (const input of inputs()) {
      const encoded = input.slice();
      bcjFilter(arch, encoded, true);
      const reference = xzFiltered(arch, input);
      if (reference === null) {
        if (process.env.REQUIRE_PEERS === "1") assert.fail(`xz --${arch} is not available`);
        t.skip(`xz has no --${arch} here`);
        return;
      }
      assert.ok(Buffer.from(encoded).equals(reference), `${arch}: our filter differs from xz on a ${input.length}-byte input`);
      compared++;
      const decoded = encoded.slice();
      bcjFilter(arch, decoded, false);
      assert.ok(Buffer.from(decoded).equals(Buffer.from(input)), `${arch}: decode does not restore a ${input.length}-byte input`);
    }
    assert.ok(compared >= 5);
  });
}

test("a start offset shifts the addresses as xz's start offset does", () => {
  const input = new Uint8Array(fs.readFileSync(process.execPath).subarray(4096, 4096 + 65536));
  for (const arch of BCJ_ARCHES) {
    const whole = new Uint8Array(fs.readFileSync(process.execPath).subarray(0, 4096 + 65536));
    bcjFilter(arch, whole, true);
    const part = input.slice();
    bcjFilter(arch, part, true, 4096);
    // Instructions that straddle offset 4096 may differ; the rest must match.
    assert.ok(Buffer.from(part.subarray(16)).equals(Buffer.from(whole.subarray(4096 + 16))), arch);
  }
});
