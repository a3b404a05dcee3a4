/**
 * RFC 6455 §5.3 masking: XOR of a payload with a 4-byte key, cycling.
 * Masking and unmasking are the same operation.
 *
 * Three tiers, picked by length (thresholds measured with
 * `bench/mask.bench.ts` on Node 20, Deno 2 and Bun 1):
 * - under 128 bytes, a byte loop unrolled by four with the key in locals;
 * - from 128 bytes, a loop over 32-bit words: a `Uint32Array` view of the
 *   aligned middle, XORed with the key rotated to the alignment, bytes at the
 *   ragged ends;
 * - from 256 bytes, when available, a WebAssembly SIMD kernel
 *   ({@link ./mask_wasm.ts}) that XORs 64 KiB chunks copied through its memory.
 *   Copy in, XOR and copy out together still run about twice as fast as the
 *   word loop (64 KiB: ~12 GB/s against ~7 GB/s on Node 20). The kernel, and
 *   its one 64 KiB page of memory, are created on the first call that needs
 *   them; where WebAssembly is missing or refused (say by a Content Security
 *   Policy) the word loop is used instead.
 * {@linkcode applyMaskJs} and {@linkcode maskIntoJs} are the same functions
 * without the WebAssembly tier.
 *
 * `offset` makes unmasking resumable: a payload that arrives in several
 * chunks can be unmasked chunk by chunk, passing each chunk's position within
 * the payload.
 *
 * ```ts
 * import { applyMask } from "./mask.ts";
 * const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
 * const payload = new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]); // masked "Hello"
 * applyMask(payload, key, 0, 0, 2); // first chunk: bytes 0..2
 * applyMask(payload, key, 2, 2, 5); // second chunk: bytes 2..5, payload offset 2
 * new TextDecoder().decode(payload); // "Hello"
 * ```
 *
 * @module
 */

import type { MaskKernel } from "./mask_wasm.ts";
import { instantiateMaskKernel, MASK_KERNEL_CAPACITY } from "./mask_wasm.ts";

/** Below this many bytes a byte loop beats setting up `Uint32Array` views. */
const WORD_MIN = 128;
/** From this many bytes on, the wasm kernel (copy in, SIMD XOR, copy out) wins. */
const WASM_MIN = 256;

const rotated8 = new Uint8Array(4);
const rotated32 = new Uint32Array(rotated8.buffer);

/** The key rotated to start at `phase`, as a word in platform byte order. */
function platformWord(mask: Uint8Array, phase: number): number {
  rotated8[0] = mask[phase];
  rotated8[1] = mask[(phase + 1) & 3];
  rotated8[2] = mask[(phase + 2) & 3];
  rotated8[3] = mask[(phase + 3) & 3];
  return rotated32[0];
}

/** The key rotated to start at `phase`, as a little-endian word (for wasm). */
function littleEndianWord(mask: Uint8Array, phase: number): number {
  return (mask[phase] | (mask[(phase + 1) & 3] << 8) |
    (mask[(phase + 2) & 3] << 16) | (mask[(phase + 3) & 3] << 24)) | 0;
}

let kernel: MaskKernel | null | undefined;

/** The wasm kernel, compiled on first use; `null` where unavailable. */
function getKernel(): MaskKernel | null {
  if (kernel === undefined) kernel = instantiateMaskKernel();
  return kernel;
}

/**
 * Masks `from[start..end)` into `to[start + shift..)`, through the kernel's
 * memory, 64 KiB at a time. `phase` is the key position of `from[start]`.
 */
function maskViaKernel(
  k: MaskKernel,
  from: Uint8Array,
  start: number,
  end: number,
  to: Uint8Array,
  shift: number,
  mask: Uint8Array,
  phase: number,
): void {
  const memory = k.memory;
  const word = littleEndianWord(mask, phase);
  for (let i = start; i < end; i += MASK_KERNEL_CAPACITY) {
    // Chunks are a multiple of 4 long, so the key phase never changes.
    const n = Math.min(MASK_KERNEL_CAPACITY, end - i);
    memory.set(n === from.length ? from : from.subarray(i, i + n));
    k.xor((n + 63) & ~63, word);
    to.set(memory.subarray(0, n), i + shift);
  }
}

/**
 * XORs `data[start, end)` in place with the key bytes `k0`–`k3`, `k0` first:
 * a byte loop unrolled by 4 with the key in locals, for short payloads
 * (the frame decoder and encoder call it directly with their key).
 */
export function xorKeyBytes(
  data: Uint8Array,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
  start: number,
  end: number,
): void {
  let i = start;
  for (const last = end - 3; i < last; i += 4) {
    data[i] ^= k0;
    data[i + 1] ^= k1;
    data[i + 2] ^= k2;
    data[i + 3] ^= k3;
  }
  if (i < end) data[i++] ^= k0;
  if (i < end) data[i++] ^= k1;
  if (i < end) data[i] ^= k2;
}

/** In-place byte loop; `phase` is the key position of `data[start]`. */
function applyMaskBytes(
  data: Uint8Array,
  mask: Uint8Array,
  phase: number,
  start: number,
  end: number,
): void {
  xorKeyBytes(
    data,
    mask[phase],
    mask[(phase + 1) & 3],
    mask[(phase + 2) & 3],
    mask[(phase + 3) & 3],
    start,
    end,
  );
}

/** In-place word loop over `data[start..end)`; `phase` is the key position of `data[start]`. */
function applyMaskWords(
  data: Uint8Array,
  mask: Uint8Array,
  phase: number,
  start: number,
  end: number,
): void {
  let i = start;
  // Ragged head: bytes until the absolute address is 4-aligned.
  for (let head = -(data.byteOffset + i) & 3; head > 0; head--) {
    data[i++] ^= mask[phase];
    phase = (phase + 1) & 3;
  }
  const count = (end - i) >>> 2;
  const words = new Uint32Array(data.buffer, data.byteOffset + i, count);
  const m = platformWord(mask, phase);
  let w = 0;
  for (const last = count - 3; w < last; w += 4) {
    words[w] ^= m;
    words[w + 1] ^= m;
    words[w + 2] ^= m;
    words[w + 3] ^= m;
  }
  for (; w < count; w++) words[w] ^= m;
  // Ragged tail: a whole number of words was done, so the phase is unchanged.
  for (i += count << 2; i < end; i++) {
    data[i] ^= mask[phase];
    phase = (phase + 1) & 3;
  }
}

function checkMask(mask: Uint8Array): void {
  if (mask.length < 4) throw new RangeError("mask must be 4 bytes");
}

function checkRange(data: Uint8Array, start: number, end: number): void {
  if (!(0 <= start && start <= end && end <= data.length)) {
    throw new RangeError(
      `applyMask: bad range [${start}, ${end}) for length ${data.length}`,
    );
  }
}

function checkFit(source: Uint8Array, target: Uint8Array, at: number): void {
  if (!(0 <= at && at + source.length <= target.length)) {
    throw new RangeError(
      `maskInto: ${source.length} bytes do not fit at ${at} in ${target.length}`,
    );
  }
}

/**
 * XORs `data[start..end)` in place with `mask` (4 bytes), where `offset` is
 * the position within the masked payload of `data[start]` (so a payload split
 * across chunks can be unmasked piecewise).
 *
 * @param data the bytes to (un)mask, changed in place.
 * @param mask the 4-byte masking key.
 * @param offset position of `data[start]` within the whole payload (a non-negative integer); default 0.
 * @param start first index to change; default 0.
 * @param end index after the last to change; default `data.length`.
 * @throws {RangeError} if `mask` is shorter than 4 bytes or `0 <= start <= end <= data.length` fails.
 */
export function applyMask(
  data: Uint8Array,
  mask: Uint8Array,
  offset = 0,
  start = 0,
  end: number = data.length,
): void {
  if (end - start >= WASM_MIN) {
    const k = getKernel();
    if (k !== null) {
      checkMask(mask);
      checkRange(data, start, end);
      return maskViaKernel(k, data, start, end, data, 0, mask, offset & 3);
    }
  }
  applyMaskJs(data, mask, offset, start, end);
}

/**
 * {@linkcode applyMask} in plain JavaScript, never using WebAssembly: a byte
 * loop for short ranges, 32-bit words otherwise.
 *
 * @param data the bytes to (un)mask, changed in place.
 * @param mask the 4-byte masking key.
 * @param offset position of `data[start]` within the whole payload (a non-negative integer); default 0.
 * @param start first index to change; default 0.
 * @param end index after the last to change; default `data.length`.
 * @throws {RangeError} if `mask` is shorter than 4 bytes or `0 <= start <= end <= data.length` fails.
 */
export function applyMaskJs(
  data: Uint8Array,
  mask: Uint8Array,
  offset = 0,
  start = 0,
  end: number = data.length,
): void {
  checkMask(mask);
  checkRange(data, start, end);
  const phase = offset & 3;
  if (end - start < WORD_MIN) applyMaskBytes(data, mask, phase, start, end);
  else applyMaskWords(data, mask, phase, start, end);
}

/** Whether `a` and `b` share any byte of memory. */
function overlaps(a: Uint8Array, b: Uint8Array, bStart: number): boolean {
  if (a.buffer !== b.buffer) return false;
  const from = b.byteOffset + bStart;
  return a.byteOffset < from + a.length && from < a.byteOffset + a.length;
}

/**
 * Writes `source` XOR `mask` into `target` starting at `targetOffset` (for
 * client sends: masks straight into the outgoing frame, allocating nothing).
 * `source` is not changed unless it overlaps the destination, which is
 * allowed (the result is as if `source` had been copied first). The key phase
 * starts at 0 with `source[0]`.
 *
 * @param source the unmasked payload.
 * @param target where the masked payload goes (e.g. right after a frame header).
 * @param targetOffset index in `target` of the first masked byte.
 * @param mask the 4-byte masking key.
 * @throws {RangeError} if `mask` is shorter than 4 bytes or the payload does not fit.
 */
export function maskInto(
  source: Uint8Array,
  target: Uint8Array,
  targetOffset: number,
  mask: Uint8Array,
): void {
  if (source.length >= WASM_MIN) {
    const k = getKernel();
    if (k !== null) {
      checkMask(mask);
      checkFit(source, target, targetOffset);
      if (overlaps(source, target, targetOffset)) {
        target.set(source, targetOffset); // memmove semantics
        return maskViaKernel(
          k,
          target,
          targetOffset,
          targetOffset + source.length,
          target,
          0,
          mask,
          0,
        );
      }
      return maskViaKernel(
        k,
        source,
        0,
        source.length,
        target,
        targetOffset,
        mask,
        0,
      );
    }
  }
  maskIntoJs(source, target, targetOffset, mask);
}

/**
 * {@linkcode maskInto} in plain JavaScript, never using WebAssembly.
 *
 * @param source the unmasked payload.
 * @param target where the masked payload goes.
 * @param targetOffset index in `target` of the first masked byte.
 * @param mask the 4-byte masking key.
 * @throws {RangeError} if `mask` is shorter than 4 bytes or the payload does not fit.
 */
export function maskIntoJs(
  source: Uint8Array,
  target: Uint8Array,
  targetOffset: number,
  mask: Uint8Array,
): void {
  checkMask(mask);
  checkFit(source, target, targetOffset);
  const length = source.length;
  const end = targetOffset + length;
  if (length >= WORD_MIN) {
    // Measured: a native copy plus the in-place word loop is as fast as a
    // one-pass loop reading source words and writing target words, and
    // works for any relative alignment and any overlap.
    target.set(source, targetOffset);
    return applyMaskWords(target, mask, 0, targetOffset, end);
  }
  if (overlaps(source, target, targetOffset)) {
    target.set(source, targetOffset); // memmove semantics
    return applyMaskBytes(target, mask, 0, targetOffset, end);
  }
  const m0 = mask[0];
  const m1 = mask[1];
  const m2 = mask[2];
  const m3 = mask[3];
  let i = 0;
  let j = targetOffset;
  for (const last = length - 3; i < last; i += 4, j += 4) {
    target[j] = source[i] ^ m0;
    target[j + 1] = source[i + 1] ^ m1;
    target[j + 2] = source[i + 2] ^ m2;
    target[j + 3] = source[i + 3] ^ m3;
  }
  if (i < length) target[j++] = source[i++] ^ m0;
  if (i < length) target[j++] = source[i++] ^ m1;
  if (i < length) target[j] = source[i] ^ m2;
}
