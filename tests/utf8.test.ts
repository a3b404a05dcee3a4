import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isValidUtf8, Utf8Validator } from "../core/utf8.ts";

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const bytes = (...parts: (string | number[])[]): Uint8Array =>
  new Uint8Array(
    parts.flatMap((p) => typeof p === "string" ? [...encode(p)] : p),
  );

const strict = new TextDecoder("utf-8", { fatal: true });
function decoderAccepts(data: Uint8Array): boolean {
  try {
    strict.decode(data);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reference for fail-fast: the index of the first byte after which the input
 * can no longer be a prefix of valid UTF-8, or -1. Written independently of
 * the implementation's tables: it decodes the bits and asks whether the code
 * points still reachable by completing the sequence meet the valid ones for
 * its length ([min, U+10FFFF] minus the surrogates).
 */
function firstInvalidIndex(data: Uint8Array): number {
  const minimum = [0, 0, 0x80, 0x800, 0x10000];
  let i = 0;
  while (i < data.length) {
    const lead = data[i];
    const length = lead < 0x80
      ? 1
      : lead >> 5 === 0b110
      ? 2
      : lead >> 4 === 0b1110
      ? 3
      : lead >> 3 === 0b11110
      ? 4
      : 0;
    if (length === 0) return i;
    if (length === 1) {
      i++;
      continue;
    }
    let bits = lead & (0x7f >> length);
    for (let k = 0; k < length; k++) {
      const at = i + k;
      if (k > 0) {
        if (at >= data.length) return -1;
        if ((data[at] & 0xc0) !== 0x80) return at;
        bits = bits * 64 + (data[at] & 0x3f);
      }
      const unknown = 6 * (length - 1 - k);
      const lowest = bits * 2 ** unknown;
      const highest = lowest + 2 ** unknown - 1;
      const reachable = highest >= minimum[length] && lowest <= 0x10ffff &&
        !(lowest >= 0xd800 && highest <= 0xdfff);
      if (!reachable) return at;
    }
    i += length;
  }
  return -1;
}

/** Pushes one byte at a time; returns the index where push first said false, or -1. */
function failIndexByteByByte(data: Uint8Array): number {
  const v = new Utf8Validator();
  for (let i = 0; i < data.length; i++) {
    if (!v.push(data, i, i + 1)) return i;
  }
  return -1;
}

/** Copies `data` to `lead` bytes into a fresh buffer, to vary alignment. */
function placed(data: Uint8Array, lead: number): Uint8Array {
  const out = new Uint8Array(
    new ArrayBuffer(lead + data.length + 3),
    lead,
    data.length,
  );
  out.set(data);
  return out;
}

const VALID: [string, Uint8Array][] = [
  ["empty", bytes()],
  ["ASCII", bytes("Hello-UTF-8!! \t\r\n~")],
  ["κόσμε (Autobahn 6.2)", bytes("κόσμε")],
  ["U+0000", bytes([0x00])],
  ["U+007F, last 1-byte", bytes([0x7f])],
  ["U+0080, first 2-byte", bytes([0xc2, 0x80])],
  ["U+07FF, last 2-byte", bytes([0xdf, 0xbf])],
  ["U+0800, first 3-byte", bytes([0xe0, 0xa0, 0x80])],
  ["U+D7FF, below the surrogates", bytes([0xed, 0x9f, 0xbf])],
  ["U+E000, above the surrogates", bytes([0xee, 0x80, 0x80])],
  ["U+FEFF, BOM", bytes([0xef, 0xbb, 0xbf])],
  ["U+FFFD", bytes([0xef, 0xbf, 0xbd])],
  ["U+FFFF, last 3-byte", bytes([0xef, 0xbf, 0xbf])],
  ["U+10000, first 4-byte", bytes([0xf0, 0x90, 0x80, 0x80])],
  ["U+10FFFF, last code point", bytes([0xf4, 0x8f, 0xbf, 0xbf])],
  ["mixed text", bytes("a€𝄞ü日本 😀 \u0000\u{10ffff}z")],
];

// [name, bytes, index of the first byte that makes the input invalid]
const INVALID: [string, Uint8Array, number][] = [
  ["lone continuation 0x80", bytes([0x80]), 0],
  ["lone continuation 0xBF", bytes([0xbf]), 0],
  ["continuation after ASCII", bytes("ab", [0x80]), 2],
  ["continuation after a full character", bytes([0xc2, 0x80, 0x80]), 2],
  ["0xC0 (overlong lead)", bytes([0xc0]), 0],
  ["0xC1 (overlong lead)", bytes([0xc1]), 0],
  ["0xF5", bytes([0xf5, 0x80, 0x80, 0x80]), 0],
  ["0xF7 BF BF BF (U+1FFFFF)", bytes([0xf7, 0xbf, 0xbf, 0xbf]), 0],
  ["5-byte form", bytes([0xf8, 0x88, 0x80, 0x80, 0x80]), 0],
  ["6-byte form", bytes([0xfc, 0x84, 0x80, 0x80, 0x80, 0x80]), 0],
  ["0xFE", bytes([0xfe]), 0],
  ["0xFF", bytes([0xff]), 0],
  ["overlong '/' in 2 bytes", bytes([0xc0, 0xaf]), 0],
  ["overlong '/' in 3 bytes", bytes([0xe0, 0x80, 0xaf]), 1],
  ["overlong '/' in 4 bytes", bytes([0xf0, 0x80, 0x80, 0xaf]), 1],
  ["overlong NUL in 2 bytes", bytes([0xc0, 0x80]), 0],
  ["overlong NUL in 3 bytes", bytes([0xe0, 0x80, 0x80]), 1],
  ["overlong NUL in 4 bytes", bytes([0xf0, 0x80, 0x80, 0x80]), 1],
  ["largest overlong in 2 bytes (U+007F)", bytes([0xc1, 0xbf]), 0],
  ["largest overlong in 3 bytes (U+07FF)", bytes([0xe0, 0x9f, 0xbf]), 1],
  ["largest overlong in 4 bytes (U+FFFF)", bytes([0xf0, 0x8f, 0xbf, 0xbf]), 1],
  ["surrogate U+D800", bytes([0xed, 0xa0, 0x80]), 1],
  ["surrogate U+DB7F", bytes([0xed, 0xad, 0xbf]), 1],
  ["surrogate U+DC00", bytes([0xed, 0xb0, 0x80]), 1],
  ["surrogate U+DFFF", bytes([0xed, 0xbf, 0xbf]), 1],
  [
    "surrogate pair U+D800 U+DC00",
    bytes([0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80]),
    1,
  ],
  ["U+110000 (F4 90 ..)", bytes([0xf4, 0x90, 0x80, 0x80]), 1],
  ["U+13FFFF (F4 BF ..)", bytes([0xf4, 0xbf, 0xbf, 0xbf]), 1],
  [
    "Autobahn 6.4.1: κόσμε F4 90 80 80 edited",
    bytes("κόσμε", [0xf4, 0x90, 0x80, 0x80], "edited"),
    encode("κόσμε").length + 1,
  ],
  [
    "Autobahn 6.4.3: surrogate mid-text",
    bytes("κόσμε", [0xed, 0xa0, 0x80], "edited"),
    encode("κόσμε").length + 1,
  ],
  ["2-byte lead then ASCII", bytes([0xc2, 0x41]), 1],
  ["3-byte lead then ASCII", bytes([0xe1, 0x41]), 1],
  ["3-byte, bad third byte", bytes([0xe1, 0x80, 0x41]), 2],
  ["4-byte, bad second byte", bytes([0xf1, 0xc0]), 1],
  ["4-byte, bad third byte", bytes([0xf1, 0x80, 0x7f]), 2],
  ["4-byte, bad fourth byte", bytes([0xf1, 0x80, 0x80, 0xc2, 0x80]), 3],
  [
    "lead where a continuation is due",
    bytes([0xe2, 0x82, 0xe2, 0x82, 0xac]),
    2,
  ],
  [
    "invalid after a long ASCII run",
    bytes("x".repeat(100), [0xff], "y".repeat(50)),
    100,
  ],
  [
    "surrogate after a long run",
    bytes("é".repeat(40), "z".repeat(70), [0xed, 0xa0, 0x80]),
    151,
  ],
];

// Valid prefixes that stop inside a character.
const TRUNCATED: [string, Uint8Array][] = [
  ["2-byte lead", bytes([0xc2])],
  ["3-byte lead", bytes([0xe0])],
  ["3-byte lead and 1", bytes([0xe0, 0xa0])],
  ["ED and 1", bytes([0xed, 0x9f])],
  ["4-byte lead", bytes([0xf0])],
  ["4-byte lead and 1", bytes([0xf0, 0x90])],
  ["4-byte lead and 2", bytes([0xf4, 0x8f, 0xbf])],
  ["text then half a €", bytes("abc", [0xe2, 0x82])],
  ["long text then 3/4 of 😀", bytes("a".repeat(90), [0xf0, 0x9f, 0x98])],
];

test("utf8: valid text, whole and byte by byte, at several alignments", () => {
  for (const [name, data] of VALID) {
    for (let lead = 0; lead < 4; lead++) {
      const view = placed(data, lead);
      assert.equal(isValidUtf8(view), true, name);
      const v = new Utf8Validator();
      assert.equal(v.push(view), true, name);
      assert.equal(v.complete, true, name);
    }
    assert.equal(failIndexByteByByte(data), -1, name);
    assert.equal(decoderAccepts(data), true, `${name} (TextDecoder agrees)`);
  }
});

test("utf8: every code point boundary round-trips through TextEncoder", () => {
  for (
    const cp of [
      0,
      0x7f,
      0x80,
      0x7ff,
      0x800,
      0xd7ff,
      0xe000,
      0xfffd,
      0xffff,
      0x10000,
      0x10ffff,
    ]
  ) {
    const data = encode(String.fromCodePoint(cp));
    assert.equal(isValidUtf8(data), true, cp.toString(16));
    const v = new Utf8Validator();
    for (let i = 0; i < data.length; i++) {
      assert.equal(v.push(data, i, i + 1), true);
      assert.equal(v.complete, i === data.length - 1);
    }
  }
});

test("utf8: invalid input fails at exactly the first bad byte", () => {
  for (const [name, data, at] of INVALID) {
    assert.equal(firstInvalidIndex(data), at, `${name} (reference)`);
    assert.equal(decoderAccepts(data), false, `${name} (TextDecoder agrees)`);
    for (let lead = 0; lead < 4; lead++) {
      const view = placed(data, lead);
      assert.equal(isValidUtf8(view), false, name);
      assert.equal(new Utf8Validator().push(view), false, name);
    }
    assert.equal(failIndexByteByByte(data), at, name);
    // The prefix before the bad byte is still a good start.
    const v = new Utf8Validator();
    assert.equal(v.push(data, 0, at), true, `${name} prefix`);
    assert.equal(v.push(data, at, at + 1), false, `${name} bad byte`);
  }
});

test("utf8: truncated sequences push true but are not complete", () => {
  for (const [name, data] of TRUNCATED) {
    assert.equal(isValidUtf8(data), false, name);
    const v = new Utf8Validator();
    assert.equal(v.push(data), true, name);
    assert.equal(v.complete, false, name);
    assert.equal(failIndexByteByByte(data), -1, name);
  }
  const v = new Utf8Validator();
  assert.equal(v.push(bytes("abc", [0xe2, 0x82])), true);
  assert.equal(v.complete, false);
  assert.equal(v.push(bytes([0xac], "!")), true);
  assert.equal(v.complete, true);
});

test("utf8: valid text split at every position validates (Autobahn 6.x fragments)", () => {
  const data = bytes("Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 ", "x".repeat(80), "€");
  for (let cut = 0; cut <= data.length; cut++) {
    const v = new Utf8Validator();
    assert.equal(v.push(data.subarray(0, cut)), true);
    assert.equal(v.complete, decoderAccepts(data.subarray(0, cut)));
    assert.equal(v.push(data.subarray(cut)), true);
    assert.equal(v.complete, true, `cut at ${cut}`);
  }
});

test("utf8: push honours start and end", () => {
  const data = bytes([0xff], "é", [0xff]);
  const v = new Utf8Validator();
  assert.equal(v.push(data, 1, 2), true);
  assert.equal(v.complete, false);
  assert.equal(v.push(data, 2, 3), true);
  assert.equal(v.complete, true);
  assert.equal(v.push(data, 3, 3), true, "empty range");
  assert.equal(v.push(data, 3), false);
  assert.throws(() => v.push(data, 2, 5), RangeError);
  assert.throws(() => v.push(data, -1, 2), RangeError);
  assert.throws(() => v.push(data, 3, 2), RangeError);
});

test("utf8: failure is sticky until reset", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(bytes([0xc0])), false);
  assert.equal(v.complete, false);
  assert.equal(v.push(bytes("fine")), false);
  assert.equal(v.push(bytes()), false);
  v.reset();
  assert.equal(v.complete, true);
  assert.equal(v.push(bytes("fine")), true);
  assert.equal(v.push(bytes([0xe2])), true);
  v.reset();
  assert.equal(v.complete, true, "reset forgets an open character");
  assert.equal(v.push(bytes([0x80])), false);
});

// ── property tests ─────────────────────────────────────────────────────────

/** Random code points of every length, including some long ASCII runs. */
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc.tuple(
    fc.string({ unit: "binary", maxLength: 10 }),
    fc.string({ unit: "grapheme-ascii", minLength: 60, maxLength: 300 }),
    fc.string({ unit: "binary", maxLength: 10 }),
  ).map((parts) => parts.join("")),
);

/** Random bytes, and valid encodings broken in random ways. */
const maybeUtf8 = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ min: 0x7f, max: 0xf5, maxLength: 40 }),
  fc.tuple(
    text,
    fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }),
  ).map(([s, edits]) => {
    const data = encode(s);
    if (data.length === 0) return data;
    for (const [at, value] of edits) data[at % data.length] = value;
    return data;
  }),
  fc.tuple(text, fc.nat()).map(([s, cut]) => {
    const data = encode(s);
    return data.subarray(0, cut % (data.length + 1));
  }),
);

test("utf8: isValidUtf8 agrees with a fatal TextDecoder (property)", () => {
  fc.assert(
    fc.property(maybeUtf8, fc.nat(3), (data, lead) => {
      const expected = decoderAccepts(data);
      assert.equal(isValidUtf8(placed(data, lead)), expected);
      const v = new Utf8Validator();
      assert.equal(v.push(placed(data, lead)) && v.complete, expected);
    }),
    { numRuns: 3000 },
  );
});

test("utf8: byte-by-byte failure index matches the reference (property)", () => {
  fc.assert(
    fc.property(maybeUtf8, (data) => {
      const at = firstInvalidIndex(data);
      assert.equal(failIndexByteByByte(data), at);
      if (at === -1) {
        const v = new Utf8Validator();
        v.push(data);
        assert.equal(v.complete, decoderAccepts(data));
      }
    }),
    { numRuns: 3000 },
  );
});

test("utf8: random pieces fail in the piece holding the first bad byte (property)", () => {
  fc.assert(
    fc.property(
      maybeUtf8,
      fc.array(fc.nat(), { maxLength: 8 }),
      (data, cuts) => {
        const at = firstInvalidIndex(data);
        const points = [
          0,
          ...cuts.map((c) => c % (data.length + 1)),
          data.length,
        ]
          .sort((a, b) => a - b);
        const v = new Utf8Validator();
        for (let i = 1; i < points.length; i++) {
          const ok = v.push(data.subarray(points[i - 1], points[i]));
          const holdsBadByte = at !== -1 && at < points[i];
          assert.equal(
            ok,
            !holdsBadByte,
            `piece [${points[i - 1]}, ${points[i]})`,
          );
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test("utf8: random splits of valid text validate and complete (property)", () => {
  fc.assert(
    fc.property(
      text,
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.boolean(),
      (s, cuts, useRange) => {
        const data = encode(s);
        const points = [
          0,
          ...cuts.map((c) => c % (data.length + 1)),
          data.length,
        ]
          .sort((a, b) => a - b);
        const v = new Utf8Validator();
        for (let i = 1; i < points.length; i++) {
          const [from, to] = [points[i - 1], points[i]];
          const ok = useRange
            ? v.push(data, from, to)
            : v.push(data.subarray(from, to));
          assert.equal(ok, true);
          // Complete exactly when the prefix ends on a character boundary.
          assert.equal(v.complete, decoderAccepts(data.subarray(0, to)));
        }
        assert.equal(v.complete, true);
      },
    ),
    { numRuns: 2000 },
  );
});
