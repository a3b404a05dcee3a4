/**
 * The frame encoder (RFC 6455 §5.2): all three length forms, client masking
 * with a fresh key per frame, and output as a list of chunks so that a large
 * unmasked payload is written as is, after its header, never concatenated.
 *
 * Small frames are written into a shared slab (`frameSlab`): one 64 KiB
 * buffer carved into frames front to back and replaced, never rewound, when
 * full, so a frame handed out is never overwritten and allocating one costs
 * a bump of an offset rather than a new `ArrayBuffer`. Connections queue
 * their frames in an `OutputQueue` (`./output.ts`), which packs consecutive
 * frames into one chunk; {@linkcode encodeFrame} is the one-frame
 * convenience over the same pieces.
 *
 * @module
 */

import { applyMask, maskInto, xorKeyBytes } from "./mask.ts";

/** Payloads up to this size are copied next to their header (one write). */
export const COALESCE_LIMIT = 4096;

/** Frames up to this size (header included) are carved out of the slab. */
export const SLAB_FRAME_LIMIT = 16 * 1024;

const SLAB_SIZE = 64 * 1024;

/**
 * The shared slab small frames are written into. To write `size` bytes:
 * `frameSlab.reserve(size)`, write at `frameSlab.bytes[frameSlab.used]`
 * onwards, then advance `frameSlab.used` past what was written. Bytes
 * before `used` belong to whoever wrote them and are never written again.
 */
export const frameSlab: {
  /** The current slab. */
  bytes: Uint8Array;
  /** Offset of the first free byte. */
  used: number;
  /** Makes sure `size` (at most 64 KiB) bytes are free at `used`. */
  reserve(size: number): void;
} = {
  bytes: new Uint8Array(0),
  used: 0,
  reserve(size: number): void {
    if (this.used + size > this.bytes.length) {
      this.bytes = new Uint8Array(SLAB_SIZE);
      this.used = 0;
    }
  },
};

/** How a frame is encoded. */
export interface EncodeOptions {
  /** Final frame of its message (default true). */
  fin?: boolean;
  /** Reserved bits, RSV1 as 0b100 (default 0). */
  rsv?: number;
  /** Mask the payload, as a client must (default false). */
  mask?: boolean;
}

/** Shorter payloads are masked by a loop here, longer ones by `./mask.ts`. */
const MASK_LOOP = 128;

const RANDOM_POOL_SIZE = 4096;
let randomPool = new Uint8Array(0);
let randomOffset = 0;
/** The key last written by `writeMaskKey`, for the masking functions. */
const lastKey = new Uint8Array(4);

/**
 * Writes four fresh random bytes (a masking key) at `target[at]`, drawn from
 * `crypto.getRandomValues` in batches.
 */
export function writeMaskKey(target: Uint8Array, at: number): void {
  if (randomOffset + 4 > randomPool.length) {
    randomPool = crypto.getRandomValues(new Uint8Array(RANDOM_POOL_SIZE));
    randomOffset = 0;
  }
  const pool = randomPool;
  const i = randomOffset;
  target[at] = lastKey[0] = pool[i];
  target[at + 1] = lastKey[1] = pool[i + 1];
  target[at + 2] = lastKey[2] = pool[i + 2];
  target[at + 3] = lastKey[3] = pool[i + 3];
  randomOffset = i + 4;
}

/**
 * Writes `payload` masked with the key just written by `writeMaskKey` into
 * `target[at]` onwards: one pass, `payload` unchanged.
 */
export function writeMaskedPayload(
  payload: Uint8Array,
  target: Uint8Array,
  at: number,
): void {
  const length = payload.length;
  if (length >= MASK_LOOP) {
    maskInto(payload, target, at, lastKey);
    return;
  }
  const k0 = lastKey[0];
  const k1 = lastKey[1];
  const k2 = lastKey[2];
  const k3 = lastKey[3];
  let i = 0;
  for (const last = length - 3; i < last; i += 4) {
    target[at + i] = payload[i] ^ k0;
    target[at + i + 1] = payload[i + 1] ^ k1;
    target[at + i + 2] = payload[i + 2] ^ k2;
    target[at + i + 3] = payload[i + 3] ^ k3;
  }
  if (i < length) target[at + i] = payload[i] ^ k0;
  if (++i < length) target[at + i] = payload[i] ^ k1;
  if (++i < length) target[at + i] = payload[i] ^ k2;
}

/**
 * Masks `target[start..end)` in place with the key just written by
 * `writeMaskKey` (for payloads encoded straight into place).
 */
export function maskInPlace(
  target: Uint8Array,
  start: number,
  end: number,
): void {
  if (end - start >= MASK_LOOP) {
    applyMask(target, lastKey, 0, start, end);
    return;
  }
  xorKeyBytes(
    target,
    lastKey[0],
    lastKey[1],
    lastKey[2],
    lastKey[3],
    start,
    end,
  );
}

/** The header size of a frame with `length` payload bytes. */
export function frameHeaderSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header, without the masking key, at `target[at]`; returns
 * the offset after it (where a client's key goes).
 */
export function writeFrameHeader(
  target: Uint8Array,
  at: number,
  opcode: number,
  length: number,
  fin: boolean,
  rsv: number,
  masked: boolean,
): number {
  target[at] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) {
    target[at + 1] = maskBit | length;
    return at + 2;
  }
  if (length < 0x10000) {
    target[at + 1] = maskBit | 126;
    target[at + 2] = length >>> 8;
    target[at + 3] = length & 0xff;
    return at + 4;
  }
  target[at + 1] = maskBit | 127;
  const high = Math.floor(length / 0x1_0000_0000);
  target[at + 2] = 0;
  target[at + 3] = 0;
  target[at + 4] = (high >>> 8) & 0xff;
  target[at + 5] = high & 0xff;
  target[at + 6] = length >>> 24;
  target[at + 7] = (length >>> 16) & 0xff;
  target[at + 8] = (length >>> 8) & 0xff;
  target[at + 9] = length & 0xff;
  return at + 10;
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
  const fin = options.fin ?? true;
  const rsv = options.rsv ?? 0;
  const length = payload.length;
  const headerLength = frameHeaderSize(length, masked);
  const together = masked || length <= COALESCE_LIMIT;
  const size = together ? headerLength + length : headerLength;
  let out: Uint8Array;
  let at = 0;
  if (size <= SLAB_FRAME_LIMIT) {
    frameSlab.reserve(size);
    out = frameSlab.bytes;
    at = frameSlab.used;
    frameSlab.used = at + size;
  } else {
    out = new Uint8Array(size);
  }
  const p = writeFrameHeader(out, at, opcode, length, fin, rsv, masked);
  if (masked) {
    writeMaskKey(out, p);
    writeMaskedPayload(payload, out, p + 4);
  } else if (together) {
    out.set(payload, p);
  }
  const frame = out.length === size ? out : out.subarray(at, at + size);
  return together ? [frame] : [frame, payload];
}
