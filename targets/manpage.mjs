// A man page (roff, man macros) made from a program's own --help text, so that the two never
// disagree. The help texts follow one layout, which this reads:
//   - line 1 is "<program> <version>"; the lines up to the first blank line are the summary;
//   - a line at column 0 that ends in ':' heads a section ("Usage:", "Options (...):", "Examples:",
//     "Apply a delta (...):"); the indented blocks below it are its body;
//   - any other paragraph at column 0 is prose ("Exit codes: ..." and "More: ..." get their own
//     man sections, EXIT STATUS and SEE ALSO);
//   - in a section body, a block whose entries are "TERM  description" with every description
//     starting in one column (or on the next line, in that column) is a list of terms: the usage
//     forms, the options; a block of lines at one indentation is prose; anything else (and all of
//     "Examples:") is printed as it stands.
// Nothing here depends on one program's text: both programs' help goes through the same rules.

/** Help section headings that have a standard man section name. */
const SECTION_NAMES = { Usage: "SYNOPSIS", Options: "OPTIONS", Examples: "EXAMPLES" };
/** Prose paragraphs that open with one of these words become that man section. */
const PARAGRAPH_SECTIONS = { "Exit codes": "EXIT STATUS", More: "SEE ALSO" };
/** The order of man(7)'s conventional sections; others follow OPTIONS in the help's order. */
const ORDER_BEFORE = ["SYNOPSIS", "DESCRIPTION", "OPTIONS"];
const ORDER_AFTER = ["EXIT STATUS", "EXAMPLES", "SEE ALSO"];
/** A description column this far right of its term's indentation marks a list of terms. */
const MIN_TERM_WIDTH = 8;

/**
 * Roff source of the man page for `help`, section 1.
 * date: the page's date (SOURCE_DATE_EPOCH's day, so rebuilds are identical); source: the footer's
 * "<project> <version>" (default: the program's name and version).
 */
export function helpToMan(help, { date, source }) {
  const lines = help.replace(/\s+$/, "").split("\n");
  const title = /^(\S+) (\S+)$/.exec(lines[0] ?? "");
  if (!title) throw new Error(`help text must start with "<program> <version>", not '${lines[0]}'`);
  const [, program, version] = title;
  const paragraphs = splitParagraphs(lines.slice(1));
  const summary = paragraphs.shift();
  if (!summary || summary.lines.some((l) => indent(l) > 0)) throw new Error(`${program}: the help's second line must start its summary`);

  /** man section name -> roff lines, in order of first appearance. */
  const sections = new Map();
  const add = (name, roff) => sections.set(name, [...(sections.get(name) ?? []), ...roff]);
  add("DESCRIPTION", prose(summary.lines));
  let current; // the help section whose indented body follows
  for (const p of paragraphs) {
    const first = p.lines[0];
    if (indent(first) > 0) {
      if (!current) throw new Error(`${program}: an indented block outside a section: '${first.trim()}'`);
      add(current.name, current.name === "EXAMPLES" ? verbatim(p.lines) : body(p.lines));
      continue;
    }
    const heading = /^([^(:]+?)(?: \(.*\))?:$/.exec(first);
    if (heading) {
      const name = SECTION_NAMES[heading[1]] ?? heading[1].toUpperCase();
      current = { name };
      // A heading's parenthetical says something about the whole section: keep it as its first sentence.
      if (first.includes(" (")) add(name, prose([first.replace(/:$/, ".")]));
      if (p.lines.length > 1) add(name, current.name === "EXAMPLES" ? verbatim(p.lines.slice(1)) : body(p.lines.slice(1)));
      continue;
    }
    current = undefined;
    const lead = Object.keys(PARAGRAPH_SECTIONS).find((k) => first.startsWith(`${k}: `));
    if (lead) add(PARAGRAPH_SECTIONS[lead], prose([first.slice(lead.length + 2), ...p.lines.slice(1)]));
    else add("DESCRIPTION", prose(p.lines));
  }

  const names = [...sections.keys()];
  const middle = names.filter((n) => !ORDER_BEFORE.includes(n) && !ORDER_AFTER.includes(n));
  const order = [...ORDER_BEFORE, ...middle, ...ORDER_AFTER].filter((n) => sections.has(n));
  const out = [
    `.TH ${[program.toUpperCase(), "1", date, source ?? `${program} ${version}`, "User Commands"].map((f) => quote(f, { keepWords: false })).join(" ")}`,
    // No hyphenation, ragged right: commands and paths stay whole and copyable.
    ".nh",
    ".ad l",
    ".SH NAME",
    `${escape(program)} \\- ${escape(summary.lines[0].replace(/[.:]$/, ""))}`,
  ];
  for (const name of order) out.push(`.SH ${quote(name)}`, ...sections.get(name));
  return `${out.join("\n")}\n`;
}

/** Blocks of consecutive non-blank lines; an indented line right after a column-0 heading stays with it. */
function splitParagraphs(lines) {
  const out = [];
  let cur;
  for (const line of lines) {
    if (line.trim() === "") { cur = undefined; continue; }
    if (!cur || (indent(line) === 0 && indent(cur.lines[cur.lines.length - 1]) > 0)) out.push(cur = { lines: [] });
    cur.lines.push(line);
  }
  return out;
}

const indent = (line) => line.length - line.trimStart().length;

/** A section body block: a list of terms, prose, or verbatim text. */
function body(lines) {
  const terms = termList(lines);
  if (terms) return terms.flatMap(({ term, text }) => [".TP", `.B ${quote(term)}`, ...text.map(escape)]);
  if (lines.every((l) => indent(l) === indent(lines[0]) && !/\S {2,}\S/.test(l.trim()))) return prose(lines);
  return verbatim(lines);
}

/**
 * The block as [{term, text}] when it is a list of terms: each entry starts at the block's least
 * indentation; its description starts after two or more spaces on that line, or on the next line,
 * in one column shared by every entry (an entry may have none: a usage form alone); lines indented
 * less than that column (and more than the entry) continue the term. Undefined when the block is
 * anything else.
 */
function termList(lines) {
  const base = Math.min(...lines.map(indent));
  const entries = [];
  for (const line of lines) {
    if (indent(line) === base) entries.push({ head: line.slice(base), rest: [] });
    else if (entries.length > 0) entries[entries.length - 1].rest.push(line);
    else return undefined;
  }
  const gapOf = (head) => / {2,}(?=\S)/.exec(head);
  // The description column: where the first entry that has a description starts it.
  let column;
  for (const { head, rest } of entries) {
    const gap = gapOf(head);
    column = gap ? base + gap.index + gap[0].length : rest.map(indent).find((at) => at >= base + MIN_TERM_WIDTH);
    if (column !== undefined) break;
  }
  if (column === undefined || column < base + MIN_TERM_WIDTH) return undefined;
  const parsed = [];
  for (const { head, rest } of entries) {
    const gap = gapOf(head);
    if (gap && base + gap.index + gap[0].length !== column) return undefined;
    const term = [gap ? head.slice(0, gap.index) : head.trim()];
    const text = gap ? [head.slice(gap.index + gap[0].length)] : [];
    for (const line of rest) {
      const at = indent(line);
      if (at === column) text.push(line.trim());
      else if (at < column && text.length === 0) term.push(line.trim());
      else return undefined;
    }
    parsed.push({ term: term.join(" "), text });
  }
  return parsed;
}

/** Filled text: roff joins the lines and breaks them for the reader's width. */
function prose(lines) {
  return [".PP", ...lines.map((l) => escape(l.trim()))];
}

/** Lines as they stand (no filling), their common indentation removed. */
function verbatim(lines) {
  const base = Math.min(...lines.map(indent));
  return [".PP", ".nf", ...lines.map((l) => escape(l.slice(base))), ".fi"];
}

/**
 * Text for roff: backslashes escaped; the dashes of options (-o, --root-mount, -- --) are minus
 * signs, so that a command copied from the page works; apostrophes stay straight quotes; a line
 * starting with '.' or "'" would be a request, \& keeps it text.
 */
function escape(text, { keepWords = true } = {}) {
  let s = text
    .replace(/\\/g, "\\e")
    .replace(/(^|[\s[(|,="'])(-[^\s\]),|'"]*)/g, (_, pre, token) => pre + token.replace(/-/g, "\\-"))
    .replace(/'/g, "\\(aq");
  // \% before a word with '-', '/' or '_' inside: roff neither hyphenates it nor breaks it there.
  if (keepWords) s = s.replace(/(^|\s)(?=[^\s]*[^\s\\][-/_])/g, "$1\\%");
  return /^[.]/.test(s) ? `\\&${s}` : s;
}

/** A macro argument: escaped text in double quotes (.TH's fields are never broken: no \%). */
function quote(text, { keepWords = true } = {}) {
  return `"${escape(text, { keepWords }).replace(/"/g, "\\(dq")}"`;
}
