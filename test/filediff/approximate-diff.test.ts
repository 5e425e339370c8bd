import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { Rng } from "../vcdiff/helpers";
import { suffixArray } from "../../src/filediff/suffix-array";
import { approximateDiff, applyApproximateDiff, ApproximateDiffError, diffAlong } from "../../src/filediff/approximate-diff";


function naiveSuffixArray(bytes: Uint8Array): number[] {
  const idx = Array.from({ length: bytes.length + 1 }, (_, i) => i);
  return idx.sort((a, b) => {
    for (;;) {
      if (a === bytes.length) return -1;
      if (b === bytes.length) return 1;
      if (bytes[a] !== bytes[b]) return bytes[a]! - bytes[b]!;
      a++;
      b++;
    }
  });
}

test("suffix array equals a naive sort on small alphabets, repeats and random bytes", () => {
  const rng = new Rng(7);
  const next = (): number => rng.next() / 2 ** 32;
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array([5]),
    new Uint8Array(300).fill(0),
    new Uint8Array(300).fill(255),
    Buffer.from("mississippi$banana_abracadabra"),
  ];
  for (let n = 1; n < 400; n += 37) {
    for (const alphabet of [2, 3, 4, 256]) {
      cases.push(Uint8Array.from({ length: n }, () => Math.floor(next() * alphabet)));
    }
  }
  // periodic text forces deep recursion
  cases.push(Uint8Array.from({ length: 1000 }, (_, i) => (i % 7 === 0 ? 1 : 2)));
  for (const c of cases) assert.deepEqual(Array.from(suffixArray(c)), naiveSuffixArray(c), `input ${Buffer.from(c).toString("hex").slice(0, 40)}`);
});

function roundTrip(old: Uint8Array, neu: Uint8Array): ReturnType<typeof approximateDiff> {
  const d = approximateDiff(old, neu);
  const rebuilt = applyApproximateDiff(old, d, neu.length);
  assert.ok(Buffer.from(rebuilt).equals(Buffer.from(neu)), "rebuilt bytes differ");
  // In place, as the device applies it: the differences stream at the end of the output buffer.
  const into = new Uint8Array(neu.length);
  into.set(d.differences, d.literals.length);
  const inPlace = applyApproximateDiff(old, { ...d, differences: into.subarray(d.literals.length) }, neu.length, into);
  assert.ok(Buffer.from(inPlace).equals(Buffer.from(neu)), "rebuilt in place, bytes differ");
  return d;
}

test("round trips: empty, identical, unrelated, shifted with scattered edits", () => {
  const rng = new Rng(42);
  const next = (): number => rng.next() / 2 ** 32;
  const random = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
  roundTrip(new Uint8Array(0), new Uint8Array(0));
  roundTrip(new Uint8Array(0), random(100));
  roundTrip(random(100), new Uint8Array(0));
  const base = random(50_000);
  const same = roundTrip(base, base);
  assert.equal(same.literals.length, 0);
  roundTrip(random(5000), random(7000));
  // A "recompiled" file: an insertion shifts the rest, and every 64th byte changes.
  const neu = new Uint8Array(base.length + 100);
  neu.set(base.subarray(0, 20_000));
  neu.set(random(100), 20_000);
  neu.set(base.subarray(20_000), 20_100);
  for (let i = 0; i < neu.length; i += 64) neu[i] = (neu[i]! + 3) & 0xff;
  const d = roundTrip(base, neu);
  // The scattered edits become difference bytes, not literals: only the insertion is literal.
  assert.ok(d.literals.length < 1000, `literals ${d.literals.length}`);
});

test("round trip on a real executable and a patched copy of it", () => {
  const old = new Uint8Array(fs.readFileSync(process.execPath).subarray(0, 2 << 20));
  const neu = old.slice();
  for (let i = 4096; i < neu.length; i += 997) neu[i] = neu[i]! ^ 0x10;
  const d = roundTrip(old, neu);
  assert.ok(d.literals.length < 4096, `literals ${d.literals.length}`);
});

test("a hostile diff is refused, not written out of range", () => {
  const rng = new Rng(3);
  const next = (): number => rng.next() / 2 ** 32;
  const old = Uint8Array.from({ length: 100 }, () => Math.floor(next() * 256));
  const neu = old.slice();
  neu[50] = neu[50]! ^ 1;
  const good = approximateDiff(old, neu);
  assert.ok(good.differences.length > 0 && good.control.length >= 3);
  assert.throws(() => applyApproximateDiff(old, good, 50), /past the declared length/);
  assert.throws(() => applyApproximateDiff(old, { ...good, differences: good.differences.subarray(0, 10) }, 100), /ends early/);
  assert.throws(() => applyApproximateDiff(old, { ...good, control: good.control.subarray(0, 1) }, 100), /ends inside a value|ends early|produced/);
  const seekFar = { control: Uint8Array.from([0, 0, 200, 1, 10, 0, 0]), differences: new Uint8Array(10), literals: new Uint8Array(0) };
  assert.throws(() => applyApproximateDiff(old, seekFar, 10), /outside the old file/);
  const seekBack = { control: Uint8Array.from([0, 0, 1, 10, 0, 0]), differences: new Uint8Array(10), literals: new Uint8Array(0) };
  assert.throws(() => applyApproximateDiff(old, seekBack, 10), /outside the old file/);
  const huge = { control: Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]), differences: new Uint8Array(0), literals: new Uint8Array(0) };
  assert.throws(() => applyApproximateDiff(old, huge, 10), /too large|past the declared/);
});

test("diffAlong: another diff's control gives that diff's streams back; a control of another length is refused", () => {
  const rng = new Rng(3);
  const old = rng.bytes(5000);
  const neu = old.slice(100, 4000);
  for (let i = 0; i < neu.length; i += 97) neu[i] = neu[i]! ^ 0x11;
  const diff = approximateDiff(old, neu);
  const again = diffAlong(diff.control, old, neu);
  assert.deepEqual(again, diff);
  assert.throws(() => diffAlong(diff.control, old, neu.subarray(1)), ApproximateDiffError);
  assert.throws(() => diffAlong(diff.control, old, concatBytes(neu, Uint8Array.of(1))), ApproximateDiffError);
});

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([a, b]));
}

test("a long zero run that moved (apt's cdrom method, arm64: 62 KB of padding, 785 bytes later): a small diff, rebuilt exactly", () => {
  // Every position of the run has a long match elsewhere; the search measures matches up to a cap,
  // so this takes well under a second (without the cap, most of a minute).
  const read = (name: string): Uint8Array => new Uint8Array(gunzipSync(fs.readFileSync(path.join(__dirname, "fixtures", name))));
  const old = read("cdrom.arm64.old.gz");
  const neu = read("cdrom.arm64.new.gz");
  const d = roundTrip(old, neu);
  assert.ok(d.literals.length < neu.length / 10, `${d.literals.length} literal bytes of ${neu.length}`);
});
