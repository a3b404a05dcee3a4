/**
 * Reassembly of data messages from frames (RFC 6455 §5.4): fragmentation
 * rules, the message size and fragment-count limits (checked when a frame
 * header arrives, before its payload is held), and incremental UTF-8
 * validation of text that fails at the first invalid byte.
 *
 * @module
 */

import { concatBytes, EMPTY_BYTES } from "./bytes.ts";
import { ProtocolError, rsvErrorId } from "./errors.ts";
import { Opcode } from "./frame.ts";
import { isValidUtf8, Utf8Validator } from "./utf8.ts";

/** Limits on one incoming message. */
export interface MessageLimits {
  /** Largest message, summed over its fragments, in bytes. */
  maxMessageSize: number;
  /** Most frames one message may span (empty fragments count). */
  maxFragments: number;
}

/** Default message limits: 64 MiB and 131,072 fragments. */
export const DEFAULT_MESSAGE_LIMITS: MessageLimits = Object.freeze({
  maxMessageSize: 64 * 1024 * 1024,
  maxFragments: 131_072,
});

/** Pieces shorter than this are copied together rather than kept apart. */
const SMALL_PIECE = 1024;
const STAGING_SIZE = 16 * 1024;
/**
 * Once the final frame of a message has begun, this much of the message has
 * arrived, and at least a quarter of its length (so a peer cannot make us
 * allocate much more than it sent), the pieces are copied into one buffer
 * of the message's exact size and the rest is copied there as it arrives:
 * the bytes are still in cache, and no list is joined at the end. Before
 * the final frame the length is not known, so nothing is copied: a message
 * refused for its size never holds more than about the limit.
 */
const GATHER_FROM = 64 * 1024;
/**
 * Pieces are views of the chunks they arrived in, each of which stays alive
 * while a view of it is kept. A chunk is kept only while the chunks kept
 * (and the copies made) add up to at most 1.25 times the bytes received,
 * plus this much; past that, a piece is copied, so a peer that surrounds
 * small fragments with other frames cannot make us hold many times what
 * its message holds.
 */
const KEEP_SLACK = 64 * 1024;

const textDecoder = new TextDecoder();
const sharedValidator = new Utf8Validator();

// One wording per failure, whichever path (whole frame or fragments) sees it.
const INVALID_UTF8 = "invalid UTF-8 in a text message";
const TRUNCATED_UTF8 = "text message ends inside a character";

/** Throws 1009 if `size` bytes in `fragments` frames are over `limits`. */
function checkLimits(
  limits: MessageLimits,
  size: number,
  fragments: number,
): void {
  if (size > limits.maxMessageSize) {
    throw new ProtocolError(
      1009,
      `message exceeds ${limits.maxMessageSize} bytes`,
      "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
    );
  }
  if (fragments > limits.maxFragments) {
    throw new ProtocolError(
      1009,
      `message exceeds ${limits.maxFragments} fragments`,
      "WS_ERR_TOO_MANY_FRAGMENTS",
    );
  }
}

/**
 * A whole message in one frame (final, no reserved bits, no fragmented
 * message under way), payload in `data[start, end)`: checks `limits` and
 * returns it as `MessageAssembler.finish()` would (text as a string, binary
 * as a view), with no per-connection state (the validator is shared, used
 * synchronously). Throws `ProtocolError` (1009 over the size limit, 1007
 * for invalid UTF-8).
 */
export function singleMessage(
  limits: MessageLimits,
  opcode: number,
  data: Uint8Array,
  start: number,
  end: number,
): string | Uint8Array {
  checkLimits(limits, end - start, 1);
  const bytes = start === 0 && end === data.length
    ? data
    : data.subarray(start, end);
  if (opcode !== Opcode.Text) return bytes;
  const validator = sharedValidator;
  validator.reset();
  if (!validator.push(data, start, end)) {
    throw new ProtocolError(1007, INVALID_UTF8, "WS_ERR_INVALID_UTF8");
  }
  if (!validator.complete) {
    throw new ProtocolError(1007, TRUNCATED_UTF8, "WS_ERR_INVALID_UTF8");
  }
  return textDecoder.decode(bytes);
}

/** Builds one message at a time out of data frames. */
export class MessageAssembler {
  readonly #limits: MessageLimits;
  readonly #validator = new Utf8Validator();
  #opcode = 0;
  #rsv = 0;
  #size = 0;
  #fragments = 0;
  /** The first piece, kept as a range of its chunk until a second comes. */
  #first: Uint8Array = EMPTY_BYTES;
  #firstStart = 0;
  #firstEnd = 0;
  #hasFirst = false;
  #pieces: Uint8Array[] = [];
  #staging: Uint8Array = EMPTY_BYTES;
  #staged = 0;
  /** Bytes received of the current message (in pieces or gathered). */
  #received = 0;
  /** Whether the current frame is the message's last (its size is known). */
  #final = false;
  /**
   * Memory `#pieces` and `#staging` hold: whole chunks viewed, copies and
   * staging buffers.
   */
  #held = 0;
  /** The buffer of the chunk last kept a view of (counted in `#held`). */
  #lastBuffer: ArrayBufferLike | undefined;
  /** Where the rest of a large message is gathered, once it qualifies. */
  #into: Uint8Array = EMPTY_BYTES;

  /** Creates an assembler with the given limits. */
  constructor(limits: MessageLimits) {
    this.#limits = limits;
  }

  /** Whether a fragmented message is under way. */
  get inProgress(): boolean {
    return this.#opcode !== 0;
  }

  /**
   * Bytes of memory the message under way holds: the buffer it is gathered
   * into, or else the copies it made (staging buffers included) and the
   * whole of each chunk it keeps a view of. 0 between messages.
   */
  get bufferedBytes(): number {
    if (this.#into.length > 0) return this.#into.length;
    if (this.#hasFirst && this.#pieces.length === 0 && this.#staged === 0) {
      return this.#first.buffer.byteLength;
    }
    return this.#held;
  }

  /**
   * A data frame header arrived (`fin`: the message's last frame): checks
   * fragmentation order and the limits. Throws `ProtocolError` (1002, or
   * 1009 for size and fragment count).
   */
  frame(opcode: number, length: number, rsv = 0, fin = true): void {
    if (opcode === Opcode.Continuation) {
      if (this.#opcode === 0) {
        throw new ProtocolError(
          1002,
          "continuation frame with no message",
          "WS_ERR_INVALID_OPCODE",
        );
      }
      if (rsv !== 0) {
        throw new ProtocolError(
          1002,
          "reserved bits set on a continuation",
          rsvErrorId(rsv),
        );
      }
    } else {
      if (this.#opcode !== 0) {
        throw new ProtocolError(
          1002,
          "new data frame inside a fragmented message",
          "WS_ERR_INVALID_OPCODE",
        );
      }
      this.#opcode = opcode;
      this.#rsv = rsv;
      this.#size = 0;
      this.#fragments = 0;
      if (opcode === Opcode.Text) this.#validator.reset();
    }
    this.#size += length;
    checkLimits(this.#limits, this.#size, ++this.#fragments);
    this.#final = fin;
  }

  /**
   * Adds payload bytes of the current message, `data[start, end)`. Text is
   * validated as it arrives (1007 at the first invalid byte). Keeps a
   * reference to `data` (or copies the bytes, see `bufferedBytes`).
   */
  append(data: Uint8Array, start = 0, end: number = data.length): void {
    if (
      this.#opcode === Opcode.Text && this.#rsv === 0 &&
      !this.#validator.push(data, start, end)
    ) {
      throw new ProtocolError(1007, INVALID_UTF8, "WS_ERR_INVALID_UTF8");
    }
    if (!this.#hasFirst) {
      this.#hasFirst = true;
      this.#first = data;
      this.#firstStart = start;
      this.#firstEnd = end;
      this.#received = end - start;
      return;
    }
    const received = this.#received;
    this.#received = received + (end - start);
    const into = this.#into;
    if (into.length > 0) {
      // Gathering: the final frame is under way, `into` has the exact size.
      into.set(data.subarray(start, end), received);
      return;
    }
    const pieces = this.#pieces;
    if (pieces.length === 0 && this.#staged === 0) {
      pieces.push(this.#keep(this.#first, this.#firstStart, this.#firstEnd));
      this.#first = EMPTY_BYTES;
    }
    if (end - start < SMALL_PIECE) {
      this.#stage(data.subarray(start, end));
    } else {
      this.#flushStaging();
      pieces.push(this.#keep(data, start, end));
    }
    if (
      this.#final && this.#received >= GATHER_FROM &&
      this.#received * 4 >= this.#size
    ) {
      this.#flushStaging();
      this.#into = concatBytes(this.#pieces, this.#received, this.#size);
      this.#pieces = [];
      this.#staging = EMPTY_BYTES;
      this.#held = 0;
      this.#lastBuffer = undefined;
    }
  }

  /**
   * `data[start, end)` to keep: a view of it while the chunks kept stay
   * within their budget (see `KEEP_SLACK`), else a copy.
   */
  #keep(data: Uint8Array, start: number, end: number): Uint8Array {
    const buffer = data.buffer;
    if (buffer === this.#lastBuffer) return data.subarray(start, end);
    const size = buffer.byteLength;
    const received = this.#received;
    if (this.#held + size <= received + (received >>> 2) + KEEP_SLACK) {
      this.#held += size;
      this.#lastBuffer = buffer;
      return data.subarray(start, end);
    }
    this.#held += end - start;
    return data.slice(start, end);
  }

  /** Copies a small piece into the staging buffer, so tiny pieces cost little. */
  #stage(data: Uint8Array): void {
    if (this.#staged + data.length > this.#staging.length) {
      this.#flushStaging();
      this.#staging = new Uint8Array(STAGING_SIZE);
      this.#held += STAGING_SIZE;
    }
    this.#staging.set(data, this.#staged);
    this.#staged += data.length;
  }

  #flushStaging(): void {
    if (this.#staged === 0) return;
    this.#pieces.push(this.#staging.subarray(0, this.#staged));
    this.#staging = this.#staging.subarray(this.#staged);
    this.#staged = 0;
  }

  /**
   * The final frame ended: returns the message (text as a string, binary as
   * bytes) and gets ready for the next. A message whose first frame had
   * reserved bits set goes through `decode` (the extensions) first, and its
   * text is validated whole. Throws 1007 for invalid UTF-8.
   */
  finish(
    decode?: (payload: Uint8Array, rsv: number, maxSize: number) => Uint8Array,
  ): string | Uint8Array {
    const opcode = this.#opcode;
    let data: Uint8Array;
    if (this.#into.length > 0) {
      data = this.#into.length === this.#received
        ? this.#into
        : this.#into.subarray(0, this.#received);
      this.#into = EMPTY_BYTES;
    } else if (
      this.#hasFirst && this.#pieces.length === 0 && this.#staged === 0
    ) {
      // One piece: a view of the chunk it arrived in, no copy.
      const first = this.#first;
      data = this.#firstStart === 0 && this.#firstEnd === first.length
        ? first
        : first.subarray(this.#firstStart, this.#firstEnd);
    } else if (!this.#hasFirst) {
      data = EMPTY_BYTES;
    } else {
      this.#flushStaging();
      const pieces = this.#pieces;
      data = pieces.length === 1 ? pieces[0] : concatBytes(pieces, this.#size);
      this.#pieces = [];
      this.#staging = EMPTY_BYTES;
    }
    this.#hasFirst = false;
    this.#first = EMPTY_BYTES;
    this.#opcode = 0;
    this.#final = false;
    this.#held = 0;
    this.#lastBuffer = undefined;
    const rsv = this.#rsv;
    if (rsv !== 0) {
      if (decode === undefined) {
        throw new ProtocolError(
          1002,
          "reserved bits set without an extension",
          rsvErrorId(rsv),
        );
      }
      data = decode(data, rsv, this.#limits.maxMessageSize);
      if (opcode === Opcode.Text && !isValidUtf8(data)) {
        throw new ProtocolError(1007, INVALID_UTF8, "WS_ERR_INVALID_UTF8");
      }
    }
    if (opcode !== Opcode.Text) {
      return data.length === 0 ? new Uint8Array(0) : data;
    }
    if (rsv === 0 && !this.#validator.complete) {
      throw new ProtocolError(1007, TRUNCATED_UTF8, "WS_ERR_INVALID_UTF8");
    }
    return textDecoder.decode(data);
  }
}
