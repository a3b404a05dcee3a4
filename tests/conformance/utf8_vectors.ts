/**
 * UTF-8 test vectors of Autobahn TestSuite section 6 (after Markus Kuhn's
 * UTF-8 decoder capability and stress test), shared by the server and the
 * client conformance cases.
 */
import { bytes, hex } from "./harness.ts";

/** κόσμε */
export const KOSME: Uint8Array = hex("ce ba e1 bd b9 cf 83 ce bc ce b5");
/** κόσμε, a UTF-16 surrogate (U+D800), "edited": invalid. */
export const KOSME_SURROGATE_EDITED: Uint8Array = hex(
  "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64",
);
/** Valid UTF-8 with 1- and 2-byte characters. */
export const HELLO_UTF8: Uint8Array = bytes("Hello-µ@ßöäüàá-UTF-8!!");

/** The vectors: [Autobahn section, description, bytes, valid]. */
export const UTF8_VECTORS: [string, string, Uint8Array, boolean][] = [];
const add = (section: string, what: string, b: Uint8Array, valid: boolean) =>
  UTF8_VECTORS.push([section, what, b, valid]);

add("6.5.1", "κόσμε", KOSME, true);
add("6.5.2", "κόσμε in a sentence", bytes("The Greek word κόσμε."), true);
add("6.5.3", "CJK", bytes("日本語のテキスト"), true);
add("6.5.4", "emoji (4-byte)", bytes("🎉👍🏽"), true);
add("6.5.5", "mixed scripts", bytes("Ωmega, Ж, ك, א, ह, ☃"), true);

// 6.6: every prefix of κόσμε: valid only when it ends on a code point.
const BOUNDARIES = new Set([0, 2, 5, 7, 9, 11]);
for (let n = 1; n <= KOSME.length; n++) {
  add(
    `6.6.${n}`,
    `the first ${n} byte(s) of κόσμε`,
    KOSME.slice(0, n),
    BOUNDARIES.has(n),
  );
}

const vectors: [string, string, string, boolean][] = [
  ["6.7.1", "U+0000", "00", true],
  ["6.7.2", "U+0080", "c2 80", true],
  ["6.7.3", "U+0800", "e0 a0 80", true],
  ["6.7.4", "U+10000", "f0 90 80 80", true],
  ["6.8.1", "a 5-byte sequence", "f8 88 80 80 80", false],
  ["6.8.2", "a 6-byte sequence", "fc 84 80 80 80 80", false],
  ["6.9.1", "U+007F", "7f", true],
  ["6.9.2", "U+07FF", "df bf", true],
  ["6.9.3", "U+FFFF", "ef bf bf", true],
  ["6.9.4", "U+10FFFF", "f4 8f bf bf", true],
  ["6.10.1", "last 4-byte form (U+1FFFFF)", "f7 bf bf bf", false],
  ["6.10.2", "last 5-byte form", "fb bf bf bf bf", false],
  ["6.10.3", "last 6-byte form", "fd bf bf bf bf bf", false],
  ["6.11.1", "U+D7FF", "ed 9f bf", true],
  ["6.11.2", "U+E000", "ee 80 80", true],
  ["6.11.3", "U+FFFD", "ef bf bd", true],
  ["6.11.4", "U+10FFFF", "f4 8f bf bf", true],
  ["6.11.5", "U+110000", "f4 90 80 80", false],
  ["6.12.1", "a lone 80", "80", false],
  ["6.12.2", "a lone bf", "bf", false],
  ["6.12.3", "80 bf", "80 bf", false],
  ["6.12.4", "80 bf 80", "80 bf 80", false],
  ["6.12.5", "80 bf 80 bf", "80 bf 80 bf", false],
  ["6.12.6", "80 bf 80 bf 80", "80 bf 80 bf 80", false],
  ["6.12.7", "80 bf 80 bf 80 bf", "80 bf 80 bf 80 bf", false],
  ["6.14.1", "c0 (last byte missing)", "c0", false],
  ["6.14.2", "e0 80 (last byte missing)", "e0 80", false],
  ["6.14.3", "f0 80 80 (last byte missing)", "f0 80 80", false],
  ["6.14.4", "f8 80 80 80", "f8 80 80 80", false],
  ["6.14.5", "fc 80 80 80 80", "fc 80 80 80 80", false],
  ["6.14.6", "df (last byte missing)", "df", false],
  ["6.14.7", "ef bf (last byte missing)", "ef bf", false],
  ["6.14.8", "f7 bf bf", "f7 bf bf", false],
  ["6.14.9", "fb bf bf bf", "fb bf bf bf", false],
  ["6.14.10", "fd bf bf bf bf", "fd bf bf bf bf", false],
  [
    "6.15.1",
    "all of 6.14 concatenated",
    "c0 e0 80 f0 80 80 f8 80 80 80 fc 80 80 80 80 df ef bf f7 bf bf fb bf bf bf fd bf bf bf bf",
    false,
  ],
  ["6.16.1", "fe", "fe", false],
  ["6.16.2", "ff", "ff", false],
  ["6.16.3", "fe fe ff ff", "fe fe ff ff", false],
  ["6.17.1", "overlong '/' (2 bytes)", "c0 af", false],
  ["6.17.2", "overlong '/' (3 bytes)", "e0 80 af", false],
  ["6.17.3", "overlong '/' (4 bytes)", "f0 80 80 af", false],
  ["6.17.4", "overlong '/' (5 bytes)", "f8 80 80 80 af", false],
  ["6.17.5", "overlong '/' (6 bytes)", "fc 80 80 80 80 af", false],
  ["6.18.1", "maximum overlong (2 bytes)", "c1 bf", false],
  ["6.18.2", "maximum overlong (3 bytes)", "e0 9f bf", false],
  ["6.18.3", "maximum overlong (4 bytes)", "f0 8f bf bf", false],
  ["6.18.4", "maximum overlong (5 bytes)", "f8 87 bf bf bf", false],
  ["6.18.5", "maximum overlong (6 bytes)", "fc 83 bf bf bf bf", false],
  ["6.19.1", "overlong NUL (2 bytes)", "c0 80", false],
  ["6.19.2", "overlong NUL (3 bytes)", "e0 80 80", false],
  ["6.19.3", "overlong NUL (4 bytes)", "f0 80 80 80", false],
  ["6.19.4", "overlong NUL (5 bytes)", "f8 80 80 80 80", false],
  ["6.19.5", "overlong NUL (6 bytes)", "fc 80 80 80 80 80", false],
  ["6.20.1", "U+D800", "ed a0 80", false],
  ["6.20.2", "U+DB7F", "ed ad bf", false],
  ["6.20.3", "U+DB80", "ed ae 80", false],
  ["6.20.4", "U+DBFF", "ed af bf", false],
  ["6.20.5", "U+DC00", "ed b0 80", false],
  ["6.20.6", "U+DF80", "ed be 80", false],
  ["6.20.7", "U+DFFF", "ed bf bf", false],
  ["6.21.1", "U+D800 U+DC00", "ed a0 80 ed b0 80", false],
  ["6.21.2", "U+D800 U+DFFF", "ed a0 80 ed bf bf", false],
  ["6.21.3", "U+DB7F U+DC00", "ed ad bf ed b0 80", false],
  ["6.21.4", "U+DB7F U+DFFF", "ed ad bf ed bf bf", false],
  ["6.21.5", "U+DB80 U+DC00", "ed ae 80 ed b0 80", false],
  ["6.21.6", "U+DB80 U+DFFF", "ed ae 80 ed bf bf", false],
  ["6.21.7", "U+DBFF U+DC00", "ed af bf ed b0 80", false],
  ["6.21.8", "U+DBFF U+DFFF", "ed af bf ed bf bf", false],
  ["6.23.1", "U+FFFD", "ef bf bd", true],
  ["6.23.2", "U+FEFF (BOM)", "ef bb bf", true],
  ["6.23.3", "U+200B", "e2 80 8b", true],
];
for (const [section, what, h, valid] of vectors) {
  add(section, what, hex(h), valid);
}

// 6.12.8: all 64 continuation bytes.
add(
  "6.12.8",
  "all 64 continuation bytes 80..bf",
  Uint8Array.from({ length: 64 }, (_, i) => 0x80 + i),
  false,
);
// 6.13: lonely start bytes, each followed by a space.
const lonely = (from: number, to: number) =>
  Uint8Array.from(
    { length: 2 * (to - from + 1) },
    (_, i) => i % 2 ? 0x20 : from + i / 2,
  );
add("6.13.1", "lonely 2-byte starts c0..df", lonely(0xc0, 0xdf), false);
add("6.13.2", "lonely 3-byte starts e0..ef", lonely(0xe0, 0xef), false);
add("6.13.3", "lonely 4-byte starts f0..f7", lonely(0xf0, 0xf7), false);
add("6.13.4", "lonely 5-byte starts f8..fb", lonely(0xf8, 0xfb), false);
add("6.13.5", "lonely 6-byte starts fc..fd", lonely(0xfc, 0xfd), false);
// 6.22: non-characters are valid UTF-8 (U+FFFE, U+FFFF, U+nFFFE, U+nFFFF, U+FDD0..).
let n22 = 0;
for (let plane = 0; plane <= 16; plane++) {
  for (const low of [0xfffe, 0xffff]) {
    const cp = plane * 0x10000 + low;
    add(
      `6.22.${++n22}`,
      `non-character U+${cp.toString(16).toUpperCase()}`,
      bytes(String.fromCodePoint(cp)),
      true,
    );
  }
}
add(
  "6.22.35",
  "non-characters U+FDD0..U+FDEF",
  bytes(
    String.fromCodePoint(
      ...Array.from({ length: 32 }, (_, i) => 0xfdd0 + i),
    ),
  ),
  true,
);
