/**
 * The generators of the Debian packages' documentation, without building anything:
 * targets/manpage.mjs (a man page from a --help text) on a help made for it and on both programs'
 * real help, run from source; targets/copyright.mjs (the DEP-5 copyright file) on a small Node.js
 * LICENSE laid out like the real one. test/shipping/deb.test.ts checks the files in the packages.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { hasTool } from "../helpers/peers";

const ROOT = path.resolve(__dirname, "../..");
const LOADER = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

interface ManPage { helpToMan(help: string, opts: { date: string; source?: string }): string }
interface Copyright {
  parseNodeLicense(text: string): { own: string; components: Array<{ name: string; location: string; text: string }> };
  replaceApacheText(text: string): { text: string; apache: boolean; only: boolean };
  copyrightLines(text: string): string[];
  debianCopyright(o: { upstream: string; nodeVersion: string; nodeLicense: string; bundled: Array<{ name: string; version: string; license: string; text: string }> }): string;
}
const load = async <T>(file: string) => (await import(pathToFileURL(path.join(ROOT, "targets", file)).href)) as T;

const HELP = `prog 1.2.3
Does one thing well.

Usage:
  prog [options] IN OUT
      [-- FLAGS]
  prog selftest        check that it runs here
  prog -v, --version   print the version

Options:
  -o, --output FILE    where the result goes; a path
                       or '-'
  --root-mount rw|ro
                       how the root is mounted
  -q                   quiet

Examples:
  # Two steps
  prog -o out \\
      in

Notes: a backslash \\ and a line that
.starts with a dot stay text.

Exit codes: 0 success, 1 failure.

More: man prog; docs/prog.md in the source repository.
`;

test("helpToMan: sections, lists of terms, examples as they stand, roff escapes", async () => {
  const { helpToMan } = await load<ManPage>("manpage.mjs");
  const roff = helpToMan(HELP, { date: "2023-11-14", source: "project 1.2.3" });
  const lines = roff.split("\n");
  assert.equal(lines[0], '.TH "PROG" "1" "2023-11-14" "project 1.2.3" "User Commands"');
  assert.deepEqual(lines.filter((l) => l.startsWith(".SH")), [".SH NAME", '.SH "SYNOPSIS"', '.SH "DESCRIPTION"', '.SH "OPTIONS"',
    '.SH "EXIT STATUS"', '.SH "EXAMPLES"', '.SH "SEE ALSO"']);
  assert.ok(lines.includes("prog \\- Does one thing well"));
  // Usage: a form without a description (its wrapped line continues it), forms with one.
  assert.match(roff, /\.TP\n\.B "prog \[options\] IN OUT \[\\-\\- FLAGS\]"\n\.TP\n\.B "prog selftest"\ncheck that it runs here\n/);
  assert.match(roff, /\.TP\n\.B "prog \\-v, \\-\\-version"\nprint the version\n/);
  // Options: descriptions on the term's line or the next, continued lines joined by roff.
  assert.match(roff, /\.TP\n\.B "\\-o, \\-\\-output FILE"\nwhere the result goes; a path\nor \\\(aq\\-\\\(aq\n/);
  assert.match(roff, /\.TP\n\.B "\\-\\-root\\-mount rw\|ro"\nhow the root is mounted\n/);
  assert.match(roff, /\.TP\n\.B "\\-q"\nquiet\n/);
  assert.match(roff, /\.nf\n# Two steps\nprog \\-o out \\e\n {4}in\n\.fi\n/);
  assert.match(roff, /\.PP\nNotes: a backslash \\e and a line that\n\\&\.starts with a dot stay text\.\n/);
  assert.match(roff, /\.SH "EXIT STATUS"\n\.PP\n0 success, 1 failure\.\n/);
  assert.match(roff, /\.SH "SEE ALSO"\n\.PP\nman prog; \\%docs\/prog\.md in the source repository\.\n$/);
  if (hasTool("man")) {
    const dir = mkdtempSync(path.join(tmpdir(), "mbd-man-"));
    try {
      writeFileSync(path.join(dir, "prog.1"), roff);
      const r = spawnSync("man", ["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path.join(dir, "prog.1")], { encoding: "utf8" });
      assert.equal(r.stderr, "");
      assert.equal(r.status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test("helpToMan: an indented block that is not a list of terms stays as it is; a help without its title line is refused", async () => {
  const { helpToMan } = await load<ManPage>("manpage.mjs");
  const roff = helpToMan("p 1.0\nSummary.\n\nLayout:\n  a    b\n    c\n  dd  e\n", { date: "2023-11-14" });
  assert.match(roff, /\.SH "LAYOUT"\n\.PP\n\.nf\na {4}b\n {2}c\ndd {2}e\n\.fi\n/);
  assert.match(roff, /^\.TH "P" "1" "2023-11-14" "p 1\.0" "User Commands"\n/);
  assert.throws(() => helpToMan("Usage:\n  p\n", { date: "2023-11-14" }), /must start with "<program> <version>"/);
});

for (const program of ["device", "generator"] as const) {
  test(`helpToMan on ${program}'s real help: every usage form and option is a term of the page`, { timeout: 120_000 }, async () => {
    const { helpToMan } = await load<ManPage>("manpage.mjs");
    const r = spawnSync(process.execPath, ["--import", LOADER, path.join(ROOT, "src", "cli", `${program}.ts`), "--help"], { encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const roff = helpToMan(r.stdout, { date: "2023-11-14" });
    const terms = roff.split("\n").filter((l) => l.startsWith(".B ")).map((l) => l.slice(4, -1).replace(/\\-/g, "-").replace(/\\%/g, "").replace(/\\\(aq/g, "'"));
    const help = r.stdout.split("\n");
    const usage = help.slice(help.indexOf("Usage:") + 1, help.indexOf("", help.indexOf("Usage:")));
    const entries = [
      ...usage.map((l) => /^ {2}(mender-binary-delta\S* .*?)(?: {2,}|$)/.exec(l)?.[1]),
      ...help.map((l) => /^ {2}(-[^ ].*?)(?: {2,}|$)/.exec(l)?.[1]),
    ].filter((e): e is string => e !== undefined);
    assert.ok(entries.length >= 10, entries.join("\n"));
    for (const e of entries) assert.ok(terms.some((term) => term.startsWith(e)), `'${e}' is not a term of the page:\n${terms.join("\n")}`);
    const name = program === "device" ? "mender-binary-delta" : "mender-binary-delta-generator";
    assert.ok(roff.includes(`.SH "SEE ALSO"\n.PP\nman \\%${name} (installed by the Debian package)`), "the help's closing pointers are SEE ALSO");
  });
}

/**
 * A LICENSE laid out as Node.js's: its own license, then the list of components (OpenSSL's text
 * is the Apache License's terms alone, as in Node.js's).
 */
function nodeLicense(apache: string): string {
  const quoted = (text: string) => `  """\n${text.split("\n").map((l) => (l === "" ? "" : `    ${l}`)).join("\n")}\n  """\n`;
  return `Node.js is licensed for use as follows:

"""
Copyright Node.js contributors. All rights reserved.
Permission is hereby granted.
"""

The Node.js license applies to all parts of Node.js that are not externally
maintained libraries.

The externally maintained libraries used by Node.js are:

- minizip, located at deps/zlib/contrib/minizip, is licensed as follows:
${quoted("Copyright (C) 1998-2010 Gilles Vollant")}
- zlib, located at deps/zlib, is licensed as follows:
${quoted("Copyright (C) 1995-2024 Jean-loup Gailly and Mark Adler\n\nThis software is provided 'as-is'.")}
- OpenSSL, located at deps/openssl/, is licensed as follows:
${quoted(apache.slice(0, apache.indexOf("END OF TERMS AND CONDITIONS") + 27))}
- Punycode.js, located at lib/punycode.js, is licensed as follows:
${quoted("COPYRIGHT AND PERMISSION NOTICE\nCopyright Mathias Bynens <https://mathiasbynens.be/>\n\nThe copyright notice shall be included.\n\nAlso under:\n\n" + apache)}
`;
}

test("parseNodeLicense: Node.js's own license and each component with its place and text; a changed layout is an error", async () => {
  const { parseNodeLicense } = await load<Copyright>("copyright.mjs");
  const apache = readFileSync(path.join(ROOT, "LICENSE"), "utf8");
  const parsed = parseNodeLicense(nodeLicense(apache));
  assert.match(parsed.own, /^"""\nCopyright Node\.js contributors\. All rights reserved\.\n/);
  assert.deepEqual(parsed.components.map((c) => [c.name, c.location]), [["minizip", "deps/zlib/contrib/minizip"], ["zlib", "deps/zlib"], ["OpenSSL", "deps/openssl"], ["Punycode.js", "lib/punycode.js"]]);
  assert.equal(parsed.components[1]!.text, "Copyright (C) 1995-2024 Jean-loup Gailly and Mark Adler\n\nThis software is provided 'as-is'.");
  const broken = nodeLicense(apache).replace("- zlib, located at deps/zlib, is licensed as follows:\n  \"\"\"", "- zlib, located at deps/zlib, is licensed as follows:\n  '''");
  assert.throws(() => parseNodeLicense(broken), /4 components listed, 3 read; its layout changed/);
  assert.throws(() => parseNodeLicense("MIT\n"), /list of externally maintained libraries was not found/);
});

test("replaceApacheText and copyrightLines: the Apache License's terms become a pointer; copyright statements are found", async () => {
  const { replaceApacheText, copyrightLines } = await load<Copyright>("copyright.mjs");
  const apache = readFileSync(path.join(ROOT, "LICENSE"), "utf8");
  const alone = replaceApacheText(apache);
  assert.deepEqual([alone.apache, alone.only], [true, true]);
  assert.match(alone.text, /^\n? {3}\(The Apache License, Version 2\.0: \/usr\/share\/common-licenses\/Apache-2\.0\.\)\n/);
  assert.doesNotMatch(alone.text, /TERMS AND CONDITIONS|APPENDIX|END OF TERMS/);
  const within = replaceApacheText(`MIT License\nCopyright (c) 2022 Someone\n\n${apache}\nTrailing note.`);
  assert.deepEqual([within.apache, within.only], [true, false]);
  assert.match(within.text, /^MIT License\nCopyright \(c\) 2022 Someone\n+ {3}\(The Apache License, Version 2\.0: .*\)\n[\s\S]*\nTrailing note\.$/);
  assert.deepEqual(replaceApacheText("Apache License\nnot the real thing"), { text: "Apache License\nnot the real thing", apache: false, only: false });
  assert.deepEqual(copyrightLines("COPYRIGHT AND PERMISSION NOTICE\n  Copyright (c) 2019 A\ncopyright notice\nCopyright © 2016 Unicode, Inc.\nCopyright [yyyy] [name]\nCopyright Joyent, Inc.\n  Copyright (c) 2019 A"),
    ["Copyright (c) 2019 A", "Copyright © 2016 Unicode, Inc.", "Copyright Joyent, Inc."]);
});

test("debianCopyright: DEP-5 stanzas for the project, the bundled packages and every Node.js component, Apache-2.0 by reference", async () => {
  const { debianCopyright } = await load<Copyright>("copyright.mjs");
  const apache = readFileSync(path.join(ROOT, "LICENSE"), "utf8");
  const text = debianCopyright({
    upstream: "proj", nodeVersion: "1.2.3", nodeLicense: nodeLicense(apache),
    bundled: [{ name: "cac", version: "6.7.14", license: "MIT", text: "MIT\n\nCopyright (c) EGOIST\n\n\tPermission." }],
  });
  const stanzas = text.trimEnd().split("\n\n");
  assert.deepEqual(stanzas.map((s) => s.split("\n")[0]), [
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
    "Files: *", "Files: node_modules/cac/*", "Files: node/*", "Files: node/deps/zlib/*", "Files: node/deps/openssl/*",
    "Files: node/lib/punycode.js", "Files: node/deps/zlib/contrib/minizip/*", "License: Apache-2.0",
  ]);
  assert.match(stanzas[0]!, /^Upstream-Name: proj\nComment: The executable is the Node\.js 1\.2\.3 runtime/m);
  assert.equal(stanzas[1], "Files: *\nCopyright: proj contributors\nLicense: Apache-2.0");
  assert.equal(stanzas[2], "Files: node_modules/cac/*\nCopyright: Copyright (c) EGOIST\nComment: npm package cac 6.7.14 (MIT)\n"
    + "License: cac-license\n MIT\n .\n Copyright (c) EGOIST\n .\n         Permission.");
  assert.match(stanzas[3]!, /^Files: node\/\*\nCopyright: Copyright Node\.js contributors\. All rights reserved\.\nLicense: Node\.js-license\n """\n Copyright Node\.js/);
  assert.match(stanzas[4]!, /^Files: node\/deps\/zlib\/\*\nCopyright: Copyright \(C\) 1995-2024 Jean-loup Gailly and Mark Adler\nComment: zlib, part of Node\.js 1\.2\.3\nLicense: zlib-license\n/);
  // OpenSSL's text is the Apache License alone: the standalone Apache-2.0 paragraph covers it.
  assert.equal(stanzas[5], "Files: node/deps/openssl/*\nCopyright: the authors of OpenSSL (its license text names none)\nComment: OpenSSL, part of Node.js 1.2.3\nLicense: Apache-2.0");
  // minizip, listed first, comes after zlib: the last paragraph that matches a file wins.
  assert.match(stanzas[7]!, /^Files: node\/deps\/zlib\/contrib\/minizip\/\*\nCopyright: Copyright \(C\) 1998-2010 Gilles Vollant\n/);
  assert.match(stanzas[6]!, /^Comment: Punycode\.js, part of Node\.js 1\.2\.3; its license text quotes the Apache License 2\.0, given here as a pointer$/m);
  assert.match(stanzas[6]!, /^License: Punycode\.js-license\n COPYRIGHT AND PERMISSION NOTICE\n/m);
  assert.match(stanzas[6]!, /\n {4}\(The Apache License, Version 2\.0: \/usr\/share\/common-licenses\/Apache-2\.0\.\)\n/);
  assert.doesNotMatch(text, /TERMS AND CONDITIONS FOR USE|\t/);
});
