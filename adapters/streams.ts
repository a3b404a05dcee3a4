/**
 * The streams transport: any byte-stream pair as a wskit `Transport`
 * ({@linkcode streamTransport}) and the in-memory {@linkcode memoryPipe}. It
 * uses only the core and standard web APIs. `connectStream`,
 * `acceptStream` and `openStream` live in the `./streams` entry point
 * (`streams.ts`).
 *
 * @example
 * ```ts
 * import { memoryPipe, streamTransport } from "./streams.ts";
 * const [a] = memoryPipe();
 * const transport = streamTransport(a);
 * transport.end();
 * ```
 *
 * @module
 */

import {
  NO_HANDLERS,
  type Transport,
  type TransportHandlers,
} from "./transport.ts";
import { takeBatch } from "./batch.ts";

export type { Transport, TransportHandlers } from "./transport.ts";

/** A bidirectional byte stream, as two WHATWG streams. */
export interface StreamPair {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
}

/** Options for {@linkcode streamTransport}. */
export interface StreamTransportOptions {
  /** `write()` returns false once this many bytes wait (default 64 KiB). */
  highWaterMark?: number;
  /**
   * After `end()` has flushed and closed the writable, milliseconds to wait
   * for the peer to end its side before giving up (default 2000).
   */
  endTimeout?: number;
  /** What `remoteAddress` reports (e.g. the peer's name), if anything. */
  remoteAddress?: string;
}

const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
const DEFAULT_END_TIMEOUT = 2000;

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("the readable stream must yield bytes");
}

/**
 * A stream pair as a wskit `Transport`.
 *
 * Reading: one `read()` at a time, and none while paused; what a read
 * returns while paused is held until `resume()`. Writing: `write()` queues;
 * one loop awaits `writer.ready` and hands the sink a chunk at a time
 * (merging runs of small chunks), so the sink's backpressure holds bytes in
 * this queue, where `buffered` counts them. `drain` is reported each time
 * everything written has been accepted by the sink.
 *
 * Ending: `end()` flushes, closes the writable, and finishes when the
 * readable ends (or after `endTimeout`). When the readable ends first, what
 * is queued is flushed, then the writable is closed. `destroy()` aborts the
 * writable and cancels the readable. `close` is reported once, on a later
 * microtask, with an error if a stream failed.
 */
/** A stream pair as a `Transport` (what {@linkcode streamTransport} returns). */
export class StreamTransport implements Transport {
  handlers: TransportHandlers = NO_HANDLERS;
  readonly remoteAddress?: string;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #highWaterMark: number;
  readonly #endTimeout: number;
  #queue: Uint8Array[] = [];
  #buffered = 0;
  #writing = false;
  #ending = false;
  #writableClosed = false;
  #peerEnded = false;
  #closed = false;
  #paused = false;
  #held = false;
  #wake: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Called once when the transport closes, before `handlers.close`. */
  onFinish?: (error?: Error) => void;

  constructor(pair: StreamPair, options: StreamTransportOptions = {}) {
    this.#reader = pair.readable.getReader();
    this.#writer = pair.writable.getWriter();
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.#endTimeout = options.endTimeout ?? DEFAULT_END_TIMEOUT;
    this.remoteAddress = options.remoteAddress;
    // A failed writable (the peer cancelled its readable) ends the transport.
    this.#writer.closed.catch((error) => this.#finish(toError(error)));
    // Results of read() arrive on later microtasks: after the owner, in this
    // turn, has set `handlers`.
    this.#readLoop();
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closed || this.#ending) return false;
    if (chunk.byteLength > 0) {
      this.#queue.push(chunk);
      this.#buffered += chunk.byteLength;
      if (!this.#writing) {
        this.#writing = true;
        // Start on the next microtask, so writes made in this turn merge.
        queueMicrotask(() => this.#writeLoop());
      }
    }
    return this.#buffered < this.#highWaterMark;
  }

  get buffered(): number {
    return this.#buffered;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    if (!this.#held) this.#wakeUp();
  }

  /** Holds reading (like `pause()`, independently of it) until `hold(false)`. */
  hold(on: boolean): void {
    this.#held = on;
    if (!on && !this.#paused) this.#wakeUp();
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.#maybeShutdown();
  }

  destroy(): void {
    this.#finish();
  }

  async #readLoop(): Promise<void> {
    const reader = this.#reader;
    while (!this.#closed) {
      if (this.#paused || this.#held) {
        await this.#resumed();
        continue;
      }
      let result: { done: boolean; value?: Uint8Array };
      try {
        result = await reader.read();
      } catch (error) {
        this.#finish(toError(error));
        return;
      }
      // Hold what arrived while paused until resumed.
      while ((this.#paused || this.#held) && !this.#closed) {
        await this.#resumed();
      }
      if (this.#closed) return;
      if (result.done) {
        this.#peerEnded = true;
        this.#ending = true;
        this.#maybeShutdown();
        return;
      }
      let chunk: Uint8Array;
      try {
        chunk = toBytes(result.value);
      } catch (error) {
        this.#finish(toError(error));
        return;
      }
      if (chunk.byteLength > 0) this.handlers.data(chunk);
    }
  }

  #resumed(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #writeLoop(): Promise<void> {
    const writer = this.#writer;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        await writer.ready; // the sink's backpressure
        if (this.#closed) return;
        const chunk = takeBatch(this.#queue);
        const size = chunk.byteLength;
        writer.write(chunk).then(() => {
          if (this.#closed) return;
          this.#buffered -= size;
          if (this.#buffered === 0) {
            this.handlers.drain();
            this.#maybeShutdown();
          }
        }, (error) => this.#finish(toError(error)));
      }
    } catch (error) {
      this.#finish(toError(error));
      return;
    }
    this.#writing = false;
  }

  /** Once ending and flushed: close the writable, then finish or wait. */
  #maybeShutdown(): void {
    if (this.#closed || !this.#ending || this.#buffered > 0) return;
    if (this.#writableClosed) {
      if (this.#peerEnded) this.#finish();
      return;
    }
    this.#writableClosed = true;
    this.#writer.close().then(
      () => {
        if (this.#closed) return;
        if (this.#peerEnded) this.#finish();
        else this.#timer = setTimeout(() => this.#finish(), this.#endTimeout);
      },
      (error) => this.#finish(toError(error)),
    );
  }

  /** Closes everything once; reports `close` on a later microtask. */
  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#buffered = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wakeUp();
    if (!this.#peerEnded) this.#reader.cancel().catch(() => {});
    if (!this.#writableClosed) this.#writer.abort(error).catch(() => {});
    queueMicrotask(() => {
      this.onFinish?.(error);
      this.handlers.close(error);
    });
  }
}

/**
 * Wraps a stream pair as a wskit `Transport` (it locks both streams). Most
 * code wants {@linkcode connectStream} or {@linkcode acceptStream}; this is
 * for feeding a shared `WebSocketServer` with
 * `server.handleTransport(streamTransport(pair))`.
 */
export function streamTransport(
  pair: StreamPair,
  options?: StreamTransportOptions,
): Transport {
  return new StreamTransport(pair, options);
}

/** Options for {@linkcode memoryPipe}. */
export interface MemoryPipeOptions {
  /** Bytes each direction holds before its writer waits (default 64 KiB). */
  highWaterMark?: number;
}

/**
 * Two connected in-memory stream pairs: bytes written to one's `writable`
 * come out of the other's `readable`, copied (as a network would), with
 * backpressure. Closing a writable ends the other side's readable.
 */
export function memoryPipe(
  options: MemoryPipeOptions = {},
): [StreamPair, StreamPair] {
  const highWaterMark = options.highWaterMark ?? 64 * 1024;
  const direction = () =>
    new TransformStream<Uint8Array, Uint8Array>(
      {
        transform(chunk, controller) {
          controller.enqueue(toBytes(chunk).slice());
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
  const ab = direction();
  const ba = direction();
  return [
    { readable: ba.readable, writable: ab.writable },
    { readable: ab.readable, writable: ba.writable },
  ];
}
