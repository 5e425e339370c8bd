/**
 * docs/troubleshooting.md must have an entry for every error message the programs can print.
 * The messages are collected from the source (test/docs/error-messages.ts explains how); the doc
 * must contain each message's key text (its first long-enough literal piece).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { messageDisplay, messageKey, scanErrorMessages } from "./error-messages";

const ROOT = path.resolve(__dirname, "../..");
const DOC = path.join(ROOT, "docs/troubleshooting.md");

/** Messages of the cac parser that parse.ts passes on unchanged as usage errors (not in src/). */
const LIBRARY_MESSAGES = ["missing required args for command", "value is missing"];

const normalize = (text: string): string => text.replace(/\s+/g, " ");

test("the scanner finds the messages of every kind of construction", () => {
  const messages = scanErrorMessages(path.join(ROOT, "src"));
  const displays = new Set(messages.map(messageDisplay));
  // A plain MenderDeltaError, a UsageError, a subclass with the message as third parameter (XzError
  // through the fail() helper), a helper's fragment (corruptDelta), a class building its own message.
  for (const expected of [
    "no output file: give -o OUT.mender",
    "no command given",
    "the input is empty: there is no xz data at all; the file is missing or was not written",
    "the delta ends inside this header (truncated)",
    "source too short: byte <…> wanted, source has <…> bytes",
    "FGK secondary compression (xdelta3 -S fgk) is not supported; use -S lzma, -S djw or -S none",
  ]) {
    assert.ok(displays.has(expected), `scanner missed: ${expected}`);
  }
  assert.ok(messages.length > 250, `only ${messages.length} messages found`);
});

test("every error message has an entry in docs/troubleshooting.md", () => {
  const doc = normalize(fs.readFileSync(DOC, "utf8"));
  const missing: string[] = [];
  for (const m of scanErrorMessages(path.join(ROOT, "src"))) {
    const key = messageKey(m);
    if (!doc.includes(key)) missing.push(`${m.file}:${m.line}: "${messageDisplay(m)}" (needs "${key}")`);
  }
  for (const key of LIBRARY_MESSAGES) if (!doc.includes(key)) missing.push(`cac: "${key}"`);
  assert.deepEqual(missing, [], `docs/troubleshooting.md lacks entries for:\n${missing.join("\n")}`);
});
