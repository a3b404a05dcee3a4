/**
 * The frame encoder (RFC 6455 §5.2): all three length forms, client masking
 * with a fresh key per frame, and output as a list of chunks so that a large
 * unmasked payload is written as is, after its header, never concatenated.
 *
 * @module
 */

import { maskInto } from "./mask.ts";

/** Payloads up to this size are copied next to their header (one write). */
export const COALESCE_LIMIT = 4096;

/** How a frame is encoded. */
export interface EncodeOptions {
  /** Final frame of its message (default true). */
  fin?: boolean;
  /** Reserved bits, RSV1 as 0b100 (default 0). */
  rsv?: number;
  /** Mask the payload, as a client must (default false). */
  mask?: boolean;
}

const RANDOM_POOL_SIZE = 4096;
let randomPool = new Uint8Array(0);
let randomOffset = 0;

/** Four fresh random bytes from `crypto.getRandomValues`, drawn in batches. */
function nextMaskKey(): Uint8Array {
  if (randomOffset + 4 > randomPool.length) {
    randomPool = crypto.getRandomValues(new Uint8Array(RANDOM_POOL_SIZE));
    randomOffset = 0;
  }
  const key = randomPool.subarray(randomOffset, randomOffset + 4);
  randomOffset += 4;
  return key;
}

/** The header size of a frame with `length` payload bytes. */
export function frameHeaderSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** Writes a frame header at `target[0]`; returns the offset after it. */
function writeHeader(
  target: Uint8Array,
  opcode: number,
  length: number,
  fin: boolean,
  rsv: number,
  masked: boolean,
): number {
  target[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) {
    target[1] = maskBit | length;
    return 2;
  }
  if (length < 0x10000) {
    target[1] = maskBit | 126;
    target[2] = length >>> 8;
    target[3] = length & 0xff;
    return 4;
  }
  target[1] = maskBit | 127;
  const high = Math.floor(length / 0x1_0000_0000);
  target[2] = 0;
  target[3] = 0;
  target[4] = (high >>> 8) & 0xff;
  target[5] = high & 0xff;
  target[6] = length >>> 24;
  target[7] = (length >>> 16) & 0xff;
  target[8] = (length >>> 8) & 0xff;
  target[9] = length & 0xff;
  return 10;
}

/**
 * Encodes one frame and returns the bytes to write, in order: one chunk
 * (header and payload together) when the payload is masked or small, else
 * the header and then `payload` itself, uncopied. A masked payload is
 * copied exactly once, masking as it goes; `payload` is never modified.
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeOptions = {},
): Uint8Array[] {
  const masked = options.mask ?? false;
  const length = payload.length;
  const headerLength = frameHeaderSize(length, masked);
  const together = masked || length <= COALESCE_LIMIT;
  const out = new Uint8Array(together ? headerLength + length : headerLength);
  let p = writeHeader(
    out,
    opcode,
    length,
    options.fin ?? true,
    options.rsv ?? 0,
    masked,
  );
  if (masked) {
    const key = nextMaskKey();
    out.set(key, p);
    p += 4;
    maskInto(payload, out, p, key);
    return [out];
  }
  if (together) {
    out.set(payload, p);
    return [out];
  }
  return [out, payload];
}
