/**
 * Collects every error message the programs can print, from the source, for the troubleshooting
 * test. Parses src/**\/*.ts with the TypeScript compiler (no regexes over code) and finds:
 *
 * - `new C(...)` where C is an error class: Error and its built-in subclasses, and every class in
 *   src/ that extends one (transitively: MenderDeltaError, UsageError, XzError, HeaderProblem, ...).
 *   The message argument is the constructor's parameter named `message` (XzError's third), else the
 *   first; classes that build their own message in `super(...)` contribute that literal instead.
 * - message helpers: a function whose parameter ends up in a message (`corruptDelta(where, what)`,
 *   `fail(kind, at, message)`) makes the literals its callers pass for that parameter messages too
 *   (repeated until nothing new is found).
 *
 * A literal passed to a helper counts only when it has at least MIN_HELPER_WORDS words (shorter ones
 * are fill-ins such as flag names). A message is a list of literal segments; every `${...}` placeholder (and any non-literal operand
 * of `+`) becomes a gap. `a ? b : c`, `a ?? b` and `a || b` contribute each literal branch.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";

export interface ScannedMessage {
  /** Literal text between placeholders, in order (the first may be "" when it starts with one). */
  segments: string[];
  file: string;
  line: number;
  /** The class constructed, or the helper called. */
  via: string;
}

const BUILTIN_ERRORS = ["Error", "RangeError", "TypeError", "SyntaxError"];

function listSources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return listSources(full);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [full] : [];
  });
}

/** Literal segments of an expression, or undefined if it holds no literal text at all. */
function segmentsOf(expr: ts.Expression): string[][] {
  if (ts.isParenthesizedExpression(expr)) return segmentsOf(expr.expression);
  if (ts.isStringLiteral(expr) || ts.isNoSubstitutionTemplateLiteral(expr)) return [[expr.text]];
  if (ts.isTemplateExpression(expr)) {
    const segs = [expr.head.text];
    for (const span of expr.templateSpans) segs.push(span.literal.text);
    return [segs];
  }
  if (ts.isConditionalExpression(expr)) return [...segmentsOf(expr.whenTrue), ...segmentsOf(expr.whenFalse)];
  if (ts.isBinaryExpression(expr)) {
    const op = expr.operatorToken.kind;
    if (op === ts.SyntaxKind.QuestionQuestionToken || op === ts.SyntaxKind.BarBarToken) {
      return [...segmentsOf(expr.left), ...segmentsOf(expr.right)];
    }
    if (op === ts.SyntaxKind.PlusToken) {
      const left = segmentsOf(expr.left);
      const right = segmentsOf(expr.right);
      const l = left.length === 1 ? left[0]! : [""];
      const r = right.length === 1 ? right[0]! : [""];
      // Joining: the last segment of the left continues into the first of the right.
      const joined = [...l.slice(0, -1), l[l.length - 1]! + r[0]!, ...r.slice(1)];
      if (left.length === 0) joined.unshift(""), (joined[1] = r[0]!);
      return left.length === 0 && right.length === 0 ? [] : [joined];
    }
  }
  return [];
}

/** Identifiers used as a whole argument or as a template placeholder in the message expression. */
function identifiersIn(expr: ts.Expression): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n)) out.push(n.text);
    else if (ts.isTemplateSpan(n) || ts.isTemplateExpression(n) || ts.isBinaryExpression(n) || ts.isConditionalExpression(n) || ts.isParenthesizedExpression(n)) {
      n.forEachChild(visit);
    } else if (ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n) || ts.isToken(n)) {
      /* literal text */
    }
  };
  visit(expr);
  return out;
}

function enclosingFunction(node: ts.Node): ts.SignatureDeclaration | undefined {
  for (let n = node.parent; n; n = n.parent) {
    if (ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isConstructorDeclaration(n)) return n;
  }
  return undefined;
}

function functionName(fn: ts.SignatureDeclaration): string | undefined {
  if ((ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) && fn.name && ts.isIdentifier(fn.name)) return fn.name.text;
  if ((ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) && ts.isVariableDeclaration(fn.parent) && ts.isIdentifier(fn.parent.name)) return fn.parent.name.text;
  return undefined;
}

function calleeName(expr: ts.Expression): string | undefined {
  if (ts.isIdentifier(expr)) return expr.text;
  if (ts.isPropertyAccessExpression(expr)) return expr.name.text;
  return undefined;
}

export function scanErrorMessages(srcDir: string): ScannedMessage[] {
  const files = listSources(srcDir).map((file) => ({
    file,
    sf: ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true),
  }));

  // 1. Error classes and the index of their message parameter.
  const messageIndex = new Map<string, number>(BUILTIN_ERRORS.map((n) => [n, 0]));
  const selfMessages: { cls: string; expr: ts.Expression; file: string; sf: ts.SourceFile }[] = [];
  const classes: { name: string; base: string; decl: ts.ClassDeclaration; file: string; sf: ts.SourceFile }[] = [];
  for (const { file, sf } of files) {
    sf.forEachChild(function visit(n): void {
      if (ts.isClassDeclaration(n) && n.name) {
        const ext = n.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
        if (ext && ts.isIdentifier(ext.expression)) classes.push({ name: n.name.text, base: ext.expression.text, decl: n, file, sf });
      }
      n.forEachChild(visit);
    });
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const c of classes) {
      if (messageIndex.has(c.name) || !messageIndex.has(c.base)) continue;
      const ctor = c.decl.members.find(ts.isConstructorDeclaration);
      let index = messageIndex.get(c.base)!;
      if (ctor) {
        index = ctor.parameters.findIndex((p) => ts.isIdentifier(p.name) && p.name.text === "message");
        if (index < 0) {
          // Builds its own message: the literal it hands to super() is the message.
          ctor.body?.forEachChild(function visit(n): void {
            if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.SuperKeyword && n.arguments[0]) {
              selfMessages.push({ cls: c.name, expr: n.arguments[0], file: c.file, sf: c.sf });
            }
            n.forEachChild(visit);
          });
        }
      }
      messageIndex.set(c.name, index);
      changed = true;
    }
  }

  const out: ScannedMessage[] = [];
  const seen = new Set<string>();
  const record = (expr: ts.Expression, sf: ts.SourceFile, file: string, via: string): void => {
    for (const segments of segmentsOf(expr)) {
      const key = `${file}:${expr.pos}:${segments.join("\u0000")}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ segments, file: path.relative(path.dirname(srcDir), file), line: sf.getLineAndCharacterOfPosition(expr.getStart(sf)).line + 1, via });
    }
  };

  // 2. Constructions and helper calls, to a fixpoint over helpers.
  const helpers = new Map<string, Set<number>>(); // function name -> parameter indexes that reach a message
  const markHelperParams = (site: ts.Node, expr: ts.Expression): boolean => {
    const fn = enclosingFunction(site);
    if (!fn || ts.isConstructorDeclaration(fn)) return false;
    const name = functionName(fn);
    if (!name) return false;
    let changed = false;
    const ids = new Set(identifiersIn(expr));
    fn.parameters.forEach((p, i) => {
      if (ts.isIdentifier(p.name) && ids.has(p.name.text)) {
        const set = helpers.get(name) ?? new Set<number>();
        if (!set.has(i)) (set.add(i), helpers.set(name, set), (changed = true));
      }
    });
    return changed;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const { file, sf } of files) {
      sf.forEachChild(function visit(n): void {
        if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && messageIndex.has(n.expression.text)) {
          const arg = n.arguments?.[messageIndex.get(n.expression.text)!];
          if (arg) {
            record(arg, sf, file, n.expression.text);
            if (markHelperParams(n, arg)) changed = true;
          }
        } else if (ts.isCallExpression(n)) {
          const name = calleeName(n.expression);
          const params = name === undefined ? undefined : helpers.get(name);
          if (params) {
            for (const i of params) {
              const arg = n.arguments[i];
              if (!arg) continue;
              record(arg, sf, file, `${name}()`);
              if (markHelperParams(n, arg)) changed = true;
            }
          }
        }
        n.forEachChild(visit);
      });
    }
  }
  for (const s of selfMessages) record(s.expr, s.sf, s.file, s.cls);
  // A literal handed to a helper is often only a fill-in of a placeholder (a flag name, "read",
  // "delta byte N"), not a message of its own: it counts only if it reads as a phrase.
  return out.filter((m) => m.segments.some((s) => s.trim() !== "") && (!m.via.endsWith("()") || words(m) >= MIN_HELPER_WORDS));
}

/** Literals passed to message helpers count as messages from this many words on. */
export const MIN_HELPER_WORDS = 4;

function words(m: ScannedMessage): number {
  return m.segments.join(" ").split(/\s+/).filter((w) => /[A-Za-z]{2}/.test(w)).length;
}

/** Minimum length of the literal text a doc entry is matched on. */
export const MIN_KEY_LENGTH = 10;
/** Longer literal text is matched on its first this many characters. */
export const MAX_KEY_LENGTH = 60;

/**
 * The text the troubleshooting doc must contain for a message: its first literal segment of at
 * least MIN_KEY_LENGTH characters (trimmed, cut to MAX_KEY_LENGTH), else its longest segment.
 */
export function messageKey(m: ScannedMessage): string {
  const trimmed = m.segments.map((s) => s.replace(/\s+/g, " ").trim());
  const long = trimmed.find((s) => s.length >= MIN_KEY_LENGTH);
  const key = long ?? trimmed.reduce((a, b) => (b.length > a.length ? b : a), "");
  return key.slice(0, MAX_KEY_LENGTH).trim();
}

/** The message as a person reads it in the doc: placeholders shown as `<…>`. */
export function messageDisplay(m: ScannedMessage): string {
  return m.segments.join("<…>").replace(/\s+/g, " ").trim();
}
