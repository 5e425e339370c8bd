/**
 * The command-line model: the original's interface (-n -o -D, encoder flags after `-- --`), our
 * additions, and the usage errors (exit 2) for what cannot work.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { UsageError } from "../../src/errors";
import { parseDecoderArguments, parseEncoderArguments, protectValues, resolveOptions } from "../../src/generator";
import { runCli } from "./fixtures";

test("protectValues keeps values verbatim: leading zeros, values starting with '-', --opt=value, -oFILE", () => {
  const { argv, restore } = protectValues(["-n", "0123", "-D", "-B5 -W6", "--device-type=007", "-oout.mender", "a", "--", "--", "-9"]);
  assert.equal(argv.filter((a) => a.startsWith("-") && !["-n", "-D", "-o", "--", "-9"].includes(a) && !a.startsWith("--device-type=")).length, 0);
  assert.deepEqual(argv.slice(-3), ["--", "--", "-9"]);
  const restored = argv.map((a) => (a.startsWith("--device-type=") ? `--device-type=${restore(a.slice(14))}` : restore(a)));
  assert.deepEqual(restored, ["-n", "0123", "-D", "-B5 -W6", "--device-type=007", "-o", "out.mender", "a", "--", "--", "-9"]);
  const short = protectValues(["-D=-B5"]);
  assert.deepEqual(short.argv.map(short.restore), ["-D", "-B5"]);
});

test("decoder arguments: -B -W -P -I in every spelling; anything else is refused", () => {
  assert.deepEqual(parseDecoderArguments("-B524288000 -W 150000 -P262144 -I62768"), {
    words: ["-B524288000", "-W", "150000", "-P262144", "-I62768"], sourceBuffer: 524288000, inputWindow: 150000,
  });
  assert.deepEqual(parseDecoderArguments(undefined), { words: [] });
  assert.throws(() => parseDecoderArguments("-9"), /not a decoder memory option/);
  assert.throws(() => parseDecoderArguments("-Bmany"), /whole number/);
  assert.throws(() => parseDecoderArguments("-B1024"), /-B1024: the source buffer must be between 16384 and 2147483648 bytes/);
  assert.equal(parseDecoderArguments("-B2147483648").sourceBuffer, 2147483648);
  for (const big of ["-B2147483649", "-B4294967296", "-B99999999999999999999999"]) assert.throws(() => parseDecoderArguments(big), /between 16384 and 2147483648 bytes \(xdelta3's limits/, big);
  assert.throws(() => parseDecoderArguments("-W33554432"), /between 16384 and 16777216/);
  assert.throws(() => parseDecoderArguments("-P3000"), /power of two/);
  assert.throws(() => parseDecoderArguments("-B"), /needs a number/);
});

test("encoder arguments: level, window, -n; xdelta3 tuning flags are accepted and ignored", () => {
  assert.deepEqual(parseEncoderArguments(["-9", "-W", "1048576", "-n"]), { level: 9, window: 1048576, checksum: false, ignored: [] });
  assert.deepEqual(parseEncoderArguments(["-0"]).level, 1);
  assert.deepEqual(parseEncoderArguments(["-B524288000", "-S", "lzma", "-A", "-e", "-P262144", "-I62768"]).ignored, ["-B524288000", "-Slzma", "-A", "-e", "-P262144", "-I62768"]);
  assert.throws(() => parseEncoderArguments(["--bogus"]), UsageError);
});

test("resolveOptions: the documented usage; -W rounds to the encoder's 4 KiB windows and caps it", () => {
  const o = resolveOptions({ output: "d.mender", decoderArgs: "-B524288000 -W150000 -P65536 -I62768", "--": ["--", "-B524288000", "-W150000", "-P65536", "-I62768"] }, ["a.mender", "b.mender"]);
  assert.deepEqual(o.from, { kind: "artifact", path: "a.mender" });
  assert.deepEqual(o.to, { kind: "artifact", path: "b.mender" });
  assert.equal(o.windowSize, 147456);
  assert.deepEqual(o.decoderArguments, ["-B524288000", "-W150000", "-P65536", "-I62768"]);
  assert.equal(o.compression, "xz");
  assert.equal(o.checksum, true);
  assert.equal(resolveOptions({ output: "d", decoderArgs: "-W1048576" }, ["a", "b"]).windowSize, 1048576);
  assert.equal(resolveOptions({ output: "d" }, ["a", "b"]).windowSize, 8 << 20);
  assert.throws(() => resolveOptions({ output: "d", decoderArgs: "-W1048576", "--": ["--", "-W2097152"] }, ["a", "b"]), /larger than the device's input window/);
  assert.throws(() => resolveOptions({ output: "d", decoderArgs: "-W20000" }, ["a", "b"]), /below the encoder's smallest window/);
});

test("resolveOptions: raw images need a name and device types; mixing an Artifact and an image works", () => {
  const o = resolveOptions({ output: "d", toImage: "v2.ext4", artifactName: "r2", deviceType: ["x", "y"] }, ["r1.mender"]);
  assert.deepEqual([o.from.kind, o.to.kind, o.artifactName, o.deviceTypes], ["artifact", "image", "r2", ["x", "y"]]);
  assert.throws(() => resolveOptions({ output: "d", toImage: "v2.ext4", deviceType: "x" }, ["r1.mender"]), /needs --artifact-name/);
  assert.throws(() => resolveOptions({ output: "d", toImage: "v2.ext4", artifactName: "r2" }, ["r1.mender"]), /needs --device-type/);
  assert.throws(() => resolveOptions({ output: "d", deviceType: "x" }, ["a", "b"]), /for raw images only/);
  assert.throws(() => resolveOptions({ output: "d", name: "a", artifactName: "b" }, ["a", "b"]), /disagree/);
});

test("resolveOptions: wrong argument counts, no output, unknown compression, bad threads; xz is the default, lzma its alias", () => {
  assert.throws(() => resolveOptions({}, ["a", "b"]), /no output file/);
  assert.throws(() => resolveOptions({ output: "d" }, ["a"]), /expected FROM.mender and TO.mender/);
  assert.throws(() => resolveOptions({ output: "d" }, ["a", "b", "c"]), /got 3 argument/);
  assert.throws(() => resolveOptions({ output: "d", compression: "brotli" }, ["a", "b"]), /unknown/);
  assert.equal(resolveOptions({ output: "d", compression: "lzma" }, ["a", "b"]).compression, "xz");
  assert.equal(resolveOptions({ output: "d", compression: "gzip" }, ["a", "b"]).compression, "gzip");
  assert.throws(() => resolveOptions({ output: "d", threads: "0" }, ["a", "b"]), /1 to 256/);
  assert.throws(() => resolveOptions({ output: "d", xzBlockSize: "4095" }, ["a", "b"]), /--xz-block-size 4095: use 4096 to/);
  assert.equal(resolveOptions({ output: "d", xzBlockSize: "65536" }, ["a", "b"]).xzBlockSize, 65536);
  assert.throws(() => resolveOptions({ output: "d", "--": ["x", "--", "-9"] }, ["a", "b"]), /between '--' and '--'/);
  assert.equal(resolveOptions({ output: "d", compression: "none" }, ["a", "b"]).compression, "none");
});

test("resolveOptions: --compression-level per compressor (xz 0-9, gzip 0-9, zstd 1-19, none has none)", () => {
  assert.equal(resolveOptions({ output: "d" }, ["a", "b"]).compressionLevel, undefined);
  assert.equal(resolveOptions({ output: "d", compressionLevel: "2" }, ["a", "b"]).compressionLevel, 2);
  assert.equal(resolveOptions({ output: "d", compression: "zstd", compressionLevel: "19" }, ["a", "b"]).compressionLevel, 19);
  assert.throws(() => resolveOptions({ output: "d", compressionLevel: "10" }, ["a", "b"]), /--compression-level 10: xz takes 0 to 9/);
  assert.throws(() => resolveOptions({ output: "d", compression: "zstd", compressionLevel: "0" }, ["a", "b"]), /zstd takes 1 to 19/);
  assert.throws(() => resolveOptions({ output: "d", compression: "none", compressionLevel: "1" }, ["a", "b"]), /none has no levels/);
  assert.throws(() => resolveOptions({ output: "d", compressionLevel: "fast" }, ["a", "b"]), /whole number/);
});

test("CLI: usage errors exit 2 with a hint; --help has worked examples; --version", () => {
  const usage = runCli(["-o", "x.mender", "only-one.mender"]);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /expected FROM.mender and TO.mender[\s\S]*Run 'mender-binary-delta-generator --help'/);
  const unknown = runCli(["--frobnicate", "a", "b"]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown option '--frobnicate'/);
  const badD = runCli(["-o", "x", "-D", "-9", "a", "b"]);
  assert.equal(badD.status, 2);
  assert.match(badD.stderr, /'-9' is not a decoder memory option/);
  const help = runCli(["--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Examples:[\s\S]*-D "\$\{XDELTA_FLAGS\}"[\s\S]*--from-image/);
  const version = runCli(["--version"]);
  assert.match(version.stdout, /^mender-binary-delta-generator \d+\.\d+\.\d+/);
});
