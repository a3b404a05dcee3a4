/**
 * `bufferedAmount` as browsers count it: bytes of application data (UTF-8
 * text, binary data) given to `send()` and not yet handed to the network.
 * Frame headers, masks and control frames are not counted; data sent while
 * closing is counted and never leaves; the count drops only in a later task
 * than the `send()`, once the transport has handed the data to the OS.
 *
 * @example
 * ```ts
 * import { BufferedAmount } from "./buffered.ts";
 * import { Driver } from "./driver.ts";
 * import { Connection } from "../core/connection.ts";
 * import { memoryPipe, StreamTransport } from "../adapters/streams.ts";
 *
 * const [near] = memoryPipe();
 * const driver = new Driver(
 *   new Connection({ role: "server" }),
 *   new StreamTransport(near),
 * );
 * const buffered = new BufferedAmount(driver);
 * buffered.send("héllo");
 * buffered.amount; // 6: UTF-8 bytes, until they reach the OS
 * ```
 *
 * @module
 */

import { frameHeaderSize } from "../core/encoder.ts";
import type { Driver } from "./driver.ts";

/** The `bufferedAmount` of one socket; see the module doc. */
export class BufferedAmount {
  /** Bytes passed to `send()` once closing (never sent). */
  discarded = 0;
  /** Bytes passed to `send()` that wait behind a `Blob` being read. */
  waiting = 0;
  readonly #driver: Driver;
  /** Bytes of the messages given to the core and not yet handed to the OS. */
  #unsent = 0;
  /**
   * For each such message, oldest first from `#head`: the position its
   * frame ends at in everything the driver has written, and its size.
   */
  #marks: number[] | undefined;
  #head = 0;
  /** Marks (from the first) that a later task may count as sent. */
  #settleable = 0;
  #added = 0;
  #dropped = 0;
  #checkpoint: (() => void) | undefined;

  /** Counts what is sent through `driver`. */
  constructor(driver: Driver) {
    this.#driver = driver;
  }

  /** The bytes counted now (see the module doc). */
  get amount(): number {
    this.#settle();
    return this.#unsent + this.waiting + this.discarded;
  }

  /**
   * Sends a message on the driver's connection (a string as text, bytes as
   * binary) and counts its payload until it has been handed to the OS.
   */
  send(payload: string | Uint8Array): void {
    const conn = this.#driver.connection;
    if (typeof payload !== "string") {
      conn.send(payload);
      this.#mark(payload.length);
    } else if (conn.extensions === "") {
      // The payload's UTF-8 size from its frame's, with no second pass.
      const before = conn.outputLength;
      conn.send(payload);
      this.#mark(
        payloadSize(conn.outputLength - before, conn.role === "client"),
      );
    } else {
      conn.send(payload);
      this.#mark(byteSize(payload));
    }
  }

  /** Drops the marks (up to `#settleable`) of messages handed to the OS. */
  #settle(): void {
    const marks = this.#marks;
    if (marks === undefined) return;
    const driver = this.#driver;
    const handed = driver.written - driver.transport.buffered;
    let head = this.#head;
    while (
      head < marks.length && this.#dropped < this.#settleable &&
      marks[head] <= handed
    ) {
      this.#unsent -= marks[head + 1];
      this.#dropped++;
      head += 2;
    }
    if (head === marks.length) {
      marks.length = 0;
      head = 0;
    } else if (head > 2048 && head * 2 > marks.length) {
      marks.splice(0, head);
      head = 0;
    }
    this.#head = head;
  }

  /** Counts a message of `size` bytes just given to the core. */
  #mark(size: number): void {
    const driver = this.#driver;
    const marks = this.#marks ??= [];
    marks.push(driver.written + driver.connection.outputLength, size);
    this.#unsent += size;
    if (this.#added++ === this.#settleable) {
      // The first mark since the last checkpoint: the next one lets all of
      // this turn's marks count as sent once they are.
      queueMicrotask(
        this.#checkpoint ??= () => {
          this.#settleable = this.#added;
          this.#settle();
        },
      );
    }
  }
}

/** The payload size of one frame of `frameBytes` bytes. */
function payloadSize(frameBytes: number, masked: boolean): number {
  for (const header of masked ? [6, 8, 14] : [2, 4, 10]) {
    const size = frameBytes - header;
    if (frameHeaderSize(size, masked) === header) return size;
  }
  return frameBytes; // unreachable for one well-formed frame
}

/**
 * The bytes a message carries: a string's UTF-8 size (lone surrogates
 * count as U+FFFD, 3 bytes), without encoding it.
 */
export function byteSize(payload: string | Uint8Array): number {
  if (typeof payload !== "string") return payload.length;
  let size = payload.length;
  for (let i = 0; i < payload.length; i++) {
    const c = payload.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      size += 1;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = payload.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        size += 2; // a pair: 4 bytes for 2 units
        i++;
      } else {
        size += 2;
      }
    } else {
      size += 2; // 3 bytes (also a lone low surrogate, as U+FFFD)
    }
  }
  return size;
}
