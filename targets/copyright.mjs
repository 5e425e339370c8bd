// The Debian packages' machine-readable copyright file (DEP-5, copyright-format 1.0). The
// executable holds three kinds of code, each with its own stanzas:
//   - this project's (Files: *), Apache-2.0;
//   - the npm packages bundled into the program (Files: node_modules/<name>/*), from their LICENSE;
//   - the Node.js runtime the program is appended to (Files: node/...): Node.js's own license and
//     one stanza per externally maintained component that Node.js's LICENSE lists (V8, libuv,
//     OpenSSL, zlib, ICU, ...), named by its place in the Node.js source tree.
// License texts are quoted as their authors wrote them, with one exception: the full text of the
// Apache License 2.0 is replaced by a pointer to /usr/share/common-licenses/Apache-2.0, as Debian
// asks (lintian: copyright-file-contains-full-apache-2-license).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const FORMAT = "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/";
const APACHE_POINTER = "(The Apache License, Version 2.0: /usr/share/common-licenses/Apache-2.0.)";

/**
 * Node.js's LICENSE split into Node.js's own license and its components:
 * { own, components: [{ name, location, text }] }, texts without their common indentation.
 * Throws when the file is not laid out as expected ("- NAME, located at PATH, is licensed as
 * follows:" and the text between lines of three double quotes), so a new layout is noticed.
 */
export function parseNodeLicense(text) {
  const src = text.replace(/\r\n/g, "\n");
  const listStart = src.indexOf("\nThe externally maintained libraries used by Node.js are:\n");
  if (listStart < 0) throw new Error("Node.js LICENSE: the list of externally maintained libraries was not found");
  const own = dedent(src.slice(0, listStart).replace(/^Node\.js is licensed for use as follows:\n/, ""));
  const entry = /^- (.+?), located at (\S+?),? is licensed as follows:\n {2}"""\n([\s\S]*?)\n {2}"""\n/gm;
  const components = [];
  let end = listStart;
  for (const m of src.matchAll(entry)) {
    components.push({ name: m[1], location: m[2].replace(/\/+$/, ""), text: dedent(m[3]) });
    end = m.index + m[0].length;
  }
  const headers = src.match(/^- .+ is licensed as follows:$/gm) ?? [];
  if (components.length === 0 || components.length !== headers.length || src.slice(end).trim() !== "")
    throw new Error(`Node.js LICENSE: ${headers.length} components listed, ${components.length} read; its layout changed`);
  return { own, components };
}

/**
 * The text with every full Apache License 2.0 (terms, and the appendix on applying it) replaced
 * by a pointer to Debian's copy; `apache` says whether there was one, `only` whether the text
 * starts with it (the component is under that license, the rest being its notice).
 */
export function replaceApacheText(text) {
  const lines = text.split("\n");
  const out = [];
  let apache = false;
  let only = false;
  for (let i = 0; i < lines.length; i++) {
    const start = /^(\s*)Apache License\s*$/.exec(lines[i]);
    const end = start && /Version 2\.0, January 2004/.test(lines[i + 1] ?? "") ? findEnd(lines, i) : -1;
    if (end < 0) { out.push(lines[i]); continue; }
    if (!apache && out.every((l) => l.trim() === "")) only = true;
    apache = true;
    // At the indentation of the terms' title (the heading above it is centred).
    const title = lines.slice(i, end).find((l) => l.includes("TERMS AND CONDITIONS FOR USE")) ?? "";
    out.push(`${/^\s*/.exec(title)[0]}${APACHE_POINTER}`);
    i = end;
  }
  return { text: out.join("\n"), apache, only };
}

/** The last line of the Apache terms starting at `from`: its appendix's last line if it has one. */
function findEnd(lines, from) {
  const terms = lines.findIndex((l, i) => i > from && /^\s*END OF TERMS AND CONDITIONS\s*$/.test(l));
  if (terms < 0) return -1;
  let next = terms + 1;
  while (next < lines.length && lines[next].trim() === "") next++;
  if (!/^\s*APPENDIX: How to apply the Apache License to your work\.\s*$/.test(lines[next] ?? "")) return terms;
  const appendix = lines.findIndex((l, i) => i > next && /identification within third-party archives\.\s*$/.test(l));
  return appendix < 0 ? terms : appendix;
}

/** The lines of a license text that state a copyright ("Copyright (c) 2019 ...", "Copyright © ..."). */
export function copyrightLines(text) {
  const found = text.split("\n").map((l) => l.trim())
    .filter((l) => /^Copyright\s+(?:\([cC]\)\s*|©\s*)?(?:\d|[A-Z]|by\b)/.test(l));
  return [...new Set(found)];
}

/**
 * The copyright file's text.
 *   upstream: the project's name; nodeVersion, nodeLicense: the runtime's version and LICENSE text;
 *   bundled: [{ name, version, license, text }] for the npm packages inside the program.
 */
export function debianCopyright({ upstream, nodeVersion, nodeLicense, bundled }) {
  const node = parseNodeLicense(nodeLicense);
  const stanzas = [
    fields({
      Format: FORMAT,
      "Upstream-Name": upstream,
      Comment: [
        `The executable is the Node.js ${nodeVersion} runtime (https://nodejs.org) with ${upstream}`,
        "appended to it as a single executable application. The node/ patterns name the runtime's",
        "parts by their place in the Node.js source tree, as Node.js's LICENSE file lists them",
        "(some of them are build and test tools, not in the runtime); node_modules/ names the npm",
        `packages bundled into ${upstream}'s program.`,
      ],
    }),
    fields({ Files: "*", Copyright: `${upstream} contributors`, License: "Apache-2.0" }),
    ...bundled.map((b) => licenseStanza(`node_modules/${b.name}/*`, b.name, b.text, `npm package ${b.name} ${b.version} (${b.license})`)),
    fields({
      Files: "node/*",
      Copyright: copyrightLines(node.own),
      License: ["Node.js-license", ...node.own.split("\n")],
    }),
    // The last paragraph that matches a file wins: a directory's stanza goes before those of the
    // components inside it (node/deps/v8/* before node/deps/v8/third_party/ittapi/*).
    ...[...node.components].sort((a, b) => depth(a.location) - depth(b.location)).map((c) => licenseStanza(nodePattern(c.location), c.name, c.text, `${c.name}, part of Node.js ${nodeVersion}`)),
    fields({ License: ["Apache-2.0", "On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0."] }),
  ];
  return stanzas.join("\n");
}

/** A Files stanza for a third-party component with its own license text. */
function licenseStanza(pattern, name, licenseText, comment) {
  const { text, apache, only } = replaceApacheText(licenseText);
  const holders = copyrightLines(text);
  const license = only
    ? ["Apache-2.0"] // its text is the Apache License and, maybe, its notice: that goes into Comment
    : [`${name.replace(/[^A-Za-z0-9.+-]/g, "-")}-license`, ...text.split("\n")];
  const notice = only ? text.split("\n").filter((l) => !l.includes(APACHE_POINTER)) : [];
  return fields({
    Files: pattern,
    Copyright: holders.length > 0 ? holders : [`the authors of ${name} (its license text names none)`],
    Comment: [comment + (apache && !only ? "; its license text quotes the Apache License 2.0, given here as a pointer" : ""), ...dedent(notice.join("\n")).split("\n")],
    License: license,
  });
}

const depth = (location) => location.split("/").length;

/** The Files pattern of a Node.js component: a file as it is, a directory with all below it. */
function nodePattern(location) {
  return /\.[A-Za-z0-9]+$/.test(path.posix.basename(location)) ? `node/${location}` : `node/${location}/*`;
}

/**
 * One deb822 paragraph. A value is a string or an array of lines: the first on the field's line,
 * the others as continuation lines (" text", an empty line as " ."), tabs expanded.
 */
function fields(values) {
  let out = "";
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const lines = (Array.isArray(value) ? value : [value]).map(expandTabs);
    while (lines.length > 1 && lines[lines.length - 1].trim() === "") lines.pop();
    out += `${key}: ${lines[0].trim()}\n`;
    for (const line of lines.slice(1)) out += line.trim() === "" ? " .\n" : ` ${line.trimEnd()}\n`;
  }
  return out;
}

function expandTabs(line) {
  let out = "";
  for (const ch of line) out += ch === "\t" ? " ".repeat(8 - (out.length % 8)) : ch;
  return out;
}

/** The text without its common indentation, and without blank lines at either end. */
function dedent(text) {
  const lines = text.split("\n");
  while (lines.length > 0 && lines[0].trim() === "") lines.shift();
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  const cut = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => l.length - l.trimStart().length));
  return lines.map((l) => (l.trim() === "" ? "" : l.slice(cut))).join("\n");
}

/**
 * The npm packages bundled into the programs: the project's runtime dependencies, each with the
 * license file it ships (LICENSE, LICENSE.md, license, ...).
 */
export function bundledPackages(root) {
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
  return Object.keys(pkg.dependencies ?? {}).sort().map((name) => {
    const dir = path.join(root, "node_modules", name);
    const meta = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
    const file = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license", "license.md"].map((f) => path.join(dir, f)).find((f) => existsSync(f));
    if (!file) throw new Error(`${dir} has no LICENSE file: its license must go into the Debian copyright file`);
    return { name, version: meta.version, license: meta.license, text: dedent(readFileSync(file, "utf8").replace(/\r\n/g, "\n")) };
  });
}
