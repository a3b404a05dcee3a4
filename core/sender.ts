/**
 * The send side of a connection, private to `Connection`: frames into the
 * output queue (masked for a client), messages through the negotiated
 * extensions and fragmentation, the pongs that answer pings (coalesced
 * under a flood), and the close frame written at the next `take()`.
 *
 * @module
 */

import { EMPTY_BYTES, toBytes } from "./bytes.ts";
import { isValidWireCloseCode } from "./close.ts";
import type { SendOptions } from "./connection_types.ts";
import type { Extension } from "./extension.ts";
import { LocalError } from "./errors.ts";
import { MAX_CONTROL_PAYLOAD, Opcode } from "./frame.ts";
import { OutputQueue } from "./output.ts";

/**
 * Pings answered one pong each between two `take()` calls; past it only the
 * latest ping is answered (see `#pongLength`).
 */
const PONGS_IN_ORDER = 32;
/**
 * Shared frames up to this size are copied into the output run (a copy
 * this small costs less than the write of a chunk of its own).
 */
const SHARED_COPY_LIMIT = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The send side; see the module doc. It is the output queue itself (one
 * object less per connection): queue frames through `write()`, which keeps
 * a held pong in its place, not through `frame()`.
 */
export class Sender extends OutputQueue {
  readonly #mask: boolean;
  /** Pongs answering pings queued since the output was last taken. */
  #pongsQueued = 0;
  /**
   * Past `PONGS_IN_ORDER` pongs since the output was last taken: the
   * payload length of the pong to write before anything else is queued
   * (-1: none), its payload in `#pongPayload`. The pong of a later ping
   * replaces it while nothing has been written after it (RFC 6455 §5.5.3:
   * a pong for the most recent ping is enough), so a peer that floods pings
   * and does not read gets at most `PONGS_IN_ORDER + 1` pongs queued per
   * `take()`, not one per ping.
   */
  #pongLength = -1;
  /** Room for a held pong's payload (made at the first non-empty one). */
  #pongPayload: Uint8Array = EMPTY_BYTES;
  /**
   * The payload of the close frame to write when the output is next taken:
   * the echo of the peer's close, or the close a protocol violation fails
   * with. Deferred so that replies the application queues while handling
   * what arrived before it still go out first.
   */
  #pendingClose: Uint8Array | undefined;

  /** Creates the send side; a client masks its frames. */
  constructor(mask: boolean) {
    super();
    this.#mask = mask;
  }

  /**
   * Bytes queued that `take()` has not yet returned (a held pong included;
   * a deferred close frame not).
   */
  get length(): number {
    const pong = this.#pongLength;
    return this.byteLength +
      (pong < 0 ? 0 : 2 + (this.#mask ? 4 : 0) + pong);
  }

  /** Removes and returns the bytes to write, the deferred close last. */
  override take(): readonly Uint8Array[] {
    this.#writePendingPong();
    this.#pongsQueued = 0;
    this.writeDeferredClose();
    return super.take();
  }

  /** Queues one frame, after the held pong (if any). */
  write(opcode: number, payload: Uint8Array, fin = true, rsv = 0): void {
    if (this.#pongLength >= 0) this.#writePendingPong(); // keep the order
    this.frame(opcode, payload, fin, rsv, this.#mask);
  }

  /**
   * Queues a whole frame built elsewhere (a published message, the same
   * bytes for many connections): small ones are copied into the current
   * run of frames, so a burst still leaves in one write; others are queued
   * as they are and must not be modified.
   */
  writeFrame(frame: Uint8Array): void {
    if (this.#pongLength >= 0) this.#writePendingPong(); // keep the order
    if (frame.length <= SHARED_COPY_LIMIT) this.push(frame);
    else this.pushChunk(frame);
  }

  /** Queues the pong answering a ping (or holds it, under a flood). */
  answerPing(payload: Uint8Array): void {
    if (this.#pongsQueued < PONGS_IN_ORDER) {
      this.#pongsQueued++;
      this.write(Opcode.Pong, payload);
    } else {
      this.#holdPong(payload); // see `#pongLength`
    }
  }

  /** Holds a close frame with `payload` until the output is next taken. */
  deferClose(payload: Uint8Array): void {
    this.#pendingClose = payload;
  }

  /** Queues the deferred close frame; whether there was one. */
  writeDeferredClose(): boolean {
    const payload = this.#pendingClose;
    if (payload === undefined) return false;
    this.#pendingClose = undefined;
    this.write(Opcode.Close, payload);
    return true;
  }

  /** Queues a data message through `active` extensions; see `send()`. */
  send(
    data: string | ArrayBuffer | ArrayBufferView,
    options: SendOptions | undefined,
    active: readonly Extension[],
  ): void {
    if (this.#pongLength >= 0) this.#writePendingPong(); // keep the order
    if (
      typeof data === "string" && active.length === 0 &&
      options?.fragmentSize === undefined &&
      this.text(Opcode.Text, data, true, 0, this.#mask)
    ) {
      return; // encoded straight into the output
    }
    const text = typeof data === "string" || options?.text === true;
    let payload = typeof data === "string"
      ? encoder.encode(data)
      : toBytes(data);
    const opcode = text ? Opcode.Text : Opcode.Binary;
    let rsv = 0;
    for (const extension of active) {
      const encoded = extension.encode(payload, opcode);
      payload = encoded.payload;
      rsv |= encoded.rsv;
    }
    const size = options?.fragmentSize;
    if (size === undefined || payload.length <= size) {
      this.write(opcode, payload, true, rsv);
      return;
    }
    if (!(size >= 1)) {
      throw new LocalError("argument", "fragmentSize must be at least 1");
    }
    for (let offset = 0; offset < payload.length; offset += size) {
      const end = Math.min(offset + size, payload.length);
      this.write(
        offset === 0 ? opcode : Opcode.Continuation,
        payload.subarray(offset, end),
        end === payload.length,
        offset === 0 ? rsv : 0,
      );
    }
  }

  /** Holds a pong for a ping's `payload`, replacing one still held. */
  #holdPong(payload: Uint8Array): void {
    const length = payload.length;
    if (length > 0) {
      if (this.#pongPayload.length === 0) {
        this.#pongPayload = new Uint8Array(MAX_CONTROL_PAYLOAD);
      }
      this.#pongPayload.set(payload);
    }
    this.#pongLength = length;
  }

  /** Moves the held pong (if any) into the output queue. */
  #writePendingPong(): void {
    const length = this.#pongLength;
    if (length < 0) return;
    this.#pongLength = -1;
    this.frame(
      Opcode.Pong,
      length === 0 ? EMPTY_BYTES : this.#pongPayload.subarray(0, length),
      true,
      0,
      this.#mask,
    );
  }
}

/** The payload of a ping or pong, checked against the 125-byte limit. */
export function controlBytes(data: string | Uint8Array): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  if (bytes.length > MAX_CONTROL_PAYLOAD) {
    throw new LocalError(
      "argument",
      "control frame payload is longer than 125 bytes",
    );
  }
  return bytes;
}

/** Encodes a close frame payload: the code, then the UTF-8 reason. */
export function closePayload(
  code: number | undefined,
  reason: string,
): Uint8Array {
  if (code === undefined) return EMPTY_BYTES;
  const reasonBytes = encoder.encode(reason);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/**
 * The payload of a close frame the application sends: throws `RangeError`
 * for a code that may not be sent or a reason over 123 UTF-8 bytes.
 */
export function closeFrame(
  code: number | undefined,
  reason: string,
): Uint8Array {
  if (code !== undefined && !isValidWireCloseCode(code)) {
    throw new LocalError("argument", `close code ${code} may not be sent`);
  }
  const payload = closePayload(code, reason);
  if (payload.length > MAX_CONTROL_PAYLOAD) {
    throw new LocalError(
      "syntax",
      "close reason is longer than 123 UTF-8 bytes",
    );
  }
  return payload;
}

/** Cuts `text` to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, max: number): string {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return text;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end));
}
