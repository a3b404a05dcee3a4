/**
 * `WebSocketStream`: a WebSocket as a pair of WHATWG streams, in the shape of
 * the browsers' `WebSocketStream` — `opened` gives a `readable` of incoming
 * messages and a `writable` for outgoing ones; `closed` tells how it ended.
 *
 * Backpressure works both ways. Incoming messages wait in the readable's
 * queue (up to `readableHighWaterMark` bytes); when the reader falls behind,
 * the socket stops reading from its transport, so TCP (or the underlying
 * stream) slows the sender down. A write resolves once the socket's send
 * buffer is below its high-water mark, so `await writer.write()` never lets
 * the send buffer grow without bound.
 *
 * It wraps wskit's `WebSocket`, so it works wherever that does: with a URL on
 * Node, Deno and Bun (import it from `mod.ts`, which picks the runtime), or
 * around any existing socket — a server's socket, or one from the streams
 * adapter (`connectStream`, `acceptStream`), also in a browser.
 *
 * @example
 * ```ts
 * import { serve, WebSocketStream } from "../mod.ts";
 *
 * const server = await serve({
 *   port: 0,
 *   onConnection(socket) {
 *     socket.onmessage = (event) => socket.send(event.data);
 *   },
 * });
 * const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}`);
 * const { readable, writable } = await wss.opened;
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * for await (const message of readable) {
 *   console.log(message); // "hello"
 *   break; // leaving the loop cancels the readable, which closes the socket
 * }
 * console.log(await wss.closed); // { closeCode: 1005, reason: "" }
 * await server.close();
 * ```
 *
 * @module
 */

import { WebSocket, type WebSocketOptions } from "./websocket.ts";

/** What `send()`-side chunks the writable accepts. */
export type WebSocketStreamChunk = string | ArrayBuffer | ArrayBufferView;

/** A readable stream that also works with `for await`. */
export type MessageReadable =
  & ReadableStream<string | Uint8Array>
  & AsyncIterable<string | Uint8Array>;

/** What `opened` resolves with. */
export interface WebSocketStreamOpenInfo {
  /** Incoming messages: text as strings, binary as `Uint8Array`s. */
  readable: MessageReadable;
  /** Outgoing messages: strings go as text, bytes as binary. */
  writable: WritableStream<WebSocketStreamChunk>;
  /** The negotiated subprotocol, or "". */
  protocol: string;
  /** The negotiated extensions, or "". */
  extensions: string;
}

/** A close code and reason: what `closed` resolves with, what `close()` takes. */
export interface WebSocketStreamCloseInfo {
  /** 1000 or 3000–4999 for `close()`; any received code for `closed`. */
  closeCode?: number;
  /** At most 123 UTF-8 bytes. */
  reason?: string;
}

/** Options for {@linkcode WebSocketStream}. */
export interface WebSocketStreamOptions extends WebSocketOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string | string[];
  /** Aborting it before the connection opens fails the connection. */
  signal?: AbortSignal;
  /**
   * Bytes of incoming messages (a string counts its length) the readable
   * queues before the socket stops reading (default 64 KiB).
   */
  readableHighWaterMark?: number;
}

/**
 * The error `opened`, `closed`, the readable and the writable fail with when
 * the connection fails or closes abnormally; also a reason to pass to
 * `readable.cancel()` or `writable.abort()` to close with a code.
 */
export class WebSocketError extends DOMException {
  /** The close code (1006 for an abnormal closure), or null. */
  readonly closeCode: number | null;
  /** The close reason. */
  readonly reason: string;

  /** Creates an error; `closeCode` and `reason` are used to close with. */
  constructor(message = "", init: WebSocketStreamCloseInfo = {}) {
    super(message, "WebSocketError");
    this.closeCode = init.closeCode ?? null;
    this.reason = init.reason ?? "";
  }
}

const DEFAULT_READABLE_HIGH_WATER_MARK = 64 * 1024;

function chunkSize(chunk: string | Uint8Array | undefined): number {
  if (chunk === undefined) return 0;
  return typeof chunk === "string" ? chunk.length : chunk.byteLength;
}

/** Copies a chunk, so the caller may reuse its buffer once the write resolves. */
function toSendable(chunk: WebSocketStreamChunk): string | Uint8Array {
  if (typeof chunk === "string") return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk.slice(0));
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      .slice();
  }
  throw new TypeError("a WebSocketStream writes strings and bytes only");
}

/** Gives `readable` an async iterator where the runtime lacks one. */
function iterable<T>(
  readable: ReadableStream<T>,
): ReadableStream<T> & AsyncIterable<T> {
  const methods = readable as unknown as Record<symbol, unknown>;
  if (typeof methods[Symbol.asyncIterator] !== "function") {
    Object.defineProperty(readable, Symbol.asyncIterator, {
      configurable: true,
      async *value(): AsyncGenerator<T> {
        const reader = readable.getReader();
        let done = false;
        try {
          while (true) {
            const result = await reader.read();
            if (result.done) {
              done = true;
              return;
            }
            yield result.value;
          }
        } finally {
          if (!done) await reader.cancel();
          reader.releaseLock();
        }
      },
    });
  }
  return readable as ReadableStream<T> & AsyncIterable<T>;
}

/** A WebSocket as streams; see the module doc. */
export class WebSocketStream {
  /** The URL connected to. */
  readonly url: string;
  /** Resolves when the connection opens; rejects if it cannot. */
  readonly opened: Promise<WebSocketStreamOpenInfo>;
  /**
   * Resolves with the close code and reason after a clean close; rejects
   * with a {@linkcode WebSocketError} (code 1006) after an abnormal one.
   */
  readonly closed: Promise<WebSocketStreamCloseInfo>;
  readonly #socket?: WebSocket;
  #resolveOpened!: (info: WebSocketStreamOpenInfo) => void;
  #rejectOpened!: (error: unknown) => void;
  #resolveClosed!: (info: WebSocketStreamCloseInfo) => void;
  #rejectClosed!: (error: unknown) => void;
  #readableController!: ReadableStreamDefaultController<string | Uint8Array>;
  #writableController!: WritableStreamDefaultController;
  #readableDone = false;
  #abortReason: unknown;
  #aborted = false;
  #errorMessage = "";
  #waiting: { resolve: () => void; reject: (error: unknown) => void }[] = [];

  /**
   * Connects to `url` (as `new WebSocket(url, options.protocols, options)`
   * does), or wraps an existing wskit `WebSocket` in any state — e.g. a
   * server's socket inside `onConnection`, before any message is delivered.
   * A wrapped socket's `binaryType` becomes `"uint8array"`.
   */
  constructor(
    url: string | URL | WebSocket,
    options: WebSocketStreamOptions = {},
  ) {
    const {
      protocols,
      signal,
      readableHighWaterMark = DEFAULT_READABLE_HIGH_WATER_MARK,
      ...socketOptions
    } = options;
    this.opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // As in browsers: a rejection nobody awaits is not an unhandled error.
    this.opened.catch(() => {});
    this.closed.catch(() => {});
    if (url instanceof WebSocket) {
      this.url = url.url;
      this.#socket = url;
    } else {
      this.url = String(url);
      if (signal?.aborted) {
        this.#rejectOpened(signal.reason);
        this.#rejectClosed(signal.reason);
        return;
      }
      this.#socket = new WebSocket(url, protocols, socketOptions);
    }
    const socket = this.#socket;
    socket.binaryType = "uint8array";

    const source: UnderlyingDefaultSource<string | Uint8Array> = {
      start: (controller) => {
        this.#readableController = controller;
      },
      pull: () => socket.resumeReading(),
      cancel: (reason) => {
        this.#readableDone = true;
        this.#closeFor(reason);
      },
    };
    const readable = new ReadableStream<string | Uint8Array>(source, {
      highWaterMark: readableHighWaterMark,
      size: chunkSize,
    });
    const writable = new WritableStream<WebSocketStreamChunk>({
      start: (controller) => {
        this.#writableController = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#closeFor(undefined),
      abort: (reason) => this.#closeFor(reason),
    });
    const openInfo = (): WebSocketStreamOpenInfo => ({
      readable: iterable(readable),
      writable,
      protocol: socket.protocol,
      extensions: socket.extensions,
    });

    socket.addEventListener("message", (event) => {
      if (this.#readableDone) return;
      const controller = this.#readableController;
      controller.enqueue((event as MessageEvent).data);
      if ((controller.desiredSize ?? 0) <= 0) socket.pauseReading();
    });
    socket.addEventListener("error", (event) => {
      this.#errorMessage = (event as { message?: string }).message ?? "";
    });
    socket.addEventListener("open", () => this.#resolveOpened(openInfo()));
    socket.addEventListener("close", (event) => {
      const { code, reason, wasClean } = event as CloseEvent;
      this.#closed(code, reason, wasClean);
    });
    socket.addEventListener("drain", () => this.#wake());
    if (socket.readyState === WebSocket.OPEN) {
      this.#resolveOpened(openInfo());
    } else if (socket.readyState === WebSocket.CLOSED) {
      this.#errorMessage = "the WebSocket was already closed";
      this.#closed(1006, "", false);
    }
    signal?.addEventListener("abort", () => {
      if (socket.readyState !== WebSocket.CONNECTING) return;
      this.#aborted = true;
      this.#abortReason = signal.reason;
      socket.close();
    }, { once: true });
  }

  /**
   * Starts the closing handshake with `closeCode` (1000 or 3000–4999;
   * default none, or 1000 with a reason) and `reason`. Throws like
   * `WebSocket.close()` for an invalid code or an over-long reason.
   */
  close(info: WebSocketStreamCloseInfo = {}): void {
    this.#socket?.close(info.closeCode, info.reason);
  }

  #closeFor(reason: unknown): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    if (reason instanceof WebSocketError && reason.closeCode !== null) {
      try {
        socket.close(reason.closeCode, reason.reason);
        return;
      } catch {
        // an invalid code: close without one
      }
    }
    socket.close();
  }

  async #write(chunk: WebSocketStreamChunk): Promise<void> {
    const socket = this.#socket!;
    if (socket.readyState !== WebSocket.OPEN) {
      throw new DOMException("the WebSocket is not open", "InvalidStateError");
    }
    if (socket.send(toSendable(chunk))) return;
    // Over the high-water mark: resolve on `drain` (or fail on close).
    await new Promise<void>((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
    });
  }

  #wake(error?: unknown): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const waiter of waiting) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  #closed(code: number, reason: string, wasClean: boolean): void {
    let error: unknown;
    if (this.#aborted) {
      error = this.#abortReason;
    } else if (!wasClean) {
      error = new WebSocketError(
        this.#errorMessage || "the connection closed abnormally",
        { closeCode: 1006, reason },
      );
    }
    if (error === undefined) {
      this.#resolveClosed({ closeCode: code, reason });
      if (!this.#readableDone) this.#readableController.close();
      const closedError = new DOMException(
        "the WebSocket is closed",
        "InvalidStateError",
      );
      this.#writableController.error(closedError);
      this.#wake(closedError);
    } else {
      this.#rejectOpened(error);
      this.#rejectClosed(error);
      if (!this.#readableDone) this.#readableController.error(error);
      this.#writableController.error(error);
      this.#wake(error);
    }
    this.#readableDone = true;
  }
}
