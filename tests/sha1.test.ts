import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { sha1 } from "../core/sha1.ts";
import { decodeBase64, encodeBase64 } from "../core/base64.ts";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const nodeSha1 = (b: Uint8Array): string =>
  createHash("sha1").update(b).digest("hex");
const nodeBase64 = (b: Uint8Array): string => {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
};

test("sha1: empty input", () => {
  assert.equal(
    hex(sha1(new Uint8Array(0))),
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
  );
});

test("sha1: abc", () => {
  assert.equal(
    hex(sha1(ascii("abc"))),
    "a9993e364706816aba3e25717850c26c9cd0d89d",
  );
});

test("sha1: 448-bit message", () => {
  const msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  assert.equal(
    hex(sha1(ascii(msg))),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
});

test("sha1: 896-bit message", () => {
  const msg =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno" +
    "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  assert.equal(
    hex(sha1(ascii(msg))),
    "a49b2446a02c645bf419f995b67091253a04a259",
  );
});

test("sha1: one million 'a's", () => {
  const msg = new Uint8Array(1_000_000).fill(0x61);
  assert.equal(hex(sha1(msg)), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
});

test("sha1: every length around the padding boundaries matches node:crypto", () => {
  for (let len = 0; len <= 200; len++) {
    const data = Uint8Array.from(
      { length: len },
      (_, i) => (i * 131 + len) & 255,
    );
    assert.equal(hex(sha1(data)), nodeSha1(data), `length ${len}`);
  }
});

test("sha1: returns 20 bytes and does not modify its input", () => {
  const data = Uint8Array.from({ length: 100 }, (_, i) => i);
  const copy = data.slice();
  const digest = sha1(data);
  assert.equal(digest.length, 20);
  assert.deepEqual(data, copy);
});

test("sha1: works on a subarray view with an offset", () => {
  const big = Uint8Array.from({ length: 300 }, (_, i) => i & 255);
  const view = big.subarray(37, 250);
  assert.equal(hex(sha1(view)), nodeSha1(view));
});

test("sha1: random inputs match node:crypto (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1000 }), (data) => {
      assert.equal(hex(sha1(data)), nodeSha1(data));
    }),
    { numRuns: 500 },
  );
});

test("base64: RFC 4648 test vectors encode", () => {
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg=="],
    ["fooba", "Zm9vYmE="],
    ["foobar", "Zm9vYmFy"],
  ];
  for (const [plain, encoded] of vectors) {
    assert.equal(encodeBase64(ascii(plain)), encoded);
    assert.deepEqual(decodeBase64(encoded), ascii(plain));
  }
});

test("base64: all byte values round-trip and use + and /", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const text = encodeBase64(all);
  assert.equal(text, nodeBase64(all));
  assert.ok(text.includes("+") && text.includes("/"));
  assert.deepEqual(decodeBase64(text), all);
});

test("base64: a 16-byte key encodes to 24 chars ending in ==", () => {
  const key = encodeBase64(new Uint8Array(16).fill(0xab));
  assert.equal(key.length, 24);
  assert.ok(key.endsWith("=="));
  assert.equal(decodeBase64(key)?.length, 16);
});

test("base64: decode rejects missing padding", () => {
  assert.equal(decodeBase64("Zg"), undefined);
  assert.equal(decodeBase64("Zm8"), undefined);
  assert.equal(decodeBase64("Zm9vYg"), undefined);
});

test("base64: decode rejects invalid characters", () => {
  for (
    const s of [
      "Zm9v!A==",
      "Zm-v",
      "Zm_v",
      "Zm9 ",
      " Zm9",
      "Zm9v\n",
      "Zm\u00e9v",
      "Zm\u2603v",
    ]
  ) {
    assert.equal(decodeBase64(s), undefined, JSON.stringify(s));
  }
});

test("base64: decode rejects misplaced or excess padding", () => {
  for (
    const s of ["====", "Z===", "=Zm9", "Zm=v", "Zg==Zm9v", "Zm9v====", "Z=g="]
  ) {
    assert.equal(decodeBase64(s), undefined, s);
  }
});

test("base64: decode rejects non-canonical trailing bits", () => {
  assert.equal(decodeBase64("Zh=="), undefined);
  assert.equal(decodeBase64("Zm9="), undefined);
  assert.deepEqual(decodeBase64("Zg=="), ascii("f"));
  assert.deepEqual(decodeBase64("Zm8="), ascii("fo"));
});

test("base64: empty string decodes to empty bytes", () => {
  assert.deepEqual(decodeBase64(""), new Uint8Array(0));
});

test("base64: random bytes round-trip and match btoa (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
      const text = encodeBase64(data);
      assert.equal(text, nodeBase64(data));
      assert.deepEqual(decodeBase64(text), data);
    }),
    { numRuns: 500 },
  );
});

test("base64: random strings never throw, and accepted ones are canonical (property)", () => {
  const chars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ ";
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...chars.split("")), { maxLength: 24 }).map((
        a,
      ) => a.join("")),
      (s) => {
        const bytes = decodeBase64(s);
        if (bytes !== undefined) assert.equal(encodeBase64(bytes), s);
      },
    ),
    { numRuns: 2000 },
  );
});
