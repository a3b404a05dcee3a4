/**
 * An incremental frame decoder: chunks of any size go in, frame headers and
 * unmasked payload pieces come out through a {@linkcode FrameSink}, with no
 * allocation per frame.
 *
 * The decoder never buffers a payload: each piece it hands on is a range of
 * the chunk it was given (unmasked in place), so a large frame costs no copy
 * here. Only a header split across chunks is gathered, in a 14-byte scratch.
 * It enforces the framing rules of RFC 6455 §5.2–5.5 that need no message
 * context: reserved bits, opcodes, control-frame length and fragmentation,
 * masking by role, and the 64-bit length's top bit.
 *
 * @module
 */

import { ProtocolError, rsvErrorId } from "./errors.ts";
import { MAX_CONTROL_PAYLOAD } from "./frame.ts";
import { applyMask, xorKeyBytes } from "./mask.ts";

/**
 * Receives what the decoder finds. Any method may throw a `ProtocolError`.
 * Nothing is allocated per frame: the header comes as arguments, payload as
 * a range of the pushed chunk.
 */
export interface FrameSink {
  /** A frame header arrived; `length` payload bytes follow. */
  frameStart(fin: boolean, rsv: number, opcode: number, length: number): void;
  /**
   * A non-empty piece of the current frame's payload, unmasked, in
   * `data[start, end)`: part of a chunk passed to `push`, which the sink
   * may keep a view of.
   */
  framePayload(data: Uint8Array, start: number, end: number): void;
  /** The current frame's payload is complete. */
  frameEnd(): void;
  /**
   * Optional: a whole final frame, header and payload, found in one chunk:
   * its payload, unmasked, is `data[start, end)` (never empty). When the
   * sink has this method the decoder calls it for such frames instead of
   * the three above, which saves work in the common case of small messages.
   */
  frame?(
    opcode: number,
    rsv: number,
    data: Uint8Array,
    start: number,
    end: number,
  ): void;
}

/** Options for {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /** `"server"` requires masked frames, `"client"` requires unmasked ones. */
  role: "client" | "server";
  /** Reserved bits an extension has claimed (e.g. `RSV1`); others fail. */
  allowedRsv?: number;
}

const VALID_OPCODES = 0b0000_0111_0000_0111; // 0,1,2,8,9,10

/** Parses frames incrementally; see the module doc. */
export class FrameDecoder {
  /** Reserved bits currently allowed; an extension may set this. */
  allowedRsv: number;
  readonly #expectMasked: boolean;
  readonly #sink: FrameSink;
  readonly #whole: boolean;
  /** A header split across chunks is gathered here (made when needed). */
  #scratch: Uint8Array | undefined;
  #scratchLength = 0;
  #m0 = 0;
  #m1 = 0;
  #m2 = 0;
  #m3 = 0;
  #masked = false;
  #maskOffset = 0;
  /** Payload bytes of the current frame still to come (0: expect a header). */
  #remaining = 0;
  /** Set by `halt()`: `push` stops after the sink call in progress. */
  #halted = false;

  /** Creates a decoder that reports to `sink`. */
  constructor(sink: FrameSink, options: FrameDecoderOptions) {
    this.#sink = sink;
    this.#whole = typeof sink.frame === "function";
    this.#expectMasked = options.role === "server";
    this.allowedRsv = options.allowedRsv ?? 0;
  }

  /**
   * Consumes `chunk`. Masked payloads are unmasked in place, so the caller
   * hands over the chunk and must not reuse it. Throws `ProtocolError`.
   * Returns how many bytes it consumed: all of them, unless the sink called
   * {@linkcode FrameDecoder.halt} (push the rest again to go on).
   */
  push(chunk: Uint8Array): number {
    const length = chunk.length;
    let pos = 0;
    while (pos < length) {
      if (this.#remaining > 0) {
        pos = this.#payload(chunk, pos, length);
      } else if (this.#scratchLength === 0 && length - pos >= 2) {
        const end = this.#header(chunk, pos, length);
        pos = end < 0 ? this.#gather(chunk, pos) : end;
      } else {
        pos = this.#gather(chunk, pos);
      }
      if (this.#halted) {
        this.#halted = false;
        return pos;
      }
    }
    return length;
  }

  /**
   * Called by the sink from `frameEnd` (or `frame`): the `push` in progress
   * returns right after the frame that just ended, leaving the rest of its
   * chunk unread.
   */
  halt(): void {
    this.#halted = true;
  }

  /** Hands on payload bytes from `chunk[pos, length)`; returns where it stopped. */
  #payload(chunk: Uint8Array, pos: number, length: number): number {
    const remaining = this.#remaining;
    const end = length - pos > remaining ? pos + remaining : length;
    if (this.#masked) {
      if (end - pos < SMALL_UNMASK && this.#maskOffset === 0) {
        xorKeyBytes(chunk, this.#m0, this.#m1, this.#m2, this.#m3, pos, end);
      } else {
        applyMask(chunk, this.#shareMask(), this.#maskOffset, pos, end);
      }
      this.#maskOffset += end - pos;
    }
    this.#remaining = remaining - (end - pos);
    this.#sink.framePayload(chunk, pos, end);
    if (this.#remaining === 0) this.#sink.frameEnd();
    return end;
  }

  /** The current key in the shared 4-byte array (used at once, synchronously). */
  #shareMask(): Uint8Array {
    SHARED_MASK[0] = this.#m0;
    SHARED_MASK[1] = this.#m1;
    SHARED_MASK[2] = this.#m2;
    SHARED_MASK[3] = this.#m3;
    return SHARED_MASK;
  }

  /** Copies header bytes into the scratch until a whole header is there. */
  #gather(chunk: Uint8Array, pos: number): number {
    const scratch = this.#scratch ??= new Uint8Array(14);
    const need = this.#scratchLength < 2 ? 2 : headerSize(scratch[1]);
    const take = Math.min(need - this.#scratchLength, chunk.length - pos);
    for (let i = 0; i < take; i++) {
      scratch[this.#scratchLength + i] = chunk[pos + i];
    }
    this.#scratchLength += take;
    pos += take;
    if (
      this.#scratchLength >= 2 &&
      this.#scratchLength === headerSize(scratch[1])
    ) {
      const size = this.#scratchLength;
      this.#scratchLength = 0;
      this.#header(scratch, 0, size);
    }
    return pos;
  }

  /** Checks the first header byte (and a control frame's length). */
  #check(fin: boolean, rsv: number, opcode: number, length: number): void {
    const unasked = rsv & ~this.allowedRsv;
    if (unasked !== 0) {
      throw new ProtocolError(
        1002,
        "reserved bits set without an extension",
        rsvErrorId(unasked),
      );
    }
    if (((VALID_OPCODES >> opcode) & 1) === 0) {
      throw new ProtocolError(
        1002,
        `reserved opcode 0x${opcode.toString(16)}`,
        "WS_ERR_INVALID_OPCODE",
      );
    }
    if (opcode >= 0x8) {
      if (!fin) {
        throw new ProtocolError(
          1002,
          "fragmented control frame",
          "WS_ERR_EXPECTED_FIN",
        );
      }
      if (length > MAX_CONTROL_PAYLOAD) {
        throw new ProtocolError(
          1002,
          "control frame payload over 125 bytes",
          "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
        );
      }
    }
  }

  /**
   * Parses and checks the header at `buf[p]`, then reports it and returns
   * the offset after it (after the whole frame, if its payload is there
   * too and the sink takes whole frames); returns -1 if the header does not
   * end before `limit`.
   */
  #header(buf: Uint8Array, p: number, limit: number): number {
    const b0 = buf[p];
    const b1 = buf[p + 1];
    let length = b1 & 0x7f;
    const masked = b1 >= 0x80;
    const size = 2 + (length < 126 ? 0 : length === 126 ? 2 : 8) +
      (masked ? 4 : 0);
    if (p + size > limit) return -1;
    const fin = b0 >= 0x80;
    const rsv = (b0 >> 4) & 0x7;
    const opcode = b0 & 0x0f;
    p += 2;
    // A final text or binary frame without reserved bits needs no checks.
    if (b0 !== 0x81 && b0 !== 0x82) this.#check(fin, rsv, opcode, length);
    if (masked !== this.#expectMasked) {
      throw new ProtocolError(
        1002,
        masked ? "masked frame from a server" : "unmasked frame from a client",
        masked ? "WS_ERR_UNEXPECTED_MASK" : "WS_ERR_EXPECTED_MASK",
      );
    }
    if (length === 126) {
      length = (buf[p] << 8) | buf[p + 1];
      p += 2;
    } else if (length === 127) {
      const high = ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) |
        buf[p + 3]) >>> 0;
      const low = ((buf[p + 4] << 24) | (buf[p + 5] << 16) |
        (buf[p + 6] << 8) | buf[p + 7]) >>> 0;
      p += 8;
      if (high >= 0x8000_0000) {
        throw new ProtocolError(
          1002,
          "64-bit length with the top bit set",
          "WS_ERR_INVALID_PAYLOAD_LENGTH",
        );
      }
      if (high > 0x1f_ffff) {
        throw new ProtocolError(
          1009,
          "frame length over 2^53 bytes",
          "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
        );
      }
      length = high * 0x1_0000_0000 + low;
    }
    this.#masked = masked;
    if (masked) {
      this.#m0 = buf[p];
      this.#m1 = buf[p + 1];
      this.#m2 = buf[p + 2];
      this.#m3 = buf[p + 3];
      this.#maskOffset = 0;
      p += 4;
    }
    if (fin && length > 0 && length <= limit - p && this.#whole) {
      // The whole frame is here: one call instead of three.
      const end = p + length;
      if (masked) {
        if (length < SMALL_UNMASK) {
          xorKeyBytes(buf, this.#m0, this.#m1, this.#m2, this.#m3, p, end);
        } else applyMask(buf, this.#shareMask(), 0, p, end);
      }
      this.#sink.frame!(opcode, rsv, buf, p, end);
      return end;
    }
    this.#remaining = length;
    this.#sink.frameStart(fin, rsv, opcode, length);
    if (length === 0) this.#sink.frameEnd();
    return p;
  }
}

const SHARED_MASK = new Uint8Array(4);

/** Below this many bytes, the decoder unmasks with `xorKeyBytes` directly. */
const SMALL_UNMASK = 32;

/** The size of a header whose second byte is `b1`. */
function headerSize(b1: number): number {
  const len = b1 & 0x7f;
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}
