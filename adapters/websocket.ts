/**
 * The browser-compatible `WebSocket` class, over wskit's own core and a
 * runtime adapter. The same class is used for a server's per-connection
 * sockets, so both ends have one API.
 *
 * Beyond the browser API: constructor options (headers, timeouts, TLS,
 * limits), `send()` returning whether the caller may keep writing, a
 * `drain` event, `ping()`, and `ping`/`pong` events.
 *
 * @module
 */

import { toBytes } from "../core/bytes.ts";
import {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  ReadyState,
} from "../core/connection.ts";
import type { ExtensionNegotiator } from "../core/extension.ts";
import { HandshakeError, type HeaderInit } from "../core/handshake.ts";
import {
  type DeflateCodec,
  PERMESSAGE_DEFLATE,
  permessageDeflate,
  type PerMessageDeflateOptions,
} from "../core/permessage_deflate.ts";
import { type GuardActions, SocketGuard, type SocketLimits } from "./guard.ts";
import type {
  ClientTlsOptions,
  Runtime,
  Transport,
  TransportHandlers,
} from "./transport.ts";

/** Options a browser does not have. */
export interface WebSocketOptions extends ConnectionOptions {
  /** Extra request headers (e.g. `Authorization`, `Cookie`). */
  headers?: HeaderInit;
  /** The `Origin` header to send. */
  origin?: string;
  /** Milliseconds to wait for the connection and handshake (default 10000). */
  connectTimeout?: number;
  /** TLS options for `wss:` URLs. */
  tls?: ClientTlsOptions;
  /**
   * The runtime adapter to use. Default: the current runtime's, once
   * `mod.ts` has been imported (it calls {@linkcode setDefaultRuntime}).
   */
  runtime?: Runtime;
  /** Bytes buffered for sending above which `send()` returns false (default 1 MiB). */
  highWaterMark?: number;
  /** Queue cap, rate limit, idle timeout with keep-alive (all off by default). */
  limits?: SocketLimits;
  /**
   * Offer permessage-deflate (RFC 7692): `true` or options. Off by default.
   * Needs a runtime with a DEFLATE codec (Node, Deno, Bun); elsewhere it is
   * not offered.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Receives every message instead of `message` events: text as a string,
   * binary as a `Uint8Array` whatever `binaryType` says. The fast path for
   * busy sockets, with no event object per message. See
   * {@linkcode MessageCallback}.
   */
  onMessage?: MessageCallback;
}

/**
 * Takes each message of a socket in place of `message` events (set with
 * the `onMessage` option of a client or of `serve()`). Text arrives as a
 * string, binary as a `Uint8Array` that the callback may keep. If it
 * throws, the connection fails with 1011 (internal error, the exception's
 * text is not sent to the peer) and the exception is the `error` property
 * of the socket's `error` event.
 */
export type MessageCallback = (
  socket: WebSocket,
  data: string | Uint8Array,
) => void;

/** Options for a socket whose transport and connection already exist. */
export interface SocketSetup {
  /** The URL (server side: the request URL). */
  url: string;
  /** The connection, in any state. */
  connection: Connection;
  /** The transport carrying it. */
  transport: Transport;
  /** `send()` backpressure threshold in bytes. */
  highWaterMark?: number;
  /** Stop reading from the peer while this many bytes wait to be sent. */
  pauseReadingAt?: number;
  /** Queue cap, rate limit, idle timeout with keep-alive. */
  limits?: SocketLimits;
  /** Receives messages instead of `message` events. */
  onMessage?: MessageCallback;
  /** Called once when the socket has closed, before its `close` event. */
  onClosed?: (socket: WebSocket) => void;
}

/** A WebSocket `close` event (also built where the runtime lacks `CloseEvent`). */
export class WebSocketCloseEvent extends Event {
  /** The close code (1005 if none was given, 1006 for an abnormal closure). */
  readonly code: number;
  /** The close reason. */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;

  /** Creates a close event. */
  constructor(
    type: string,
    init: { code?: number; reason?: string; wasClean?: boolean } = {},
  ) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

/** An `error` event that also says what went wrong. */
export class WebSocketErrorEvent extends Event {
  /** Why the connection failed. */
  readonly message: string;
  /** The close code the failure caused (1006 when none was sent). */
  readonly code: number;
  /** The exception that caused it, if one did (e.g. thrown by `onMessage`). */
  readonly error: unknown;

  /** Creates an error event. */
  constructor(message: string, code: number, error?: unknown) {
    super("error");
    this.message = message;
    this.code = code;
    this.error = error;
  }
}

/** How binary messages are delivered. */
export type BinaryType = "blob" | "arraybuffer" | "uint8array";

/** The value of an `on…` handler property: a listener, or null for none. */
export type Handler = ((event: Event) => unknown) | null;
const HANDLER_NAMES = ["open", "message", "error", "close"] as const;
type HandlerName = typeof HANDLER_NAMES[number];

/** Data `send()` accepts. */
export type SendData = string | ArrayBufferLike | ArrayBufferView | Blob;

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** `#cause` once this socket failed the connection itself. */
const FAILED: unique symbol = Symbol("wskit.failed");
/** Sent bytes waiting in the core past this are written at once. */
const FLUSH_NOW = 64 * 1024;

let defaultRuntime: (() => Runtime) | undefined;

/**
 * Sets how `new WebSocket(url)` finds a runtime adapter when
 * `options.runtime` is not given. `mod.ts` sets it to `currentRuntime`;
 * this module does not import the runtime adapters itself, so that it (and
 * `adapters/streams.ts`) loads in a browser with no `node:` imports.
 */
export function setDefaultRuntime(resolve: () => Runtime): void {
  defaultRuntime = resolve;
}

/**
 * The extension negotiators for a connection: `base`, plus
 * permessage-deflate over `codec` when `setting` asks for it, the runtime
 * has a codec and `base` has no permessage-deflate of its own.
 */
export function withPerMessageDeflate(
  base: readonly ExtensionNegotiator[] | undefined,
  setting: boolean | PerMessageDeflateOptions | undefined,
  codec: DeflateCodec | undefined,
): readonly ExtensionNegotiator[] | undefined {
  if (setting === undefined || setting === false || codec === undefined) {
    return base;
  }
  if (base?.some((n) => n.name === PERMESSAGE_DEFLATE)) return base;
  const options = setting === true ? {} : setting;
  return [...(base ?? []), permessageDeflate({ ...options, codec })];
}

/** Builds the object returned to server code for each connection. */
export function createSocket(setup: SocketSetup): WebSocket {
  return new WebSocket(setup.url, undefined, { [SETUP]: setup } as never);
}

const SETUP: unique symbol = Symbol("wskit.setup");
// Set in `WebSocket`'s static block (they reach its private members): one
// small object per socket for its transport's handlers and one for its
// guard's actions, instead of a closure per callback.
let SocketHandlers: new (ws: WebSocket) => TransportHandlers;
let GuardActionsFor: new (ws: WebSocket) => GuardActions;

/** A WebSocket connection with the browser's API; see the module doc. */
export class WebSocket extends EventTarget {
  /** The connection is being established. */
  static readonly CONNECTING = 0;
  /** The connection is open. */
  static readonly OPEN = 1;
  /** The closing handshake is under way. */
  static readonly CLOSING = 2;
  /** The connection is closed. */
  static readonly CLOSED = 3;
  /** The connection is being established. */
  readonly CONNECTING = 0;
  /** The connection is open. */
  readonly OPEN = 1;
  /** The closing handshake is under way. */
  readonly CLOSING = 2;
  /** The connection is closed. */
  readonly CLOSED = 3;

  /** The URL connected to. */
  readonly url: string;
  #binaryType: BinaryType = "blob";
  readonly #onMessage: MessageCallback | undefined;
  /**
   * The exception behind the `error` event being raised, then
   * {@linkcode FAILED} once this socket has failed the connection itself.
   */
  #cause: unknown;
  readonly #conn: Connection;
  readonly #transport: Transport;
  readonly #highWaterMark: number;
  readonly #pauseReadingAt: number;
  #closeEvent?: { code: number; reason: string; wasClean: boolean };
  #finished = false;
  #guard: SocketGuard | undefined;
  /** Work deferred to a later task after `open` (see `#handle`). */
  #later: (() => void)[] | undefined;
  #wasOpen = false;
  #timer?: ReturnType<typeof setTimeout>;
  #timerState = -1;
  #discarded = 0;
  #needDrain = false;
  #paused = false;
  #readingPaused = false;
  #blobChain?: Promise<void>;
  /** The `on…` handlers' slots, made when the first one is set. */
  #on: Partial<Record<HandlerName, { fn: Handler }>> | undefined;
  #onClosed: ((socket: WebSocket) => void) | undefined;
  /** How deep we are in `#handle`, which flushes when it is done. */
  #handling = 0;
  #flushQueued = false;
  #flushLater: (() => void) | undefined;

  /**
   * Opens a connection to `url` (`ws:`, `wss:`, or `http(s):`), offering
   * `protocols`. Throws a `SyntaxError` DOMException for a bad URL or
   * protocol list, as browsers do; connection failures are reported as an
   * `error` event then a `close` event with code 1006.
   */
  constructor(
    url: string | URL,
    protocols?: string | string[],
    options: WebSocketOptions = {},
  ) {
    super();
    const setup = (options as { [SETUP]?: SocketSetup })[SETUP];
    if (setup !== undefined) {
      this.url = setup.url;
      this.#conn = setup.connection;
      this.#wasOpen = true;
      this.#transport = setup.transport;
      this.#highWaterMark = setup.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
      this.#pauseReadingAt = setup.pauseReadingAt ?? Infinity;
      this.#guard = this.#makeGuard(setup.limits);
      this.#onMessage = setup.onMessage;
      this.#onClosed = setup.onClosed;
    } else {
      const runtime = options.runtime ?? defaultRuntime?.();
      let conn: Connection;
      try {
        conn = Connection.client(url, {
          ...options,
          protocols,
          handshakeTimeout: options.connectTimeout ??
            options.handshakeTimeout,
          extensionNegotiators: withPerMessageDeflate(
            options.extensionNegotiators,
            options.perMessageDeflate,
            runtime?.deflate,
          ),
        });
      } catch (error) {
        if (error instanceof HandshakeError) {
          throw new DOMException(error.message, "SyntaxError");
        }
        throw error;
      }
      const target = new URL(typeof url === "string" ? url : url.href);
      if (target.protocol === "http:") target.protocol = "ws:";
      if (target.protocol === "https:") target.protocol = "wss:";
      this.url = target.href;
      this.#conn = conn;
      this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
      this.#pauseReadingAt = Infinity;
      this.#guard = this.#makeGuard(options.limits);
      this.#onMessage = options.onMessage;
      const secure = target.protocol === "wss:";
      if (runtime === undefined) {
        throw new TypeError(
          "wskit: no runtime adapter: import WebSocket from wskit's mod.ts, " +
            "or pass options.runtime (over a stream pair: connectStream())",
        );
      }
      this.#transport = runtime.connect({
        hostname: target.hostname,
        port: Number(target.port) || (secure ? 443 : 80),
        tls: secure ? (options.tls ?? {}) : undefined,
      });
    }
    this.#transport.handlers = new SocketHandlers(this);
    this.#flush();
  }

  static {
    SocketHandlers = class implements TransportHandlers {
      readonly ws: WebSocket;
      constructor(ws: WebSocket) {
        this.ws = ws;
      }
      data(chunk: Uint8Array): void {
        const ws = this.ws;
        ws.#guard?.received();
        ws.#handle(ws.#conn.receive(chunk));
      }
      drain(): void {
        this.ws.#onDrain();
      }
      close(error?: Error): void {
        this.ws.#onTransportClose(error);
      }
    };
    GuardActionsFor = class implements GuardActions {
      readonly ws: WebSocket;
      constructor(ws: WebSocket) {
        this.ws = ws;
      }
      ping(): void {
        if (this.ws.#conn.canSend) this.ws.ping();
      }
      fail(code: number, reason: string): void {
        const ws = this.ws;
        if (code === 1001) ws.#handle(ws.#conn.closeWithCode(code, reason));
        else ws.#handle(ws.#conn.fail(code, reason));
      }
    };
  }

  /** The state: `CONNECTING`, `OPEN`, `CLOSING` or `CLOSED`. */
  get readyState(): number {
    const state = this.#conn.state;
    if (state === ReadyState.CLOSED && !this.#finished) {
      return ReadyState.CLOSING;
    }
    return state;
  }

  /** The subprotocol the server selected, or "". */
  get protocol(): string {
    return this.#conn.protocol;
  }

  /** The extensions the server accepted, or "". */
  get extensions(): string {
    return this.#conn.extensions;
  }

  /** Bytes queued by `send()` and not yet handed to the network. */
  get bufferedAmount(): number {
    return this.#transport.buffered + this.#conn.outputLength +
      this.#discarded;
  }

  /** How binary messages arrive: `"blob"` (default), `"arraybuffer"` or `"uint8array"`. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer" || value === "uint8array") {
      this.#binaryType = value;
    }
  }

  /** The peer's address, when the transport knows it. */
  get remoteAddress(): string | undefined {
    return this.#transport.remoteAddress;
  }

  /** `open` handler. */
  get onopen(): Handler {
    return this.#getHandler("open");
  }
  set onopen(fn: Handler) {
    this.#setHandler("open", fn);
  }
  /** `message` handler; receives a `MessageEvent`. */
  get onmessage(): ((event: MessageEvent) => unknown) | null {
    return this.#getHandler("message");
  }
  set onmessage(fn: ((event: MessageEvent) => unknown) | null) {
    this.#setHandler("message", fn as Handler);
  }
  /** `error` handler. */
  get onerror(): Handler {
    return this.#getHandler("error");
  }
  set onerror(fn: Handler) {
    this.#setHandler("error", fn);
  }
  /** `close` handler; receives a `CloseEvent`. */
  get onclose(): ((event: WebSocketCloseEvent) => unknown) | null {
    return this.#getHandler("close");
  }
  set onclose(fn: ((event: WebSocketCloseEvent) => unknown) | null) {
    this.#setHandler("close", fn as Handler);
  }

  #getHandler(name: HandlerName): Handler {
    return this.#on?.[name]?.fn ?? null;
  }

  #setHandler(name: HandlerName, fn: Handler): void {
    const value = typeof fn === "function" ? fn : null;
    const slots = this.#on ??= {};
    const slot = slots[name];
    if (slot !== undefined) {
      slot.fn = value;
      return;
    }
    const created = slots[name] = { fn: value };
    this.addEventListener(name, (event) => created.fn?.call(this, event));
  }

  /**
   * Sends a message: a string as text, bytes or a `Blob` as binary. Throws
   * an `InvalidStateError` DOMException while connecting; once closing,
   * the data is discarded (and counted in `bufferedAmount`, as browsers
   * do). Returns false when `bufferedAmount` passed the high-water mark: wait
   * for the `drain` event before sending more.
   */
  send(data: SendData): boolean {
    const state = this.#conn.state;
    if (state === ReadyState.CONNECTING) {
      throw new DOMException(
        "WebSocket is still connecting",
        "InvalidStateError",
      );
    }
    if (typeof Blob !== "undefined" && data instanceof Blob) {
      return this.#sendBlob(data);
    }
    const payload = typeof data === "string"
      ? data
      : toBytes(data as ArrayBuffer | ArrayBufferView);
    if (this.#blobChain !== undefined) {
      this.#blobChain = this.#blobChain.then(() => this.#sendNow(payload));
      return this.#below();
    }
    this.#sendNow(payload);
    return this.#below();
  }

  #sendNow(payload: string | Uint8Array): void {
    if (!this.#conn.canSend) {
      this.#discarded += typeof payload === "string"
        ? payload.length
        : payload.length;
      return;
    }
    this.#conn.send(payload);
    if (this.#guard !== undefined && this.#overfull()) return;
    this.#flushSoon();
  }

  /**
   * Enforces `limits.maxQueuedBytes` over everything not yet sent: past it
   * the connection fails (1008) and the transport is dropped, since the close
   * frame could not get through the full queue anyway.
   */
  #overfull(): boolean {
    const queued = this.#transport.buffered + this.#conn.outputLength;
    const reason = this.#guard?.queued(queued);
    if (reason === undefined || this.#finished) return false;
    this.#guard?.stop();
    this.#guard = undefined;
    this.#handle(this.#conn.fail(1008, reason));
    this.#transport.destroy();
    return true;
  }

  /**
   * Writes what was sent soon, not at once: when the event dispatch in
   * progress ends, else on a microtask. So the replies to a burst of
   * messages, or a loop of `send()`s, leave in one write.
   */
  #flushSoon(): void {
    if (this.#conn.outputLength >= FLUSH_NOW) {
      this.#flush(); // enough to be worth a write of its own
      return;
    }
    if (this.#handling > 0 || this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(
      this.#flushLater ??= () => {
        this.#flushQueued = false;
        this.#flush();
      },
    );
  }

  #sendBlob(blob: Blob): boolean {
    const previous = this.#blobChain ?? Promise.resolve();
    const chain = previous.then(async () => {
      const bytes = new Uint8Array(await blob.arrayBuffer());
      this.#sendNow(bytes);
    }).catch(() => {}).finally(() => {
      if (this.#blobChain === chain) this.#blobChain = undefined;
    });
    this.#blobChain = chain;
    return this.#below();
  }

  #below(): boolean {
    const ok = this.#transport.buffered + this.#conn.outputLength <
      this.#highWaterMark;
    if (!ok) this.#needDrain = true;
    return ok;
  }

  /** Sends a ping (up to 125 bytes). Throws unless open. */
  ping(data?: string | Uint8Array): void {
    this.#conn.ping(data);
    this.#flush();
  }

  /**
   * Starts the closing handshake. `code` must be 1000 or 3000–4999
   * (`InvalidAccessError` otherwise) and `reason` at most 123 UTF-8 bytes
   * (`SyntaxError`). While connecting, the connection fails instead.
   */
  close(code?: number, reason?: string): void {
    if (
      code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)
    ) {
      throw new DOMException(
        `close code must be 1000 or 3000-4999, got ${code}`,
        "InvalidAccessError",
      );
    }
    if (reason !== undefined && new TextEncoder().encode(reason).length > 123) {
      throw new DOMException("close reason is over 123 bytes", "SyntaxError");
    }
    this.#handle(this.#conn.close(code, reason));
  }

  /**
   * Closes with any code valid on the wire (e.g. 1001 going away, 1008
   * policy violation, 1011 internal error); for servers.
   */
  closeWithCode(code: number, reason?: string): void {
    this.#handle(this.#conn.closeWithCode(code, reason));
  }

  /** Fails the connection now with `code` (no waiting for the peer). */
  fail(code: number, message: string): void {
    this.#handle(this.#conn.fail(code, message));
  }

  /**
   * Stops reading from the peer (the transport is paused, so backpressure
   * reaches the sender) until {@linkcode WebSocket.resumeReading}. Messages
   * already received are still delivered. For consumers that cannot keep
   * up, e.g. a stream whose reader is slow.
   */
  pauseReading(): void {
    if (this.#readingPaused) return;
    this.#readingPaused = true;
    if (!this.#paused) this.#transport.pause();
  }

  /** Resumes reading after {@linkcode WebSocket.pauseReading}. */
  resumeReading(): void {
    if (!this.#readingPaused) return;
    this.#readingPaused = false;
    if (!this.#paused) this.#transport.resume();
  }

  /** Closes the transport at once, with no close frame (close code 1006). */
  terminate(): void {
    this.#transport.destroy();
  }

  /** @internal Dispatches core events, then writes and manages timers. */
  handleEvents(events: readonly ConnectionEvent[]): void {
    this.#handle(events);
  }

  #handle(events: readonly ConnectionEvent[]): void {
    if (this.#later !== undefined) {
      // Events after `open` wait for the deferred batch; keep their order.
      if (events.length > 0) this.#later.push(() => this.#handle(events));
      this.#flush();
      return;
    }
    this.#handling++;
    try {
      this.#dispatch(events);
    } finally {
      this.#handling--;
    }
    this.#flush();
  }

  #dispatch(events: readonly ConnectionEvent[]): void {
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event.type === "open" && i + 1 < events.length) {
        // As in browsers, what arrived with the handshake response is
        // dispatched in a later task, so code that awaits `open` and then
        // adds listeners does not miss it.
        const rest = events.slice(i + 1);
        this.#later = [() => this.#handle(rest)];
        setTimeout(() => this.#runLater(), 0);
        this.#wasOpen = true;
        this.#flush();
        this.dispatchEvent(new Event("open"));
        break;
      }
      switch (event.type) {
        case "message":
          this.#dispatchMessage(event.data);
          break;
        case "open":
          this.#wasOpen = true;
          this.#flush();
          this.dispatchEvent(new Event("open"));
          break;
        case "ping":
        case "pong":
          if (this.#cause === FAILED) break;
          if (this.#guard !== undefined) {
            const over = this.#guard.control(
              event.data.length,
              event.type === "ping",
            );
            if (over !== undefined) {
              this.#handle(this.#conn.fail(1008, over));
              this.#cause = FAILED;
              break;
            }
          }
          this.dispatchEvent(
            new MessageEvent(event.type, { data: event.data }),
          );
          break;
        case "error":
          {
            const cause = this.#cause === FAILED ? undefined : this.#cause;
            this.dispatchEvent(
              new WebSocketErrorEvent(event.message, event.code, cause),
            );
          }
          break;
        case "close":
          this.#closeEvent = event;
          break;
      }
    }
  }

  #dispatchMessage(data: string | Uint8Array): void {
    // Failed here (a limit, or `onMessage` threw): deliver nothing more.
    if (this.#cause === FAILED) return;
    const guard = this.#guard;
    if (guard !== undefined) {
      const over = guard.message(
        typeof data === "string" ? data.length : data.length,
      );
      if (over !== undefined) {
        this.#handle(this.#conn.fail(1008, over));
        this.#cause = FAILED;
        return;
      }
    }
    const onMessage = this.#onMessage;
    if (onMessage !== undefined) {
      try {
        onMessage(this, data);
      } catch (error) {
        this.#cause = error;
        this.#handle(this.#conn.fail(1011, "internal error"));
        this.#cause = FAILED;
      }
      return;
    }
    let payload: unknown = data;
    if (typeof data !== "string") {
      if (this.#binaryType === "arraybuffer") {
        payload =
          data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
            ? data.buffer
            : data.slice().buffer;
      } else if (this.#binaryType === "blob") {
        payload = new Blob([data as Uint8Array<ArrayBuffer>]);
      }
    }
    this.dispatchEvent(new MessageEvent("message", { data: payload }));
  }

  /** Writes pending output; closes the transport or arms timers as the core asks. */
  #flush(): void {
    const transport = this.#transport;
    const conn = this.#conn;
    const output = conn.takeOutput();
    for (let i = 0; i < output.length; i++) transport.write(output[i]);
    if (
      this.#needDrain && output.length > 0 &&
      transport.buffered < this.#highWaterMark
    ) {
      // What `send()` had queued went straight through: no transport
      // `drain` will follow, so report it here (after this task's code).
      queueMicrotask(() => this.#onDrain());
    }
    if (transport.buffered > this.#pauseReadingAt && !this.#paused) {
      this.#paused = true;
      this.#guard?.paused(true);
      if (!this.#readingPaused) transport.pause();
    }
    if (this.#guard !== undefined && this.#overfull()) return;
    if (this.#finished) return;
    if (conn.wantsTransportClose) {
      if (!this.#wasOpen) {
        // A failed opening handshake has nothing left to say: drop it now.
        transport.destroy();
        return;
      }
      if (this.#timerState !== 4) {
        this.#arm(4, conn.closeTimeout, () => transport.destroy());
        transport.end();
      }
      return;
    }
    const deadline = conn.deadline;
    if (deadline === undefined) {
      this.#disarm();
    } else if (this.#timerState !== conn.state) {
      this.#arm(conn.state, deadline, () => this.#handle(conn.timeout()));
    }
  }

  #arm(state: number, ms: number, fire: () => void): void {
    this.#disarm();
    this.#timerState = state;
    const timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerState = -1;
      fire();
    }, ms);
    this.#timer = timer;
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerState = -1;
  }

  #onDrain(): void {
    if (this.#paused && this.#transport.buffered <= this.#pauseReadingAt / 2) {
      this.#paused = false;
      this.#guard?.paused(false);
      if (!this.#readingPaused) this.#transport.resume();
    }
    if (this.#needDrain && this.#transport.buffered < this.#highWaterMark) {
      this.#needDrain = false;
      this.dispatchEvent(new Event("drain"));
    }
  }

  /** Runs what was deferred after `open`, in order. */
  #makeGuard(limits: SocketLimits | undefined): SocketGuard | undefined {
    if (limits === undefined) return undefined;
    return new SocketGuard(limits, new GuardActionsFor(this));
  }

  #runLater(): void {
    const later = this.#later ?? [];
    this.#later = undefined;
    for (const run of later) run();
  }

  #onTransportClose(error?: Error): void {
    if (this.#later !== undefined) {
      this.#later.push(() => this.#onTransportClose(error));
      return;
    }
    if (this.#finished) return;
    const connecting = this.#conn.state === ReadyState.CONNECTING;
    const events = this.#conn.transportClosed();
    if (connecting && error !== undefined) {
      // Say why the connection could not be made.
      for (const event of events) {
        if (event.type === "error") {
          (event as { message: string }).message = error.message;
        }
      }
    }
    this.#handle(events);
    this.#finished = true;
    this.#guard?.stop();
    this.#disarm();
    // As in browsers, a connection that did not close cleanly reports 1006;
    // the `error` event before it said why.
    const info = this.#closeEvent;
    const onClosed = this.#onClosed;
    this.#onClosed = undefined;
    onClosed?.(this);
    this.dispatchEvent(
      new WebSocketCloseEvent(
        "close",
        info?.wasClean ? info : { code: 1006, reason: "", wasClean: false },
      ),
    );
  }
}
