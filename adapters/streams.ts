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

import type { Transport } from "./transport.ts";
import { type PullPipe, PullTransport } from "./pull.ts";
import { EMPTY_BYTES } from "../core/bytes.ts";
import { HIGH_WATER_MARK, streamBytes } from "./util.ts";

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
   * for the peer to end its side before destroying the transport. Default:
   * no limit; the transport waits until the peer ends or its owner calls
   * `destroy()` (a `WebSocket` or server does after its own close timeout).
   */
  endTimeout?: number;
  /** What `remoteAddress` reports (e.g. the peer's name), if anything. */
  remoteAddress?: string;
}

/** A stream pair as a {@linkcode PullPipe}. */
class StreamPipe implements PullPipe {
  readonly remoteAddress: string | undefined;
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  #eof = false;
  #writeClosed = false;
  /** What the last read brought, until `chunk()` takes it. */
  #chunk: Uint8Array = EMPTY_BYTES;

  constructor(pair: StreamPair, remoteAddress: string | undefined) {
    this.reader = pair.readable.getReader();
    this.writer = pair.writable.getWriter();
    this.remoteAddress = remoteAddress;
  }

  read(): Promise<number | null> {
    return this.reader.read().then(this.#took);
  }

  /** Keeps a read's bytes for `chunk()` (one function per pipe, not per read). */
  readonly #took = (
    result: { done?: boolean; value?: unknown },
  ): number | null => {
    if (result.done) {
      this.#eof = true;
      return null;
    }
    const bytes = this.#chunk = streamBytes(result.value);
    return bytes.byteLength;
  };

  chunk(): Uint8Array {
    const bytes = this.#chunk;
    this.#chunk = EMPTY_BYTES;
    return bytes;
  }

  write(bytes: Uint8Array): Promise<void> {
    // Resolves once the sink has taken the chunk: its backpressure keeps the
    // rest in the transport's queue, where `buffered` counts it.
    return this.writer.write(bytes);
  }

  closeWrite(): Promise<void> {
    this.#writeClosed = true;
    return this.writer.close();
  }

  close(reason?: Error): void {
    if (!this.#eof) this.reader.cancel().catch(() => {});
    if (!this.#writeClosed) this.writer.abort(reason).catch(() => {});
  }
}

/**
 * A stream pair as a wskit `Transport` (what {@linkcode streamTransport}
 * returns): a {@linkcode PullTransport} over the pair's reader and writer.
 *
 * Reading: one `read()` at a time, and none while paused; what a read
 * returns while paused is held until `resume()`. Writing: `write()` queues;
 * one loop hands the sink a chunk at a time (merging runs of small chunks)
 * and waits until the sink has taken it, so the sink's backpressure holds
 * bytes in this queue, where `buffered` counts them. `drain` is reported
 * each time everything written has been accepted by the sink.
 *
 * Ending: `end()` flushes, closes the writable, and finishes when the
 * readable ends (or, with `endTimeout`, destroys the transport after that
 * many milliseconds; by default it waits for its owner's `destroy()`). When
 * the readable ends first, what is queued is flushed, then the writable is
 * closed. `destroy()` aborts the writable and cancels the readable. `close`
 * is reported once, on a later microtask, with an error if a stream failed.
 */
export class StreamTransport extends PullTransport {
  readonly #endTimeout: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Called once when the transport closes, before `handlers.close`. */
  onFinish?: (error?: Error) => void;

  /** Wraps `pair` (locking both streams); reading starts at once. */
  constructor(pair: StreamPair, options: StreamTransportOptions = {}) {
    const pipe = new StreamPipe(pair, options.remoteAddress);
    super(pipe, options.highWaterMark ?? HIGH_WATER_MARK);
    this.#endTimeout = options.endTimeout;
    // A failed writable (the peer cancelled its readable) ends the transport.
    pipe.writer.closed.catch((error) => this.fail(error));
  }

  /** Arms `endTimeout`, if set. */
  protected override afterCloseWrite(): void {
    const ms = this.#endTimeout;
    if (ms !== undefined) this.#timer = setTimeout(() => this.destroy(), ms);
  }

  /** Clears the end timer and reports to `onFinish` before `close`. */
  protected override released(error: Error | undefined): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.onFinish !== undefined) {
      queueMicrotask(() => this.onFinish?.(error));
    }
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
  const highWaterMark = options.highWaterMark ?? HIGH_WATER_MARK;
  const direction = () =>
    new TransformStream<Uint8Array, Uint8Array>(
      {
        transform(chunk, controller) {
          controller.enqueue(streamBytes(chunk).slice());
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
