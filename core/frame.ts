/**
 * Frame-level constants and the frame header shape shared by the decoder and
 * the encoder (RFC 6455 §5.2).
 *
 * @module
 */

/** Frame opcodes. */
export const Opcode = {
  /** Continues a fragmented message. */
  Continuation: 0x0,
  /** A text (UTF-8) data frame. */
  Text: 0x1,
  /** A binary data frame. */
  Binary: 0x2,
  /** A close control frame. */
  Close: 0x8,
  /** A ping control frame. */
  Ping: 0x9,
  /** A pong control frame. */
  Pong: 0xa,
} as const;

/** The RSV1 bit as it appears in `FrameHeader.rsv` (used by permessage-deflate). */
export const RSV1 = 0b100;
/** The RSV2 bit as it appears in `FrameHeader.rsv`. */
export const RSV2 = 0b010;
/** The RSV3 bit as it appears in `FrameHeader.rsv`. */
export const RSV3 = 0b001;

/** The largest payload a control frame may carry. */
export const MAX_CONTROL_PAYLOAD = 125;

/** A decoded frame header. The payload follows separately. */
export interface FrameHeader {
  /** Whether this is the final frame of its message. */
  fin: boolean;
  /** The three reserved bits, RSV1 as 0b100 down to RSV3 as 0b001. */
  rsv: number;
  /** The frame's opcode. */
  opcode: number;
  /** Whether the payload is masked. */
  masked: boolean;
  /** The payload length in bytes. */
  length: number;
}

/** Whether `opcode` is a control opcode (close, ping, pong). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}
