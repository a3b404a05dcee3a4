/**
 * The streams adapter: wskit over any byte-stream pair
 * `{ readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array> }`
 * — a `Deno.Conn`, a WebTransport bidirectional stream, a child process's
 * stdio, or the in-memory {@linkcode memoryPipe} — for either role. It uses
 * only the core and standard web APIs (streams, `setTimeout`,
 * `queueMicrotask`), so it runs in browsers as well as on Node, Deno and Bun.
 *
 * - {@linkcode connectStream}: a client `WebSocket` over a pair; it sends the
 *   upgrade request for `url` and opens on the server's answer.
 * - {@linkcode acceptStream}: runs the server side of the handshake (with
 *   every `serve()` hook: path, origins, subprotocols, authenticate) and
 *   resolves with the accepted `WebSocket`.
 * - {@linkcode openStream}: a `WebSocket` that starts `OPEN`, for a stream
 *   whose handshake happened elsewhere (an HTTP/2 extended CONNECT stream, a
 *   pre-authenticated tunnel).
 * - {@linkcode streamTransport}: the pair as a plain `Transport`, e.g. for
 *   `WebSocketServer.handleTransport()` when many streams share one server.
 * - {@linkcode memoryPipe}: two connected in-memory pairs, for tests and demos.
 *
 * It also re-exports `WebSocket` and the streams API (`WebSocketStream`), so
 * a browser needs only this module.
 *
 * Backpressure uses the streams' own mechanisms: bytes are written only when
 * `writer.ready` says the sink wants more, and the next `read()` is issued
 * only while the `WebSocket` wants data (it pauses when its own consumer is
 * slow or its peer does not read).
 *
 * @example
 * ```ts
 * import { acceptStream, connectStream, memoryPipe } from "./streams.ts";
 *
 * const [clientEnd, serverEnd] = memoryPipe();
 * acceptStream(serverEnd, { protocols: ["chat"] }).then((socket) => {
 *   socket.onmessage = (event) => socket.send(event.data);
 * });
 * const ws = connectStream(clientEnd, "ws://in-memory/", {
 *   protocols: ["chat"],
 * });
 * ws.onopen = () => ws.send("hello");
 * ws.onmessage = (event) => {
 *   console.log(event.data, ws.protocol); // "hello chat"
 *   ws.close(1000);
 * };
 * ```
 *
 * @module
 */

import { Connection, type ConnectionOptions } from "../core/connection.ts";
import type { UpgradeRequest } from "../core/handshake.ts";
import { type ServeOptions, WebSocketServer } from "../socket/server.ts";
import {
  NO_HANDLERS,
  type Runtime,
  type Transport,
  type TransportHandlers,
} from "./transport.ts";
import { takeBatch } from "./batch.ts";
import {
  createSocket,
  WebSocket,
  type WebSocketOptions,
} from "../socket/websocket.ts";

// The streams API and the socket class, so that this module is a complete
// browser entry point.
export {
  type MessageReadable,
  WebSocketError,
  WebSocketStream,
  type WebSocketStreamChunk,
  type WebSocketStreamCloseInfo,
  type WebSocketStreamOpenInfo,
  type WebSocketStreamOptions,
} from "../socket/websocket_stream.ts";
export {
  type BinaryType,
  type SendData,
  WebSocket,
  WebSocketCloseEvent,
  WebSocketErrorEvent,
  type WebSocketOptions,
} from "../socket/websocket.ts";
export type { Transport, TransportHandlers } from "./transport.ts";
export type { ServeOptions } from "../socket/server.ts";
export type { ConnectionOptions } from "../core/connection.ts";

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
class StreamTransport implements Transport {
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

/** A runtime with no network: the server logic only needs its type here. */
const NO_NETWORK: Runtime = {
  name: "streams",
  connect(): Transport {
    throw new Error("wskit: the streams adapter has no network to connect to");
  },
  listen(): never {
    throw new Error("wskit: the streams adapter cannot listen");
  },
};

/** Options for {@linkcode connectStream}. */
export interface StreamClientOptions
  extends Omit<WebSocketOptions, "runtime" | "tls"> {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string | string[];
  /** Options for the transport over the pair. */
  transport?: StreamTransportOptions;
}

/**
 * A client `WebSocket` over `pair`: it sends the upgrade request for `url`
 * (whose host only fills the `Host` header; default `ws://localhost/`) and
 * opens when the server accepts. Same API and events as over TCP; throws a
 * `SyntaxError` DOMException for a bad URL or protocol list.
 */
export function connectStream(
  pair: StreamPair,
  url: string | URL = "ws://localhost/",
  options: StreamClientOptions = {},
): WebSocket {
  const { protocols, transport, ...rest } = options;
  const runtime: Runtime = {
    name: "streams",
    connect: () => new StreamTransport(pair, transport),
    listen: NO_NETWORK.listen,
  };
  return new WebSocket(url, protocols, { ...rest, runtime });
}

/** Options for {@linkcode acceptStream}. */
export interface StreamServerOptions
  extends Omit<ServeOptions, "hostname" | "port" | "tls" | "maxConnections"> {
  /** Options for the transport over the pair. */
  transport?: StreamTransportOptions;
}

/** Reads the status line of an HTTP response the server wrote, if any. */
function statusLine(bytes: Uint8Array | undefined): string {
  if (bytes === undefined) return "";
  const head = new TextDecoder().decode(bytes.subarray(0, 200));
  const line = head.split("\r\n", 1)[0];
  return line.startsWith("HTTP/") ? line : "";
}

/**
 * Runs the server side of the opening handshake over `pair`, with the same
 * hooks as `serve()`, and resolves with the accepted socket. Rejects if the
 * handshake fails (the error says which HTTP status was sent, if any).
 *
 * Reading is held until the next task after the promise resolves, so
 * handlers set right after `await acceptStream(...)` see every message;
 * `options.onConnection` runs before any message is delivered.
 */
export function acceptStream(
  pair: StreamPair,
  options: StreamServerOptions = {},
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const { transport: transportOptions, ...serveOptions } = options;
    const transport = new StreamTransport(pair, transportOptions);
    let response: Uint8Array | undefined;
    const write = transport.write.bind(transport);
    transport.write = (chunk) => {
      response ??= chunk;
      return write(chunk);
    };
    let accepted = false;
    transport.onFinish = () => {
      if (accepted) return;
      const status = statusLine(response);
      reject(
        new Error(
          status === ""
            ? "wskit: the stream closed during the opening handshake"
            : `wskit: the opening handshake failed: ${status}`,
        ),
      );
    };
    const server = new WebSocketServer(NO_NETWORK, {
      ...serveOptions,
      onConnection(socket: WebSocket, request: UpgradeRequest) {
        accepted = true;
        transport.write = write;
        options.onConnection?.(socket, request);
        transport.hold(true);
        setTimeout(() => transport.hold(false), 0);
        resolve(socket);
      },
    });
    server.handleTransport(transport);
  });
}

/** Options for {@linkcode openStream}. */
export interface OpenStreamOptions extends ConnectionOptions {
  /** Which end this is: the client masks its frames, the server does not. */
  role: "client" | "server";
  /** The negotiated subprotocol (default ""). */
  protocol?: string;
  /** The negotiated extensions (default ""; wskit implements none). */
  extensions?: string;
  /** What `url` reports (default `ws://localhost/`). */
  url?: string;
  /** `send()` returns false above this many buffered bytes (default 1 MiB). */
  highWaterMark?: number;
  /** Options for the transport over the pair. */
  transport?: StreamTransportOptions;
}

/**
 * A `WebSocket` over `pair` that starts `OPEN`: the handshake happened
 * elsewhere, and its outcome (`protocol`, `extensions`) is passed in. There
 * is no `open` event; set handlers right away.
 */
export function openStream(
  pair: StreamPair,
  options: OpenStreamOptions,
): WebSocket {
  const { transport, url, highWaterMark, ...connection } = options;
  return createSocket({
    url: url ?? "ws://localhost/",
    connection: new Connection(connection),
    transport: new StreamTransport(pair, transport),
    highWaterMark,
  });
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
