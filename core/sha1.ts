/**
 * Synchronous SHA-1 (FIPS 180-4) over a `Uint8Array`.
 *
 * The opening handshake needs `base64(sha1(key + GUID))` computed synchronously
 * and without any runtime-specific module, and `crypto.subtle.digest` is
 * asynchronous, so the core carries this small pure-TypeScript implementation.
 * SHA-1 is used here only for the RFC 6455 accept token, never for security.
 *
 * @example
 * ```ts
 * import { sha1 } from "./sha1.ts";
 * const digest = sha1(new TextEncoder().encode("abc"));
 * console.log(digest.length); // 20
 * ```
 *
 * @module
 */

/** Processes one 64-byte block of `buf` starting at `off`, updating `h`. */
function compress(
  h: Int32Array,
  w: Int32Array,
  buf: Uint8Array,
  off: number,
): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    w[i] = (buf[j] << 24) | (buf[j + 1] << 16) | (buf[j + 2] << 8) | buf[j + 3];
  }
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = h[0];
  let b = h[1];
  let c = h[2];
  let d = h[3];
  let e = h[4];
  for (let i = 0; i < 80; i++) {
    let f: number;
    let k: number;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + b) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0;
  h[4] = (h[4] + e) | 0;
}

/**
 * Computes the SHA-1 digest of `data`.
 *
 * @param data The bytes to hash (not modified).
 * @returns A new 20-byte `Uint8Array` holding the digest.
 */
export function sha1(data: Uint8Array): Uint8Array {
  const h = new Int32Array([
    0x67452301,
    0xefcdab89 | 0,
    0x98badcfe | 0,
    0x10325476,
    0xc3d2e1f0 | 0,
  ]);
  const w = new Int32Array(80);
  const len = data.length;
  const tailLen = len % 64;
  const full = len - tailLen;
  for (let off = 0; off < full; off += 64) compress(h, w, data, off);

  // Padding: 0x80, zeros, then the 64-bit big-endian message length in bits.
  const tail = new Uint8Array(tailLen < 56 ? 64 : 128);
  tail.set(data.subarray(full));
  tail[tailLen] = 0x80;
  const hiBits = Math.floor(len / 0x20000000); // (len * 8) / 2^32
  const loBits = (len * 8) >>> 0;
  const p = tail.length - 8;
  tail[p] = hiBits >>> 24;
  tail[p + 1] = hiBits >>> 16;
  tail[p + 2] = hiBits >>> 8;
  tail[p + 3] = hiBits;
  tail[p + 4] = loBits >>> 24;
  tail[p + 5] = loBits >>> 16;
  tail[p + 6] = loBits >>> 8;
  tail[p + 7] = loBits;
  for (let off = 0; off < tail.length; off += 64) compress(h, w, tail, off);

  const out = new Uint8Array(20);
  for (let i = 0; i < 5; i++) {
    const v = h[i];
    out[i * 4] = v >>> 24;
    out[i * 4 + 1] = v >>> 16;
    out[i * 4 + 2] = v >>> 8;
    out[i * 4 + 3] = v;
  }
  return out;
}
