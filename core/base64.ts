/**
 * Standard base64 (RFC 4648 §4, with `=` padding) encoding and strict decoding.
 *
 * Implemented over typed arrays so it needs neither `Buffer` nor `atob`/`btoa`.
 * The decoder is strict: it accepts only the canonical padded form — length a
 * multiple of 4, alphabet `A–Z a–z 0–9 + /`, at most two `=` and only at the
 * end, and zero unused bits in the last symbol (RFC 4648 §3.5). Anything else,
 * including whitespace and the URL-safe alphabet, yields `undefined`. This is
 * what `Sec-WebSocket-Key` validation needs.
 *
 * @example
 * ```ts
 * import { decodeBase64, encodeBase64 } from "./base64.ts";
 * const text = encodeBase64(new Uint8Array([1, 2, 3])); // "AQID"
 * const bytes = decodeBase64(text); // Uint8Array [1, 2, 3]
 * decodeBase64("AQI"); // undefined (not padded)
 * ```
 *
 * @module
 */

const ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Maps an ASCII code to its 6-bit value, or -1 when it is not in the alphabet. */
const DECODE = /* @__PURE__ */ (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/**
 * Encodes bytes as padded standard base64.
 *
 * @param bytes The bytes to encode.
 * @returns The base64 text (empty for empty input).
 */
export function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  const len = bytes.length;
  const whole = len - (len % 3);
  let i = 0;
  for (; i < whole; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >>> 18] + ALPHABET[(n >>> 12) & 63] +
      ALPHABET[(n >>> 6) & 63] +
      ALPHABET[n & 63];
  }
  if (len - whole === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >>> 18] + ALPHABET[(n >>> 12) & 63] + "==";
  } else if (len - whole === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >>> 18] + ALPHABET[(n >>> 12) & 63] +
      ALPHABET[(n >>> 6) & 63] + "=";
  }
  return out;
}

/** Returns the 6-bit value of the character at `i`, or -1 if it is invalid. */
function valueAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c < 128 ? DECODE[c] : -1;
}

/**
 * Strictly decodes padded standard base64.
 *
 * @param s The base64 text.
 * @returns The decoded bytes, or `undefined` if `s` is not canonical padded base64.
 */
export function decodeBase64(s: string): Uint8Array | undefined {
  const len = s.length;
  if (len % 4 !== 0) return undefined;
  if (len === 0) return new Uint8Array(0);
  const pad = s.charCodeAt(len - 1) !== 61
    ? 0
    : s.charCodeAt(len - 2) !== 61
    ? 1
    : 2;
  const out = new Uint8Array((len / 4) * 3 - pad);
  const whole = pad === 0 ? len : len - 4;
  let o = 0;
  for (let i = 0; i < whole; i += 4) {
    const a = valueAt(s, i);
    const b = valueAt(s, i + 1);
    const c = valueAt(s, i + 2);
    const d = valueAt(s, i + 3);
    if ((a | b | c | d) < 0) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 255;
    out[o++] = n & 255;
  }
  if (pad === 0) return out;
  const a = valueAt(s, whole);
  const b = valueAt(s, whole + 1);
  if ((a | b) < 0) return undefined;
  if (pad === 2) {
    if ((b & 15) !== 0) return undefined; // non-canonical: unused bits set
    out[o] = (a << 2) | (b >>> 4);
    return out;
  }
  const c = valueAt(s, whole + 2);
  if (c < 0 || (c & 3) !== 0) return undefined;
  out[o++] = (a << 2) | (b >>> 4);
  out[o] = ((b & 15) << 4) | (c >>> 2);
  return out;
}
