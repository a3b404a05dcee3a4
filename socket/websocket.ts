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
  type Connection,
  type ConnectionEvent,
  ReadyState,
} from "../core/connection.ts";
import type { DecodeOutcome, DeferredDecode } from "../core/extension.ts";
import { BufferedAmount, byteSize } from "./buffered.ts";
import { openClient } from "./client.ts";
import { type Driver, type DriverOwner, Hold } from "./driver.ts";
import { errorMessage, LocalError } from "../core/errors.ts";
import { WebSocketCloseEvent, WebSocketErrorEvent } from "./events.ts";
import { type GuardActions, type GuardFault, SocketGuard } from "./guard.ts";
import {
  GuardedListeners,
  type Handler,
  type ListenerFaults,
  watchResult,
} from "./listeners.ts";
import type {
  BinaryType,
  MessageCallback,
  SendData,
  SocketSetup,
  WebSocketEventMap,
  WebSocketOptions,
} from "./options.ts";
import {
  defineConstants,
  makeEnumerable,
  nameInterface,
  toClampedUint16,
  toUSVString,
} from "./webidl.ts";

export { setDefaultRuntime } from "./client.ts";
export type { Handler } from "./listeners.ts";
export { WebSocketCloseEvent, WebSocketErrorEvent } from "./events.ts";
export type { CloseEventInit, ErrorEventInit } from "./events.ts";
export type {
  BinaryType,
  MessageCallback,
  SendData,
  SocketSetup,
  WebSocketEventMap,
  WebSocketOptions,
} from "./options.ts";
export { withPerMessageDeflate } from "./options.ts";

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** Sent bytes waiting in the core past this are written at once. */
const FLUSH_NOW = 64 * 1024;

/** The driver and setup `adoptSocket` hands to the constructor it calls. */
let adopting: { driver: Driver; setup: SocketSetup } | undefined;

/**
 * Makes the `WebSocket` for a connection that already runs on `driver`
 * (a server's accepted connection, a stream opened elsewhere): the socket
 * becomes the driver's owner. Events the connection produced before (e.g.
 * frames that came with the request) are passed with `driver.deliver()`
 * once the application has its socket.
 */
export function adoptSocket(driver: Driver, setup: SocketSetup): WebSocket {
  adopting = { driver, setup };
  try {
    return new WebSocket(setup.url);
  } finally {
    adopting = undefined;
  }
}

/** A listener for the {@linkcode WebSocketEventMap} event `K`. */
export type WebSocketListener<K extends keyof WebSocketEventMap> =
  | ((this: WebSocket, event: WebSocketEventMap[K]) => unknown)
  | { handleEvent(event: WebSocketEventMap[K]): unknown }
  | null;

// Set in `WebSocket`'s static block (it reaches the private members): one
// small object per socket that hears its driver, its listeners' faults and
// its guard, instead of a closure per callback.
let SocketOwner: new (ws: WebSocket) => SocketOwnerType;

/** What a socket's owner object hears: its driver, listeners and guard. */
interface SocketOwnerType extends DriverOwner, ListenerFaults, GuardActions {}

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
  /** The guarded listeners and `on…` handlers. */
  /** The guarded listeners and `on…` handlers, made at the first one. */
  #listeners: GuardedListeners | undefined;
  /** Its driver's owner: hears the driver, the guard and the listeners. */
  readonly #owner: SocketOwnerType;
  /** Whether an unheard listener exception was written to the console. */
  #logged = false;
  readonly #conn: Connection;
  readonly #driver: Driver;
  readonly #highWaterMark: number;
  #closeEvent?: { code: number; reason: string; wasClean: boolean };
  #finished = false;
  #guard: SocketGuard | undefined;
  /** Work deferred to a later task after `open` (see `#handle`). */
  #later: (() => void)[] | undefined;
  /** What `bufferedAmount` counts. */
  readonly #buffered: BufferedAmount;
  #needDrain = false;
  #blobChain?: Promise<void>;
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
    const adopted = adopting;
    adopting = undefined;
    const { driver, setup } = adopted ?? openClient(url, protocols, options);
    this.#url = setup.url;
    this.#driver = driver;
    this.#conn = driver.connection;
    driver.owner = this.#owner = new SocketOwner(this);
    this.#highWaterMark = setup.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.#guard = setup.limits === undefined
      ? undefined
      : new SocketGuard(setup.limits, this.#owner);
    this.#onMessage = setup.onMessage;
    this.#onClosed = setup.onClosed;
    this.#onError = setup.onError;
    this.#closeOnHandlerError = setup.closeOnHandlerError ?? false;
    // An adopted connection is open already (it may have closed since).
    if (adopted !== undefined) this.#state = ReadyState.OPEN;
    this.#buffered = new BufferedAmount(this.#driver);
    this.#driver.wakeful = this.#guard; // its checks share the one timer
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
    for (const type of ["open", "message", "error", "close"]) {
      const get = function (this: WebSocket): Handler {
        return this.#listeners?.handler(type) ?? null;
      };
      const set = function (this: WebSocket, fn: unknown): void {
        this.#guarded().setHandler(type, fn);
      };
      // WebIDL names the accessors `get onopen` / `set onopen`.
      Object.defineProperty(get, "name", { value: `get on${type}` });
      Object.defineProperty(set, "name", { value: `set on${type}` });
      Object.defineProperty(this.prototype, `on${type}`, {
        get,
        set,
        configurable: true,
      });
    }
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
    SocketOwner = class implements SocketOwnerType {
      readonly ws: WebSocket;
      constructor(ws: WebSocket) {
        this.ws = ws;
      }
      events(events: readonly ConnectionEvent[], received: boolean): void {
        const ws = this.ws;
        if (received) ws.#guard?.received();
        ws.#handle(events);
      }
      drained(): void {
        this.ws.#onDrain();
      }
      closed(error?: Error): void {
        this.ws.#onTransportClose(error);
      }
      backpressure(paused: boolean): void {
        this.ws.#guard?.paused(paused);
      }
      listenerThrew(type: string, error: unknown): void {
        const ws = this.ws;
        ws.#threw(type, error, ws.#closeOnHandlerError);
      }
      ping(): void {
        if (this.ws.#conn.canSend) this.ws.ping();
      }
      goAway(reason: string): void {
        this.ws.closeWithCode(1001, reason);
      }
      fail(fault: GuardFault): void {
        const ws = this.ws;
        ws.#handle(ws.#conn.fail(1008, fault.reason, fault.id));
        if (ws.#state === ReadyState.OPEN) ws.#state = ReadyState.CLOSING;
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
    return this.#buffered.amount;
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
    return this.#driver.transport.remoteAddress;
  }

  // The `on…` handler attributes: accessors on the prototype, made in the
  // static block below (one getter/setter pair per name).
  /** `open` handler. */
  declare onopen: Handler;
  /** `message` handler; receives a `MessageEvent`. */
  declare onmessage: ((event: MessageEvent) => unknown) | null;
  /** `error` handler; receives a {@linkcode WebSocketErrorEvent}. */
  declare onerror: Handler;
  /** `close` handler; receives a `CloseEvent`. */
  declare onclose: ((event: WebSocketCloseEvent) => unknown) | null;

  /**
   * Adds a listener as `EventTarget` does (same de-duplication, `once`,
   * `signal` and `capture`), but guarded: if it throws, or returns a promise
   * that rejects, the exception is reported (see the class doc) and never
   * reaches the process. An object's `handleEvent` is looked up when the
   * event is dispatched, as in the DOM.
   */
  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: WebSocketListener<K>,
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
    this.#guarded().add(type, listener, options);
  }
  /** Removes a listener added with {@linkcode WebSocket.addEventListener}. */
  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: WebSocketListener<K>,
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
    if (this.#listeners === undefined) {
      super.removeEventListener(type, listener, options);
    } else {
      this.#listeners.remove(type, listener, options);
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
      this.#handle(
        this.#conn.fail(1011, "internal error", "WS_ERR_APPLICATION"),
      );
      return;
    }
    const message = errorMessage(error);
    const listeners = this.#listeners;
    if (listeners !== undefined) listeners.errorHeard = false;
    this.dispatchEvent(
      new WebSocketErrorEvent(`${what} threw: ${message}`, 0, error),
    );
    if (listeners?.errorHeard !== true && hook === undefined) this.#log(error);
  }

  /** The guarded listeners, made when the first one is added. */
  #guarded(): GuardedListeners {
    return this.#listeners ??= new GuardedListeners(this, this.#owner);
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
      this.#buffered.waiting += size;
      const queued = payload;
      this.#blobChain = this.#blobChain.then(() => {
        this.#buffered.waiting -= size;
        this.#sendNow(queued);
      });
      return this.#below();
    }
    this.#sendNow(payload);
    return this.#below();
  }

  #sendNow(payload: string | Uint8Array): void {
    if (this.#state >= ReadyState.CLOSING || !this.#conn.canSend) {
      this.#buffered.discarded += byteSize(payload);
      return;
    }
    this.#buffered.send(payload);
    if (this.#guard !== undefined && this.#overfull()) return;
    this.#flushSoon();
  }

  /**
   * Enforces `limits.maxQueuedBytes` over everything not yet sent: past it
   * the connection fails (1008) and the transport is dropped, since the close
   * frame could not get through the full queue anyway.
   */
  #overfull(): boolean {
    const fault = this.#guard?.queued(this.#driver.queued);
    if (fault === undefined || this.#finished) return false;
    this.#guard?.stop();
    this.#guard = undefined;
    this.#driver.wakeful = undefined;
    this.#handle(this.#conn.fail(1008, fault.reason, fault.id));
    this.#driver.destroy();
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
    this.#buffered.waiting += size;
    const chain = previous.then(async () => {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await blob.arrayBuffer());
      } finally {
        this.#buffered.waiting -= size;
      }
      this.#sendNow(bytes);
    }).catch(() => {}).finally(() => {
      if (this.#blobChain === chain) this.#blobChain = undefined;
    });
    this.#blobChain = chain;
    return this.#below();
  }

  #below(): boolean {
    const ok = this.#driver.queued < this.#highWaterMark;
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
    // The core checks the code, then the reason, whatever the state.
    let events: readonly ConnectionEvent[];
    try {
      events = this.#conn.close(code, reason);
    } catch (error) {
      throw toDOMException(error);
    }
    if (this.#state === ReadyState.CONNECTING) {
      this.#state = ReadyState.CLOSING;
      // Set before `destroy()`: a transport may report its close at once.
      (this.#later ??= []).push(() => this.#handle(events));
      setTimeout(() => this.#runLater(), 0);
      this.#driver.destroy();
      return;
    }
    this.#handle(events);
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
    this.#driver.hold(Hold.Caller, true);
  }

  /** Resumes reading after {@linkcode WebSocket.pauseReading}. */
  resumeReading(): void {
    this.#driver.hold(Hold.Caller, false);
  }

  /**
   * A limit failed the connection: read nothing more (RFC 6455 §7.1.1: no
   * more data is processed after failing), so a flooding peer costs no
   * more reads; the close timeout then drops the transport.
   */
  #stopReading(): void {
    this.#driver.hold(Hold.Failed, true);
  }

  /** Closes the transport at once, with no close frame (close code 1006). */
  terminate(): void {
    this.#driver.destroy();
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
              this.#handle(this.#conn.fail(1008, over.reason, over.id));
              break;
            }
          }
          // No event object per ping when nothing listens (a ping flood
          // would otherwise allocate one per ping for nobody).
          if (this.#listeners?.heard(event.type)) {
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
            new WebSocketErrorEvent(
              event.message,
              event.code,
              this.#failCause ?? event.cause,
              event.id,
            ),
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
    this.#driver.hold(Hold.Decoding, true);
    const done = (outcome: DecodeOutcome): void => {
      this.#decoding = false;
      this.#handle(this.#conn.resume(outcome));
      if (this.#decoding) return; // the next message is being decoded
      const closed = this.#closedWhileDecoding;
      if (closed !== undefined) {
        this.#closedWhileDecoding = undefined;
        this.#onTransportClose(closed.error);
      } else {
        this.#driver.hold(Hold.Decoding, false);
      }
    };
    try {
      job.run(done);
    } catch (error) {
      queueMicrotask(() => done({ error }));
    }
  }

  #opened(): void {
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
        this.#handle(this.#conn.fail(1008, over.reason, over.id));
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
      watchResult(result, (error) => this.#threw(undefined, error, true));
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

  /** Writes pending output through the driver (which ends the transport and times waits). */
  #flush(): void {
    const driver = this.#driver;
    if (
      this.#conn.state === ReadyState.CLOSED && !this.#finished &&
      (this.#handling > 0 || this.#later !== undefined)
    ) {
      // The batch being dispatched ends in the peer's close or a failure:
      // our close frame waits in the core until every event of the batch
      // has been dispatched, so the replies made meanwhile go out first.
      return;
    }
    const wrote = driver.flush();
    if (
      this.#needDrain && wrote &&
      driver.transport.buffered < this.#highWaterMark
    ) {
      // What `send()` had queued went straight through: no transport
      // `drain` will follow, so report it here (after this task's code).
      queueMicrotask(() => this.#onDrain());
    }
    if (this.#guard !== undefined) this.#overfull();
  }

  #onDrain(): void {
    if (
      this.#needDrain && this.#driver.transport.buffered < this.#highWaterMark
    ) {
      this.#needDrain = false;
      this.dispatchEvent(new Event("drain"));
    }
  }

  /** Runs what was deferred after `open`, in order. */
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
 * What a browser throws for a `LocalError` (WebIDL/HTML): a bad syntax
 * (URL, token, a close reason over 123 bytes) is a `SyntaxError`, a value
 * not allowed (a close code) an `InvalidAccessError`, the wrong state an
 * `InvalidStateError`. Anything else is returned as it is.
 */
function toDOMException(error: unknown): unknown {
  if (!(error instanceof LocalError)) return error;
  const name = error.kind === "syntax"
    ? "SyntaxError"
    : error.kind === "state"
    ? "InvalidStateError"
    : "InvalidAccessError";
  return new DOMException(error.message, name);
}
