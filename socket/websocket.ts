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
import { frameHeaderSize } from "../core/encoder.ts";
import {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  ReadyState,
} from "../core/connection.ts";
import type {
  DecodeOutcome,
  DeferredDecode,
  ExtensionNegotiator,
} from "../core/extension.ts";
import { HandshakeError, type HeaderInit } from "../core/handshake.ts";
import {
  type DeflateCodec,
  PERMESSAGE_DEFLATE,
  permessageDeflate,
  type PerMessageDeflateOptions,
} from "../core/permessage_deflate.ts";
import { WebSocketCloseEvent, WebSocketErrorEvent } from "./events.ts";
import { type GuardActions, SocketGuard, type SocketLimits } from "./guard.ts";
import type {
  ClientTlsOptions,
  Runtime,
  Transport,
  TransportHandlers,
} from "../adapters/transport.ts";
import {
  defineConstants,
  makeEnumerable,
  nameInterface,
  toClampedUint16,
  toUSVString,
} from "./webidl.ts";

export { WebSocketCloseEvent, WebSocketErrorEvent } from "./events.ts";
export type { CloseEventInit, ErrorEventInit } from "./events.ts";

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
  /**
   * What a listener that throws (or an async listener that rejects) does to
   * the connection. By default nothing: the exception is reported as the
   * `error` property of an `error` event with `code` 0 and the connection
   * stays open. With `true`, the connection fails with 1011 (internal
   * error; the exception's text is not sent to the peer), as when
   * `onMessage` throws.
   */
  closeOnHandlerError?: boolean;
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

/**
 * The events a {@linkcode WebSocket} dispatches, by type: what
 * `addEventListener` gives each listener.
 */
export interface WebSocketEventMap {
  /** The opening handshake completed. */
  open: Event;
  /** A message (`data`: string, or binary as `binaryType` says). */
  message: MessageEvent;
  /** The connection failed, or application code threw (`code` 0). */
  error: WebSocketErrorEvent;
  /** The connection closed. */
  close: WebSocketCloseEvent;
  /** The peer sent a ping (`data`: its payload); wskit answers it with a pong. */
  ping: MessageEvent<Uint8Array>;
  /** The peer sent a pong (`data`: its payload). */
  pong: MessageEvent<Uint8Array>;
  /** `send()` returned false earlier and the queue has drained below `highWaterMark`. */
  drain: Event;
}

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
  /**
   * Told about every exception thrown by this socket's listeners or
   * `onMessage` (e.g. a server's `onError` hook): `event` is the type of
   * the event whose listener threw, undefined for `onMessage`. If it throws
   * itself, that is written with `console.error`.
   */
  onError?: (error: unknown, socket: WebSocket, event?: string) => void;
  /** Fail the connection with 1011 when a listener throws (see {@linkcode WebSocketOptions.closeOnHandlerError}). */
  closeOnHandlerError?: boolean;
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

/**
 * A WebSocket connection with the browser's API; see the module doc.
 *
 * As in a browser, application code cannot break the process through a
 * socket: a listener (an `on…` handler, a function or `{ handleEvent }`
 * object given to `addEventListener`) that throws, or returns a promise that
 * rejects, is reported as an `error` event whose `error` is the exception
 * and whose `code` is 0; the connection stays open unless
 * `closeOnHandlerError` asks for a 1011 close. An exception from an `error`
 * listener is not dispatched again; with no `error` listener (and no
 * server `onError` hook) the first one of each socket is written with
 * `console.error`.
 *
 * `readyState` changes in event order, as a browser's does: `OPEN` when
 * `open` is dispatched, `CLOSING` when `close()` is called or when the
 * peer's close (or the failure) comes up among the events, `CLOSED` just
 * before the `close` event.
 */
export class WebSocket extends EventTarget {
  // The constants are defined in the static block below, as WebIDL wants
  // them: read-only, on the class and on the prototype (not per instance).
  /** The connection is being established. */
  declare static readonly CONNECTING: 0;
  /** The connection is open. */
  declare static readonly OPEN: 1;
  /** The closing handshake is under way. */
  declare static readonly CLOSING: 2;
  /** The connection is closed. */
  declare static readonly CLOSED: 3;
  /** The connection is being established. */
  declare readonly CONNECTING: 0;
  /** The connection is open. */
  declare readonly OPEN: 1;
  /** The closing handshake is under way. */
  declare readonly CLOSING: 2;
  /** The connection is closed. */
  declare readonly CLOSED: 3;

  readonly #url: string;
  #binaryType: BinaryType = "blob";
  readonly #onMessage: MessageCallback | undefined;
  /** Whether this socket failed the connection itself (deliver no more). */
  #failed = false;
  /** The exception behind the failure this socket caused, if one did. */
  #failCause: unknown;
  /** The state applications see; it changes in event order. */
  #state: number = ReadyState.CONNECTING;
  readonly #closeOnHandlerError: boolean;
  readonly #onError:
    | ((error: unknown, socket: WebSocket, event?: string) => void)
    | undefined;
  /** Guarded wrappers of the listeners, per capture flag and type. */
  #wrappers:
    | Map<string, Map<EventListenerOrEventListenerObject, EventListener>>
    | undefined;
  /** Whether an `error` listener ran in the dispatch in progress. */
  #errorHeard = false;
  /** Whether an unheard listener exception was written to the console. */
  #logged = false;
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
  /** UTF-8/binary bytes passed to `send()` once closing (never sent). */
  #discarded = 0;
  /** Bytes passed to `send()` that wait behind a `Blob` being read. */
  #waiting = 0;
  /** Bytes of the messages given to the core and not yet handed to the OS. */
  #unsent = 0;
  /**
   * For each such message, oldest first from `#markHead`: the position its
   * frame ends at in everything this socket has written, and its size.
   */
  #marks: number[] | undefined;
  #markHead = 0;
  /** Marks (from the first) that a later task may count as sent. */
  #settleable = 0;
  #marksAdded = 0;
  #marksDropped = 0;
  #checkpoint: (() => void) | undefined;
  /** Bytes given to the transport so far. */
  #written = 0;
  #needDrain = false;
  #paused = false;
  #readingPaused = false;
  /** Reading stopped for good: a limit failed the connection. */
  #deaf = false;
  #blobChain?: Promise<void>;
  /** The `on…` handlers' slots, made when the first one is set. */
  #on: Partial<Record<HandlerName, { fn: Handler }>> | undefined;
  #onClosed: ((socket: WebSocket) => void) | undefined;
  /** How deep we are in `#handle`, which flushes when it is done. */
  #handling = 0;
  #flushQueued = false;
  #flushLater: (() => void) | undefined;
  /** A `suspend` job is running: reading stays paused until it is done. */
  #decoding = false;
  /** The transport closed while `#decoding`: reported once it is done. */
  #closedWhileDecoding: { error?: Error } | undefined;

  /**
   * Opens a connection to `url` (`ws:`, `wss:`, or `http(s):`), offering
   * `protocols`. A relative `url` resolves against `globalThis.location`
   * where the runtime has one (a page, Deno with `--location`).
   * Credentials in the URL are sent as `Authorization: Basic` unless
   * `options.headers` has its own. Throws a `SyntaxError` DOMException for
   * a bad URL or protocol list, as browsers do; connection failures are
   * reported as an `error` event then a `close` event with code 1006.
   */
  constructor(
    url: string | URL,
    protocols?: string | string[],
    options: WebSocketOptions = {},
  ) {
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to construct 'WebSocket': 1 argument required",
      );
    }
    super();
    const setup = (options as { [SETUP]?: SocketSetup })[SETUP];
    if (setup !== undefined) {
      this.#url = setup.url;
      this.#conn = setup.connection;
      this.#wasOpen = true;
      this.#transport = setup.transport;
      this.#highWaterMark = setup.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
      this.#pauseReadingAt = setup.pauseReadingAt ?? Infinity;
      this.#guard = this.#makeGuard(setup.limits);
      this.#onMessage = setup.onMessage;
      this.#onClosed = setup.onClosed;
      this.#onError = setup.onError;
      this.#closeOnHandlerError = setup.closeOnHandlerError ?? false;
      this.#state = ReadyState.OPEN;
    } else {
      const target = resolveUrl(url);
      const offered = toProtocols(protocols);
      const runtime = options.runtime ?? defaultRuntime?.();
      let conn: Connection;
      try {
        conn = Connection.client(target, {
          ...options,
          suspendable: true, // `#suspend` runs the jobs
          protocols: offered,
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
      this.#url = target.href;
      this.#conn = conn;
      this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
      this.#pauseReadingAt = Infinity;
      this.#guard = this.#makeGuard(options.limits);
      this.#onMessage = options.onMessage;
      this.#onError = undefined;
      this.#closeOnHandlerError = options.closeOnHandlerError ?? false;
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
    // A server socket whose connection already closed (early frames ended in
    // a close) waits for its events to be dispatched before writing.
    if (this.#conn.state !== ReadyState.CLOSED) this.#flush();
  }

  static {
    // The WebIDL shape of the interface (HTML's websockets.idl).
    Object.defineProperty(this, "length", { value: 1 });
    defineConstants([this, this.prototype], {
      CONNECTING: 0,
      OPEN: 1,
      CLOSING: 2,
      CLOSED: 3,
    });
    makeEnumerable(this.prototype, [
      "url",
      "readyState",
      "bufferedAmount",
      "onopen",
      "onerror",
      "onclose",
      "extensions",
      "protocol",
      "close",
      "onmessage",
      "binaryType",
      "send",
    ]);
    // WebIDL counts only required arguments: `close(optional …, optional …)`.
    Object.defineProperty(this.prototype.close, "length", { value: 0 });
    nameInterface(this, "WebSocket");
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
        if (code === 1001) ws.closeWithCode(code, reason);
        else ws.fail(code, reason);
      }
    };
  }

  /** The state: `CONNECTING`, `OPEN`, `CLOSING` or `CLOSED`. */
  get readyState(): number {
    return this.#state;
  }

  /** The URL connected to (resolved, with `http(s):` mapped to `ws(s):`). */
  get url(): string {
    return this.#url;
  }

  /** The subprotocol the server selected, or "". */
  get protocol(): string {
    return this.#conn.protocol;
  }

  /** The extensions the server accepted, or "". */
  get extensions(): string {
    return this.#conn.extensions;
  }

  /**
   * Bytes of application data (UTF-8 text, binary data) queued by `send()`
   * and not yet handed to the network, as in browsers: frame headers,
   * masks and control frames are not counted; data sent while closing is
   * counted and never leaves. It drops only in a later task than the
   * `send()`, once the transport has handed the data to the OS.
   */
  get bufferedAmount(): number {
    this.#settle();
    return this.#unsent + this.#waiting + this.#discarded;
  }

  /** Drops the marks (up to `#settleable`) of messages handed to the OS. */
  #settle(): void {
    const marks = this.#marks;
    if (marks === undefined) return;
    const handed = this.#written - this.#transport.buffered;
    let head = this.#markHead;
    while (
      head < marks.length && this.#marksDropped < this.#settleable &&
      marks[head] <= handed
    ) {
      this.#unsent -= marks[head + 1];
      this.#marksDropped++;
      head += 2;
    }
    if (head === marks.length) {
      marks.length = 0;
      head = 0;
    } else if (head > 2048 && head * 2 > marks.length) {
      marks.splice(0, head);
      head = 0;
    }
    this.#markHead = head;
  }

  /** Counts a message of `size` bytes just given to the core. */
  #mark(size: number): void {
    const marks = this.#marks ??= [];
    marks.push(this.#written + this.#conn.outputLength, size);
    this.#unsent += size;
    if (this.#marksAdded++ === this.#settleable) {
      // The first mark since the last checkpoint: the next one lets all of
      // this turn's marks count as sent once they are.
      queueMicrotask(
        this.#checkpoint ??= () => {
          this.#settleable = this.#marksAdded;
          this.#settle();
        },
      );
    }
  }

  /** How binary messages arrive: `"blob"` (default), `"arraybuffer"` or `"uint8array"`. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    // WebIDL enum: converted with ToString, unknown values ignored.
    value = String(value) as BinaryType;
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
    super.addEventListener(name, (event: Event): void => {
      const fn = created.fn;
      if (fn !== null) this.#invoke(fn, this, event);
    });
  }

  /**
   * Adds a listener as `EventTarget` does (same de-duplication, `once`,
   * `signal` and `capture`), but guarded: if it throws, or returns a promise
   * that rejects, the exception is reported (see the class doc) and never
   * reaches the process. An object's `handleEvent` is looked up when the
   * event is dispatched, as in the DOM.
   */
  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener:
      | ((this: WebSocket, event: WebSocketEventMap[K]) => unknown)
      | { handleEvent(event: WebSocketEventMap[K]): unknown }
      | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Adds a listener for an event of any other type (see above). */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (
      listener === null ||
      (typeof listener !== "function" && typeof listener !== "object")
    ) {
      super.addEventListener(type, listener, options);
      return;
    }
    const key = listenerKey(type, options);
    const signal = typeof options === "object" ? options.signal : undefined;
    if (signal?.aborted) return;
    const wrappers = this.#wrappers ??= new Map();
    let slot = wrappers.get(key);
    if (slot === undefined) wrappers.set(key, slot = new Map());
    let wrapper = slot.get(listener);
    if (wrapper === undefined) {
      const once = typeof options === "object" && options.once === true;
      const made = wrapper = (event: Event): void => {
        if (once) this.#forget(key, listener, made);
        if (typeof listener === "function") {
          this.#invoke(listener, this, event);
        } else {
          this.#invoke(listener.handleEvent, listener, event);
        }
      };
      slot.set(listener, made);
    }
    if (signal !== undefined) {
      const made = wrapper;
      signal.addEventListener(
        "abort",
        () => this.#forget(key, listener, made),
        { once: true },
      );
    }
    super.addEventListener(type, wrapper, options);
  }

  /** Whether a listener for `type` is registered (through `addEventListener`). */
  #heard(type: string): boolean {
    const wrappers = this.#wrappers;
    if (wrappers === undefined) return false;
    return (wrappers.get("b:" + type)?.size ?? 0) > 0 ||
      (wrappers.get("c:" + type)?.size ?? 0) > 0;
  }

  /** Removes a listener added with {@linkcode WebSocket.addEventListener}. */
  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener:
      | ((this: WebSocket, event: WebSocketEventMap[K]) => unknown)
      | { handleEvent(event: WebSocketEventMap[K]): unknown }
      | null,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Removes a listener for an event of any other type. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    const slot = this.#wrappers?.get(listenerKey(type, options));
    const wrapper = listener === null ? undefined : slot?.get(listener);
    if (wrapper === undefined) {
      super.removeEventListener(type, listener, options);
      return;
    }
    slot!.delete(listener!);
    super.removeEventListener(type, wrapper, options);
  }

  #forget(
    key: string,
    listener: EventListenerOrEventListenerObject,
    wrapper: EventListener,
  ): void {
    const slot = this.#wrappers?.get(key);
    if (slot?.get(listener) === wrapper) slot.delete(listener);
  }

  /** Calls a listener; reports what it throws or its promise rejects with. */
  #invoke(fn: unknown, self: unknown, event: Event): void {
    const type = event.type;
    if (type === "error") this.#errorHeard = true;
    let result: unknown;
    try {
      if (typeof fn !== "function") {
        throw new TypeError(
          `the "${type}" listener's handleEvent is not a function`,
        );
      }
      result = fn.call(self, event);
    } catch (error) {
      this.#threw(type, error, this.#closeOnHandlerError);
      return;
    }
    this.#watch(result, type, this.#closeOnHandlerError);
  }

  /** If `result` is a thenable, reports its rejection. */
  #watch(result: unknown, type: string | undefined, fail: boolean): void {
    if (
      result === null ||
      (typeof result !== "object" && typeof result !== "function")
    ) return;
    try {
      const then = (result as PromiseLike<unknown>).then;
      if (typeof then !== "function") return;
      then.call(result, undefined, (error: unknown) => {
        this.#threw(type, error, fail);
      });
    } catch (error) {
      this.#threw(type, error, fail);
    }
  }

  /**
   * Application code threw `error`: a listener for events of `type`, or
   * `onMessage` (`type` undefined). Tells the `onError` hook, then fails the
   * connection with 1011 (`fail`, while it can) or dispatches an `error`
   * event with code 0. An `error` listener's exception is not dispatched
   * again, so nothing loops.
   */
  #threw(type: string | undefined, error: unknown, fail: boolean): void {
    const hook = this.#onError;
    if (hook !== undefined) {
      try {
        hook(error, this, type);
      } catch (hookError) {
        this.#log(hookError);
      }
    }
    if (type === "error") {
      if (hook === undefined) this.#log(error);
      return;
    }
    const what = type === undefined
      ? "the onMessage callback"
      : `a "${type}" listener`;
    const state = this.#conn.state;
    if (
      fail && !this.#failed &&
      (state === ReadyState.OPEN || state === ReadyState.CLOSING)
    ) {
      this.#failed = true;
      this.#failCause = error;
      this.#handle(this.#conn.fail(1011, "internal error"));
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.#errorHeard = false;
    this.dispatchEvent(
      new WebSocketErrorEvent(`${what} threw: ${message}`, 0, error),
    );
    if (!this.#errorHeard && hook === undefined) this.#log(error);
  }

  /** Writes an exception nobody handled, once per socket. */
  #log(error: unknown): void {
    if (this.#logged) return;
    this.#logged = true;
    console.error("wskit: unhandled exception in WebSocket code:", error);
  }

  /**
   * Sends a message: a string as text, bytes or a `Blob` as binary; any
   * other value is sent as its string (`null` as `"null"`), as WebIDL
   * converts it. Throws a `TypeError` when called with no argument, then
   * an `InvalidStateError` DOMException while connecting; once closing,
   * the data is discarded (and counted in `bufferedAmount`, as browsers
   * do). Returns false when the bytes waiting to be written (frames
   * included) passed the high-water mark: wait for the `drain` event
   * before sending more.
   */
  send(data: SendData): boolean {
    // Arguments are converted before the state is checked, as WebIDL does:
    // anything not a Blob or bytes is sent as its string (null → "null").
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to execute 'send' on 'WebSocket': 1 argument required",
      );
    }
    let payload: string | Uint8Array | Blob;
    if (typeof data === "string") {
      payload = data; // lone surrogates become U+FFFD when encoded
    } else if (typeof Blob !== "undefined" && data instanceof Blob) {
      payload = data;
    } else if (
      ArrayBuffer.isView(data) || data instanceof ArrayBuffer ||
      (typeof SharedArrayBuffer !== "undefined" &&
        data instanceof SharedArrayBuffer)
    ) {
      payload = toBytes(data as ArrayBuffer | ArrayBufferView);
    } else {
      payload = toUSVString(data);
    }
    if (this.#state === ReadyState.CONNECTING) {
      throw new DOMException(
        "WebSocket is still connecting",
        "InvalidStateError",
      );
    }
    if (typeof payload !== "string" && !(payload instanceof Uint8Array)) {
      return this.#sendBlob(payload);
    }
    if (this.#blobChain !== undefined) {
      const size = byteSize(payload);
      this.#waiting += size;
      const queued = payload;
      this.#blobChain = this.#blobChain.then(() => {
        this.#waiting -= size;
        this.#sendNow(queued);
      });
      return this.#below();
    }
    this.#sendNow(payload);
    return this.#below();
  }

  #sendNow(payload: string | Uint8Array): void {
    const conn = this.#conn;
    if (this.#state >= ReadyState.CLOSING || !conn.canSend) {
      this.#discarded += byteSize(payload);
      return;
    }
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
    const size = blob.size;
    this.#waiting += size;
    const chain = previous.then(async () => {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await blob.arrayBuffer());
      } finally {
        this.#waiting -= size;
      }
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
   * (`SyntaxError`). `readyState` is `CLOSING` when it returns. While
   * connecting, the connection is dropped instead: `error` then `close`
   * (1006) follow from a later task.
   */
  close(code?: number, reason?: string): void {
    // WebIDL: `[Clamp] unsigned short code`, `USVString reason`, both
    // converted before either is checked.
    if (code !== undefined) code = toClampedUint16(code);
    if (reason !== undefined) reason = toUSVString(reason);
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
    if (this.#state === ReadyState.CONNECTING) {
      this.#state = ReadyState.CLOSING;
      const events = this.#conn.close(code, reason);
      this.#disarm();
      // Set before `destroy()`: a transport may report its close at once.
      (this.#later ??= []).push(() => this.#handle(events));
      setTimeout(() => this.#runLater(), 0);
      this.#transport.destroy();
      return;
    }
    this.#handle(this.#conn.close(code, reason));
    if (this.#state === ReadyState.OPEN) this.#state = ReadyState.CLOSING;
  }

  /**
   * Closes with any code valid on the wire (e.g. 1001 going away, 1008
   * policy violation, 1011 internal error); for servers.
   */
  closeWithCode(code: number, reason?: string): void {
    this.#handle(this.#conn.closeWithCode(code, reason));
    if (this.#state === ReadyState.OPEN) this.#state = ReadyState.CLOSING;
  }

  /** Fails the connection now with `code` (no waiting for the peer). */
  fail(code: number, message: string): void {
    this.#handle(this.#conn.fail(code, message));
    if (this.#state === ReadyState.OPEN) this.#state = ReadyState.CLOSING;
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
    if (!this.#paused && !this.#decoding && !this.#deaf) {
      this.#transport.resume();
    }
  }

  /**
   * A limit failed the connection: read nothing more (RFC 6455 §7.1.1: no
   * more data is processed after failing), so a flooding peer costs no
   * more reads; the close timeout then drops the transport.
   */
  #stopReading(): void {
    this.#deaf = true;
    this.#transport.pause();
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
      this.#flush(); // does nothing if the deferred batch may end in a close
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
        this.#opened();
        break;
      }
      switch (event.type) {
        case "message":
          this.#dispatchMessage(event.data);
          break;
        case "open":
          this.#opened();
          break;
        case "ping":
        case "pong":
          if (this.#failed) break;
          if (this.#guard !== undefined) {
            const over = this.#guard.control(
              event.data.length,
              event.type === "ping",
            );
            if (over !== undefined) {
              this.#failed = true;
              this.#stopReading();
              this.#handle(this.#conn.fail(1008, over));
              break;
            }
          }
          // No event object per ping when nothing listens (a ping flood
          // would otherwise allocate one per ping for nobody).
          if (this.#heard(event.type)) {
            this.dispatchEvent(
              new MessageEvent(event.type, { data: event.data }),
            );
          }
          break;
        case "error":
          if (this.#state < ReadyState.CLOSING) {
            this.#state = ReadyState.CLOSING;
          }
          this.dispatchEvent(
            new WebSocketErrorEvent(event.message, event.code, this.#failCause),
          );
          break;
        case "close":
          // The peer's close (or the failure) has its turn: what was sent
          // from the handlers of the events before it still went out.
          if (this.#state < ReadyState.CLOSING) {
            this.#state = ReadyState.CLOSING;
          }
          this.#closeEvent = event;
          break;
        case "suspend":
          this.#suspend(event.job);
          break;
      }
    }
  }

  /**
   * The connection put a large message's decoding off (see `suspend` in
   * core/connection.ts): stop reading, run the job (off the event loop),
   * then hand its outcome back and handle what follows, in order. A
   * transport close meanwhile waits for it, so the message still comes
   * before the close; once the connection has closed, the outcome is dropped.
   */
  #suspend(job: DeferredDecode): void {
    this.#decoding = true;
    this.#transport.pause();
    const done = (outcome: DecodeOutcome): void => {
      this.#decoding = false;
      this.#handle(this.#conn.resume(outcome));
      if (this.#decoding) return; // the next message is being decoded
      const closed = this.#closedWhileDecoding;
      if (closed !== undefined) {
        this.#closedWhileDecoding = undefined;
        this.#onTransportClose(closed.error);
      } else if (!this.#paused && !this.#readingPaused && !this.#deaf) {
        this.#transport.resume();
      }
    };
    try {
      job.run(done);
    } catch (error) {
      queueMicrotask(() => done({ error }));
    }
  }

  #opened(): void {
    this.#wasOpen = true;
    if (this.#state === ReadyState.CONNECTING) this.#state = ReadyState.OPEN;
    this.dispatchEvent(new Event("open"));
  }

  #dispatchMessage(data: string | Uint8Array): void {
    // Failed here (a limit, or `onMessage` threw): deliver nothing more.
    if (this.#failed) return;
    const guard = this.#guard;
    if (guard !== undefined) {
      const over = guard.message(
        typeof data === "string" ? data.length : data.length,
      );
      if (over !== undefined) {
        this.#failed = true;
        this.#stopReading();
        this.#handle(this.#conn.fail(1008, over));
        return;
      }
    }
    const onMessage = this.#onMessage;
    if (onMessage !== undefined) {
      let result: unknown;
      try {
        result = onMessage(this, data);
      } catch (error) {
        this.#threw(undefined, error, true);
        return;
      }
      this.#watch(result, undefined, true);
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
    if (
      conn.state === ReadyState.CLOSED && !this.#finished &&
      (this.#handling > 0 || this.#later !== undefined)
    ) {
      // The batch being dispatched ends in the peer's close or a failure:
      // our close frame waits in the core until every event of the batch
      // has been dispatched, so the replies made meanwhile go out first.
      return;
    }
    const output = conn.takeOutput();
    for (let i = 0; i < output.length; i++) transport.write(output[i]);
    for (let i = 0; i < output.length; i++) this.#written += output[i].length;
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
        this.#arm(4, conn.timer?.ms ?? 0, () => transport.destroy());
        transport.end();
      }
      return;
    }
    const timer = conn.timer;
    if (timer === undefined) {
      this.#disarm();
    } else if (timer.kind === "linger") {
      // The server is to close the transport first (RFC 6455 §7.1.1).
      if (this.#timerState !== 4) {
        this.#arm(4, timer.ms, () => transport.destroy());
      }
    } else if (this.#timerState !== conn.state) {
      this.#arm(conn.state, timer.ms, () => this.#handle(conn.timeout()));
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
      if (!this.#readingPaused && !this.#decoding && !this.#deaf) {
        this.#transport.resume();
      }
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
    if (this.#decoding) {
      this.#closedWhileDecoding = { error };
      return;
    }
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
    this.#state = ReadyState.CLOSED;
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

/**
 * The constructor's URL steps (HTML): ToString, parse against the
 * document's base (`globalThis.location`, where the runtime has one, e.g.
 * Deno with `--location`), map `http(s):` to `ws(s):`. Throws a
 * `SyntaxError` DOMException when it does not parse.
 */
function resolveUrl(url: unknown): URL {
  const text = toUSVString(url);
  let base: string | undefined;
  try {
    const href = (globalThis as { location?: { href?: unknown } }).location
      ?.href;
    if (typeof href === "string") base = href;
  } catch {
    // Deno without --location throws on `location`: no base.
  }
  let target: URL;
  try {
    target = new URL(text, base);
  } catch {
    throw new DOMException(`invalid URL: ${text}`, "SyntaxError");
  }
  if (target.protocol === "http:") target.protocol = "ws:";
  else if (target.protocol === "https:") target.protocol = "wss:";
  return target;
}

/**
 * WebIDL `(DOMString or sequence<DOMString>)`: an iterable object is a
 * list whose items are converted with ToString; anything else is one
 * string.
 */
function toProtocols(value: unknown): string | string[] | undefined {
  if (value === undefined) return undefined;
  if (
    (typeof value === "object" && value !== null) ||
    typeof value === "function"
  ) {
    const iterable = value as Partial<Iterable<unknown>>;
    if (typeof iterable[Symbol.iterator] === "function") {
      return Array.from(iterable as Iterable<unknown>, (item) => String(item));
    }
  }
  return String(value);
}

/** The payload size of one frame of `frameBytes` bytes. */
function payloadSize(frameBytes: number, masked: boolean): number {
  for (const header of masked ? [6, 8, 14] : [2, 4, 10]) {
    const size = frameBytes - header;
    if (frameHeaderSize(size, masked) === header) return size;
  }
  return frameBytes; // unreachable for one well-formed frame
}

/** The bytes a message carries: a string's UTF-8 size (lone surrogates as U+FFFD). */
function byteSize(payload: string | Uint8Array): number {
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

/** Where a listener's wrapper is kept: by capture flag and event type. */
function listenerKey(
  type: string,
  options: boolean | EventListenerOptions | undefined,
): string {
  const capture = typeof options === "boolean"
    ? options
    : options?.capture === true;
  return (capture ? "c:" : "b:") + type;
}
