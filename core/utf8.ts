/**
 * UTF-8 validation (RFC 3629), incremental and fail-fast, for text messages
 * and close reasons (RFC 6455 §5.6, §8.1).
 *
 * {@linkcode Utf8Validator} takes a message's bytes in any number of pieces
 * (frames, or parts of frames as they arrive) and reports an error as soon as
 * the bytes so far cannot begin any valid UTF-8 text: the byte that makes it
 * impossible, not the end of the character or of the message. That is what lets
 * an endpoint fail the connection with 1007 mid-fragment. Rejected are stray
 * continuation bytes, `0xC0`, `0xC1` and `0xF5`–`0xFF`, overlong forms,
 * surrogates (U+D800–U+DFFF) and anything above U+10FFFF.
 *
 * The work is split three ways: a scan of 32-bit words skips ASCII runs, a
 * loop checks whole multi-byte characters at once, and a table-driven DFA over
 * byte classes handles the characters that straddle a piece boundary. The DFA
 * alone is the specification: the fast paths accept exactly what it accepts.
 *
 * ```ts
 * import { isValidUtf8, Utf8Validator } from "./utf8.ts";
 * const v = new Utf8Validator();
 * v.push(new Uint8Array([0x68, 0xe2, 0x82])); // true: "h" and 2/3 of "€"
 * v.complete; // false: the message may not end here
 * v.push(new Uint8Array([0xac])); // true, and v.complete is now true
 * isValidUtf8(new Uint8Array([0xed, 0xa0, 0x80])); // false: a surrogate
 * ```
 *
 * @module
 */

// Byte classes. The lead bytes E0, ED, F0 and F4 get classes of their own
// because they narrow the range of the byte after them.
//   0: 00..7F  ASCII                     6: E0      3-byte lead, then A0..BF
//   1: 80..8F  continuation              7: E1..EC, EE..EF  3-byte lead
//   2: 90..9F  continuation              8: ED      3-byte lead, then 80..9F
//   3: A0..BF  continuation              9: F0      4-byte lead, then 90..BF
//   4: C0, C1, F5..FF  never valid      10: F1..F3  4-byte lead
//   5: C2..DF  2-byte lead              11: F4      4-byte lead, then 80..8F
const CLASS_OF = new Uint8Array(256).fill(4);
for (
  const [low, high, byteClass] of [
    [0x00, 0x7f, 0],
    [0x80, 0x8f, 1],
    [0x90, 0x9f, 2],
    [0xa0, 0xbf, 3],
    [0xc2, 0xdf, 5],
    [0xe0, 0xe0, 6],
    [0xe1, 0xef, 7],
    [0xed, 0xed, 8], // after E1..EF, which it overrides
    [0xf0, 0xf0, 9],
    [0xf1, 0xf3, 10],
    [0xf4, 0xf4, 11],
  ]
) {
  CLASS_OF.fill(byteClass, low, high + 1);
}

// DFA states, premultiplied by 16 so that `state + class` indexes the table.
const ACCEPT = 0; //    on a character boundary
const REJECT = 16; //   not a prefix of valid UTF-8 (absorbing)
const NEED1 = 32; //    1 more continuation byte, 80..BF
const NEED2 = 48; //    2 more, 80..BF
const NEED2_E0 = 64; // 2 more, the first A0..BF (no overlongs)
const NEED2_ED = 80; // 2 more, the first 80..9F (no surrogates)
const NEED3 = 96; //    3 more, 80..BF
const NEED3_F0 = 112; // 3 more, the first 90..BF (no overlongs)
const NEED3_F4 = 128; // 3 more, the first 80..8F (nothing above U+10FFFF)

const NEXT = new Uint8Array(144).fill(REJECT);
const edges: [from: number, classes: number[], to: number][] = [
  [ACCEPT, [0], ACCEPT],
  [ACCEPT, [5], NEED1],
  [ACCEPT, [6], NEED2_E0],
  [ACCEPT, [7], NEED2],
  [ACCEPT, [8], NEED2_ED],
  [ACCEPT, [9], NEED3_F0],
  [ACCEPT, [10], NEED3],
  [ACCEPT, [11], NEED3_F4],
  [NEED1, [1, 2, 3], ACCEPT],
  [NEED2, [1, 2, 3], NEED1],
  [NEED2_E0, [3], NEED1],
  [NEED2_ED, [1, 2], NEED1],
  [NEED3, [1, 2, 3], NEED2],
  [NEED3_F0, [2, 3], NEED2],
  [NEED3_F4, [1], NEED2],
];
for (const [from, classes, to] of edges) {
  for (const c of classes) NEXT[from + c] = to;
}

// For the whole-character loop, per lead byte: its sequence length (0 when it
// cannot lead) and the allowed range of the byte after it.
const LENGTH = new Uint8Array(256);
const LOW = new Uint8Array(256).fill(0x80);
const HIGH = new Uint8Array(256).fill(0xbf);
const LENGTH_AFTER: Record<number, number> = {
  [ACCEPT]: 1,
  [REJECT]: 0,
  [NEED1]: 2,
  [NEED2]: 3,
  [NEED2_E0]: 3,
  [NEED2_ED]: 3,
  [NEED3]: 4,
  [NEED3_F0]: 4,
  [NEED3_F4]: 4,
};
for (let b = 0; b < 256; b++) LENGTH[b] = LENGTH_AFTER[NEXT[CLASS_OF[b]]];
LOW[0xe0] = 0xa0;
HIGH[0xed] = 0x9f;
LOW[0xf0] = 0x90;
HIGH[0xf4] = 0x8f;

/** Below this many bytes, making a `Uint32Array` view costs more than it saves. */
const WORDS_MIN = 64;

/**
 * Checks whole characters in `bytes[i..end)`. Returns -1 at the first invalid
 * one, otherwise the index where it stopped: `end`, or the start of a last
 * character that does not fit before `end`.
 */
function scan(bytes: Uint8Array, i: number, end: number): number {
  // ASCII runs are skipped 4 bytes at a time through a view of the aligned
  // middle; `base` is the index in `bytes` of words[0].
  let words: Uint32Array | null = null;
  let base = 0;
  let count = 0;
  if (end - i >= WORDS_MIN) {
    const first = (bytes.byteOffset + i + 3) & ~3;
    base = first - bytes.byteOffset;
    count = (bytes.byteOffset + end - first) >>> 2;
    words = new Uint32Array(bytes.buffer, first, count);
  }
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      if (words !== null && ((i - base) & 3) === 0) {
        let k = (i - base) >>> 2;
        while (k < count && (words[k] & 0x80808080) === 0) k++;
        i = base + (k << 2);
      }
      continue;
    }
    const length = LENGTH[b];
    if (length === 2) {
      if (i + 1 >= end) return i;
      if ((bytes[i + 1] & 0xc0) !== 0x80) return -1;
      i += 2;
    } else if (length === 3) {
      if (i + 2 >= end) return i;
      const b1 = bytes[i + 1];
      if (b1 < LOW[b] || b1 > HIGH[b] || (bytes[i + 2] & 0xc0) !== 0x80) {
        return -1;
      }
      i += 3;
    } else if (length === 4) {
      if (i + 3 >= end) return i;
      const b1 = bytes[i + 1];
      if (
        b1 < LOW[b] || b1 > HIGH[b] || (bytes[i + 2] & 0xc0) !== 0x80 ||
        (bytes[i + 3] & 0xc0) !== 0x80
      ) {
        return -1;
      }
      i += 4;
    } else {
      return -1;
    }
  }
  return i;
}

function checkRange(bytes: Uint8Array, start: number, end: number): void {
  if (!(0 <= start && start <= end && end <= bytes.length)) {
    throw new RangeError(
      `Utf8Validator.push: bad range [${start}, ${end}) for length ${bytes.length}`,
    );
  }
}

/**
 * Incremental, fail-fast UTF-8 validator for one message at a time.
 *
 * ```ts
 * import { Utf8Validator } from "./utf8.ts";
 * const v = new Utf8Validator();
 * const ok = v.push(new Uint8Array([0xf0, 0x9f])) && // first half of 😀
 *   v.push(new Uint8Array([0x98, 0x80])); //           second half
 * ok && v.complete; // true
 * ```
 */
export class Utf8Validator {
  #state: number = ACCEPT;

  /**
   * Feeds bytes; returns false as soon as the sequence so far cannot be a
   * prefix of valid UTF-8 (overlongs, surrogates D800-DFFF, > U+10FFFF, bad
   * continuation, 0xC0/0xC1/0xF5-0xFF). Once it has returned false it keeps
   * returning false until {@linkcode Utf8Validator.reset}.
   *
   * @param bytes the next bytes of the message.
   * @param start first index of `bytes` to use; default 0.
   * @param end index after the last to use; default `bytes.length`.
   * @returns whether everything pushed so far is a prefix of valid UTF-8.
   * @throws {RangeError} unless `0 <= start <= end <= bytes.length`.
   */
  push(bytes: Uint8Array, start = 0, end: number = bytes.length): boolean {
    checkRange(bytes, start, end);
    let state = this.#state;
    let i = start;
    // Finish a character left open by the previous push.
    while (state > REJECT && i < end) {
      state = NEXT[state + CLASS_OF[bytes[i++]]];
    }
    if (state === ACCEPT) {
      i = scan(bytes, i, end);
      if (i < 0) {
        state = REJECT;
      } else {
        // Open the last character (at most 3 bytes), which may already fail.
        while (i < end && state !== REJECT) {
          state = NEXT[state + CLASS_OF[bytes[i++]]];
        }
      }
    }
    this.#state = state;
    return state !== REJECT;
  }

  /** True if the bytes so far end on a character boundary (call at message end). */
  get complete(): boolean {
    return this.#state === ACCEPT;
  }

  /** Forgets everything pushed so far, ready for the next message. */
  reset(): void {
    this.#state = ACCEPT;
  }
}

/**
 * Whether `bytes` is, as a whole, valid UTF-8 (e.g. a close reason).
 *
 * @param bytes the bytes to check.
 * @returns true if `bytes` is valid UTF-8 ending on a character boundary.
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return scan(bytes, 0, bytes.length) === bytes.length;
}
