/**
 * The WebSocket connection state machine, sans-IO: bytes and commands go in,
 * events and bytes to write come out. No clock, no socket.
 *
 * A connection starts either in `CONNECTING` (it performs the HTTP upgrade
 * itself: {@linkcode Connection.client} / {@linkcode Connection.server}) or
 * directly in `OPEN` over a stream whose handshake happened elsewhere (an
 * HTTP/2 extended CONNECT stream, a pre-authenticated tunnel), with the
 * negotiated subprotocol and extensions passed in.
 *
 * The embedder's loop:
 * 1. pass received bytes to {@linkcode Connection.receive} and handle the
 *    events it returns;
 * 2. write everything {@linkcode Connection.takeOutput} returns, in order;
 * 3. close the transport when {@linkcode Connection.wantsTransportClose} is
 *    true; otherwise, while {@linkcode Connection.deadline} is set, arm a
 *    timer for that many milliseconds and call
 *    {@linkcode Connection.timeout} when it fires;
 * 4. call {@linkcode Connection.transportClosed} on EOF or a transport error.
 *
 * A `suspendable` connection may end a batch of events with `suspend`: a
 * received message is too large to decode synchronously (permessage-deflate
 * over a codec that can inflate off the event loop). It reads nothing more
 * (bytes passed to `receive()` meanwhile are kept, unread, so the embedder
 * should pause the transport) until the embedder has run the event's `job`
 * and passed its outcome to {@linkcode Connection.resume}, which returns the
 * message (or the failure) and the events of the bytes kept since.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.ts";
 *
 * const server = new Connection({ role: "server" });
 * const client = new Connection({ role: "client" });
 * client.send("hello");
 * for (const chunk of client.takeOutput()) {
 *   for (const event of server.receive(chunk)) {
 *     if (event.type === "message") console.log(event.data); // "hello"
 *   }
 * }
 * ```
 *
 * @module
 */

import { EMPTY_BYTES, toBytes } from "./bytes.ts";
import { isApplicationCloseCode, isValidWireCloseCode } from "./close.ts";
import { FrameDecoder, type FrameSink } from "./decoder.ts";
import {
  type ErrorId,
  LocalError,
  PeerError,
  ProtocolError,
} from "./errors.ts";
import {
  acceptExtensions,
  type DecodeOutcome,
  type DeferredDecode,
  type Extension,
  type ExtensionNegotiator,
  negotiateExtensions,
} from "./extension.ts";
import { MAX_CONTROL_PAYLOAD, Opcode } from "./frame.ts";
import {
  type AcceptOptions,
  buildAcceptResponse,
  buildClientRequest,
  buildRejectResponse,
  type ClientRequest,
  type ClientRequestOptions,
  type RejectOptions,
  type UpgradeRequest,
  validateServerResponse,
  validateUpgradeRequest,
} from "./handshake.ts";
import {
  type HeaderMap,
  HttpError,
  HttpHeadParser,
  type HttpLimits,
  type HttpRequestHead,
  type HttpResponseHead,
} from "./http.ts";
import {
  DEFAULT_MESSAGE_LIMITS,
  MessageAssembler,
  type MessageLimits,
  singleMessage,
} from "./message.ts";
import { OutputQueue } from "./output.ts";
import { isValidUtf8 } from "./utf8.ts";

/** The four states of a connection, numbered as in the browser API. */
export const ReadyState = {
  /** The opening handshake is under way. */
  CONNECTING: 0,
  /** Messages flow both ways. */
  OPEN: 1,
  /** This end sent a close frame and waits for the peer's. */
  CLOSING: 2,
  /** The close handshake finished, or the connection failed. */
  CLOSED: 3,
} as const;

/** One of the {@linkcode ReadyState} values. */
export type ReadyStateValue = typeof ReadyState[keyof typeof ReadyState];

/** What a connection reports. */
export type ConnectionEvent =
  | {
    /** Server role: a valid upgrade request awaits `accept()`/`reject()`. */
    type: "request";
    request: UpgradeRequest;
  }
  | {
    /** The connection is open (client: the handshake response was valid). */
    type: "open";
    protocol: string;
    extensions: string;
    /** Client role: the server's response headers. */
    headers?: HeaderMap;
  }
  | { type: "message"; data: string | Uint8Array }
  | {
    /**
     * Suspendable connections only, always the last event of a batch: a
     * message needs `job` run (off the event loop) before anything more is
     * read. Run it, then pass its outcome to `resume()`.
     */
    type: "suspend";
    job: DeferredDecode;
  }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | {
    /**
     * The connection failed. `code` is the close code it failed with (1006
     * when no close frame could be sent); `status` is the HTTP status of a
     * rejected handshake on either side, when there was one. `id` says
     * which rule was broken (see `ERROR_IDS` in ./errors.ts); `cause` is
     * the exception behind a `WS_ERR_INTERNAL` failure (a bug in wskit or
     * an extension).
     */
    type: "error";
    code: number;
    message: string;
    id: ErrorId;
    status?: number;
    cause?: unknown;
  }
  | {
    /** Final event: the connection is closed at the protocol level. */
    type: "close";
    code: number;
    reason: string;
    wasClean: boolean;
  };

/** What the embedder's one timer for a connection waits for. */
export interface ConnectionTimer {
  /**
   * `"handshake"`: the opening handshake; when it expires call `timeout()`.
   * `"close"`: the peer's close frame; when it expires call `timeout()`.
   * `"linger"`: closed, the transport still open: waiting for the peer to
   * close it; when it expires destroy the transport.
   */
  readonly kind: "handshake" | "close" | "linger";
  /** Milliseconds, counted from when this timer was first reported. */
  readonly ms: number;
}

/** Options shared by both roles. */
export interface ConnectionOptions extends Partial<MessageLimits> {
  /** Milliseconds to wait for the peer's close frame, and (client) for the
   * server to close the transport afterwards. Default 5000. */
  closeTimeout?: number;
  /** Milliseconds the opening handshake may take. Default 10000. */
  handshakeTimeout?: number;
  /** Milliseconds to wait, once closed, for the peer to close the
   * transport before it is dropped. Default `closeTimeout`. */
  lingerTimeout?: number;
  /**
   * Extensions to negotiate during the handshake (client: offered in this
   * order; server: accepted in this order of preference).
   */
  extensionNegotiators?: readonly ExtensionNegotiator[];
  /**
   * The embedder handles `suspend` events (see the module doc): extensions
   * may then put off decoding large messages. Default false.
   */
  suspendable?: boolean;
}

/** Options for a connection that starts `OPEN`. */
export interface OpenConnectionOptions extends ConnectionOptions {
  /** Which end of the connection this is. */
  role: "client" | "server";
  /** The negotiated subprotocol ("" for none). */
  protocol?: string;
  /** The negotiated extensions header value ("" for none). */
  extensions?: string;
  /** The negotiated extension instances (their RSV bits become legal). */
  activeExtensions?: readonly Extension[];
}

/** Options for {@linkcode Connection.client}. */
export interface ClientConnectionOptions
  extends ConnectionOptions, ClientRequestOptions {
  /** Limits on the handshake response head. */
  httpLimits?: Partial<HttpLimits>;
}

/** Options for {@linkcode Connection.server}. */
export interface ServerConnectionOptions extends ConnectionOptions {
  /** Limits on the request head (defaults 16 KiB, 100 headers). */
  httpLimits?: Partial<HttpLimits>;
}

/** Options for {@linkcode Connection.send}. */
export interface SendOptions {
  /** Split the message into frames of at most this many payload bytes. */
  fragmentSize?: number;
  /**
   * Send bytes as a text message. The caller vouches that they are valid
   * UTF-8 (useful to encode a string once and send it to many peers).
   */
  text?: boolean;
}

/**
 * Pings answered one pong each between two `takeOutput()` calls; past it
 * only the latest ping is answered (see `#pongLength` in `Connection`).
 */
const PONGS_IN_ORDER = 32;
const LINGER_NONE: ConnectionTimer = { kind: "linger", ms: 0 };
const NO_EVENTS: readonly ConnectionEvent[] = Object.freeze([]);
/**
 * Where `#events` points between calls, so an idle connection does not keep
 * its last events (and the chunk they view) alive. Frozen: a push outside a
 * call would be a bug, and throws.
 */
const IDLE_EVENTS = NO_EVENTS as ConnectionEvent[];
const NO_EXTENSIONS: readonly Extension[] = Object.freeze([]);
const NO_NEGOTIATORS: readonly ExtensionNegotiator[] = Object.freeze([]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a close frame payload: the code, then the UTF-8 reason. */
function closePayload(code: number | undefined, reason: string): Uint8Array {
  if (code === undefined) return EMPTY_BYTES;
  const reasonBytes = encoder.encode(reason);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/** Cuts `text` to at most `max` UTF-8 bytes without splitting a character. */
function truncateUtf8(text: string, max: number): string {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return text;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end));
}

/** A WebSocket connection for either role; see the module doc. */
export class Connection implements FrameSink {
  /** `"client"` or `"server"`. */
  readonly role: "client" | "server";
  #state: ReadyStateValue;
  #protocol: string;
  #extensions: string;
  readonly #closeTimeout: number;
  readonly #handshakeTimeout: number;
  readonly #timers: Record<"handshake" | "close" | "linger", ConnectionTimer>;
  #opened_ = true;
  #transportGone = false;
  readonly #decoder: FrameDecoder;
  #messages: MessageAssembler | undefined;
  readonly #limits: MessageLimits;
  readonly #mask: boolean;
  #events: ConnectionEvent[] = IDLE_EVENTS;
  /** Negotiated extensions, in negotiation order. */
  #active: readonly Extension[] = NO_EXTENSIONS;
  /** Runs received messages through `#active` (made when there are any). */
  #decodeExtensions:
    | ((payload: Uint8Array, rsv: number, maxSize: number) => Uint8Array)
    | undefined;
  #negotiators: readonly ExtensionNegotiator[] = NO_NEGOTIATORS;
  readonly #output = new OutputQueue();
  #closeSent = false;
  /**
   * The payload of the close frame to write when the output is next taken:
   * the echo of the peer's close, or the close a protocol violation fails
   * with. Deferred so that replies the application queues while handling
   * what arrived before it still go out first.
   */
  #pendingClose: Uint8Array | undefined;
  /** Pongs answering pings queued since the output was last taken. */
  #pongsQueued = 0;
  /**
   * Past `PONGS_IN_ORDER` pongs since the output was last taken: the
   * payload length of the pong to write before anything else is queued
   * (-1: none), its payload in `#pongPayload`. The pong of a later ping
   * replaces it while nothing has been written after it (RFC 6455 §5.5.3:
   * a pong for the most recent ping is enough), so a peer that floods pings
   * and does not read gets at most `PONGS_IN_ORDER + 1` pongs queued per
   * `takeOutput()`, not one per ping.
   */
  #pongLength = -1;
  /** Room for a held pong's payload (made at the first non-empty one). */
  #pongPayload: Uint8Array = EMPTY_BYTES;
  #wantsTransportClose = false;
  // the frame being decoded
  #frameOpcode = 0;
  #frameFin = false;
  /** The payload of the control frame being received, exactly its size. */
  #control: Uint8Array = EMPTY_BYTES;
  #controlLength = 0;
  // the opening handshake, while CONNECTING
  #http?: HttpHeadParser<HttpRequestHead> | HttpHeadParser<HttpResponseHead>;
  #clientRequest?: ClientRequest;
  #upgradeRequest?: UpgradeRequest;
  #early: Uint8Array[] | undefined;
  #earlyBytes = 0;
  #maxEarlyBytes = 0;
  // a message's deferred decoding (suspendable connections)
  readonly #suspendable: boolean;
  /** The opcode of the data message being received. */
  #messageOpcode = 0;
  /** Set while suspended: the decoding the embedder runs. */
  #deferred: DeferredDecode | undefined;
  /** The extensions (by index) still to run after `#deferred`. */
  #deferredNext = 0;
  #deferredRsv = 0;
  #deferredOpcode = 0;
  /** Bytes received while suspended, unread, in order. */
  #held: Uint8Array[] | undefined;

  /** Creates a connection that starts `OPEN` (handshake done elsewhere). */
  constructor(options: OpenConnectionOptions) {
    this.role = options.role;
    this.#state = ReadyState.OPEN;
    this.#protocol = options.protocol ?? "";
    this.#extensions = options.extensions ?? "";
    this.#closeTimeout = options.closeTimeout ?? 5000;
    this.#handshakeTimeout = options.handshakeTimeout ?? 10000;
    this.#timers = {
      handshake: { kind: "handshake", ms: this.#handshakeTimeout },
      close: { kind: "close", ms: this.#closeTimeout },
      linger: {
        kind: "linger",
        ms: options.lingerTimeout ?? this.#closeTimeout,
      },
    };
    this.#mask = this.role === "client";
    this.#decoder = new FrameDecoder(this, { role: this.role });
    this.#suspendable = options.suspendable === true;
    this.#negotiators = options.extensionNegotiators ?? [];
    if (options.activeExtensions !== undefined) {
      this.#activate(options.activeExtensions);
    }
    this.#limits = options.maxMessageSize === undefined &&
        options.maxFragments === undefined
      ? DEFAULT_MESSAGE_LIMITS
      : {
        maxMessageSize: options.maxMessageSize ??
          DEFAULT_MESSAGE_LIMITS.maxMessageSize,
        maxFragments: options.maxFragments ??
          DEFAULT_MESSAGE_LIMITS.maxFragments,
      };
  }

  /**
   * A client connection in `CONNECTING`: its output starts with the upgrade
   * request for `url`; it opens when `receive()` sees a valid response.
   * Throws a `LocalError` for an unusable URL or option (kind `"syntax"`
   * for a bad URL, subprotocol, header or key; `"argument"` for a header
   * the handshake sets itself).
   */
  static client(
    url: string | URL,
    options: ClientConnectionOptions = {},
  ): Connection {
    const offers = (options.extensionNegotiators ?? []).map((n) => n.offer());
    if (options.extensions !== undefined) offers.unshift(options.extensions);
    const request = buildClientRequest(url, {
      ...options,
      extensions: offers.length === 0 ? undefined : offers.join(", "),
    });
    const conn = new Connection({ ...options, role: "client" });
    conn.#state = ReadyState.CONNECTING;
    conn.#opened_ = false;
    conn.#clientRequest = request;
    conn.#http = HttpHeadParser.response(options.httpLimits);
    conn.#output.push(request.bytes);
    return conn;
  }

  /**
   * A server connection in `CONNECTING`: `receive()` parses the upgrade
   * request and reports it as a `request` event, or answers a bad one with
   * its HTTP status; the application then calls `accept()` or `reject()`.
   * Only the head counts toward `httpLimits.maxHeaderBytes`: bytes after it
   * in the same chunk are frames and are kept for `accept()` whatever their
   * size; bytes in later chunks before the decision may add up to
   * `maxHeaderBytes` more (past that the request is answered 400).
   */
  static server(options: ServerConnectionOptions = {}): Connection {
    const conn = new Connection({ ...options, role: "server" });
    conn.#state = ReadyState.CONNECTING;
    const http = HttpHeadParser.request(options.httpLimits);
    conn.#http = http;
    conn.#maxEarlyBytes = options.httpLimits?.maxHeaderBytes ?? 16384;
    return conn;
  }

  /** The current state (see {@linkcode ReadyState}). */
  get state(): ReadyStateValue {
    return this.#state;
  }

  /** The negotiated subprotocol, or "" for none (or not yet open). */
  get protocol(): string {
    return this.#protocol;
  }

  /** The negotiated extensions header value, or "". */
  get extensions(): string {
    return this.#extensions;
  }

  /** Milliseconds to wait for the peer during the closing handshake. */
  get closeTimeout(): number {
    return this.#closeTimeout;
  }

  /** Whether the adapter should close the transport now (after writing). */
  get wantsTransportClose(): boolean {
    return this.#wantsTransportClose;
  }

  /**
   * Milliseconds, from the moment the connection entered its current state,
   * after which the adapter should call `timeout()`; undefined when no timer
   * is needed. Set while connecting (handshake timeout), while waiting for
   * the peer's close frame, and while a client waits for the server to
   * close the transport after a clean close.
   */
  get deadline(): number | undefined {
    if (this.#wantsTransportClose) return undefined;
    switch (this.#state) {
      case ReadyState.CONNECTING:
        return this.#handshakeTimeout;
      case ReadyState.OPEN:
        return undefined;
      default:
        return this.#closeTimeout;
    }
  }

  /** TEMPORARY shim: what the embedder's timer waits for. */
  get timer(): ConnectionTimer | undefined {
    if (this.#transportGone) return undefined;
    switch (this.#state) {
      case ReadyState.CONNECTING:
        return this.#timers.handshake;
      case ReadyState.OPEN:
        return undefined;
      case ReadyState.CLOSING:
        return this.#timers.close;
      default:
        if (this.role === "client" && !this.#opened_) return LINGER_NONE;
        return this.#timers.linger;
    }
  }

  /**
   * Removes and returns the bytes to write, in order. Frames queued since
   * the last call come out packed together where they are small, so taking
   * the output once after a burst of `send()`s gives one chunk to write.
   */
  takeOutput(): readonly Uint8Array[] {
    this.#writePendingPong();
    this.#pongsQueued = 0;
    this.#writePendingClose();
    return this.#output.take();
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
    this.#output.frame(
      Opcode.Pong,
      length === 0 ? EMPTY_BYTES : this.#pongPayload.subarray(0, length),
      true,
      0,
      this.#mask,
    );
  }

  /** Moves the deferred close frame (if any) into the output queue. */
  #writePendingClose(): void {
    const payload = this.#pendingClose;
    if (payload === undefined) return;
    this.#pendingClose = undefined;
    this.#write(Opcode.Close, payload);
  }

  /**
   * Bytes queued for writing that `takeOutput()` has not yet returned (a
   * held pong included; a deferred close frame not).
   */
  get outputLength(): number {
    const pong = this.#pongLength;
    return this.#output.byteLength +
      (pong < 0 ? 0 : 2 + (this.#mask ? 4 : 0) + pong);
  }

  /**
   * Feeds bytes from the transport and returns the events they cause.
   * Takes ownership of `chunk`: masked payloads are unmasked in place and
   * message data may be a view of it. Never throws for bad input: protocol
   * errors fail the connection with their close code.
   */
  receive(chunk: Uint8Array): readonly ConnectionEvent[] {
    if (this.#state === ReadyState.CLOSED || chunk.length === 0) {
      return NO_EVENTS;
    }
    const events: ConnectionEvent[] = this.#events = [];
    try {
      if (this.#state !== ReadyState.CONNECTING) {
        this.#feed(chunk);
      } else {
        const rest = this.#handshake(chunk);
        if (rest !== undefined && rest.length > 0) this.#feed(rest);
      }
    } catch (error) {
      this.#failOn(error);
    }
    this.#events = IDLE_EVENTS;
    return events;
  }

  /**
   * Server role: takes a request head that another HTTP server already
   * parsed (a Node `'upgrade'` event), plus any bytes that followed it, in
   * place of raw bytes. Returns a `request` event, or rejects a bad request.
   */
  receiveHead(
    head: HttpRequestHead,
    rest: Uint8Array = EMPTY_BYTES,
  ): readonly ConnectionEvent[] {
    if (this.role !== "server" || this.#http === undefined) {
      throw new LocalError(
        "state",
        "receiveHead() needs a server connection awaiting its request",
      );
    }
    this.#http = undefined;
    return this.#run(() => this.#request(head, rest));
  }

  /** Runs the opening handshake; returns frame bytes after it, if open. */
  #handshake(chunk: Uint8Array): Uint8Array | undefined {
    if (this.#upgradeRequest !== undefined) {
      this.#holdEarly(chunk);
      return undefined;
    }
    let result;
    try {
      result = this.#http!.push(chunk);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      this.#handshakeFailed(error.message, error.status, error.id);
      return undefined;
    }
    if (!result.done) return undefined;
    this.#http = undefined;
    if (this.role === "client") {
      const head = result.head as HttpResponseHead;
      let negotiated;
      try {
        negotiated = validateServerResponse(head, this.#clientRequest!);
        this.#activate(
          acceptExtensions(negotiated.extensions, this.#negotiators),
        );
      } catch (error) {
        const peer = error instanceof PeerError;
        this.#handshakeFailed(
          errorMessage(error),
          head.status,
          peer ? error.id : "WS_ERR_INTERNAL",
          peer ? undefined : error,
        );
        return undefined;
      }
      this.#clientRequest = undefined;
      this.#opened(negotiated.protocol, negotiated.extensions, head.headers);
      return result.rest;
    }
    this.#request(result.head as HttpRequestHead, result.rest);
    return undefined;
  }

  /** Validates an upgrade request and reports it, or rejects it. */
  #request(head: HttpRequestHead, rest: Uint8Array): void {
    let request;
    try {
      request = validateUpgradeRequest(head);
    } catch (error) {
      if (!(error instanceof PeerError)) throw error;
      this.#handshakeFailed(error.message, error.status ?? 400, error.id);
      return;
    }
    this.#upgradeRequest = request;
    // The bytes after the head in the chunk that ended it are frames (a
    // pipelined first message), already in memory as a view of that chunk:
    // they are kept whole, not counted, so the answer does not depend on how
    // the peer's bytes were split into reads.
    if (rest.length > 0) (this.#early ??= []).push(rest);
    this.#events.push({ type: "request", request });
  }

  /**
   * Keeps bytes that arrive in later chunks, while the application decides
   * (e.g. an async `authenticate`): at most `maxHeaderBytes` of them.
   */
  #holdEarly(chunk: Uint8Array): void {
    this.#earlyBytes += chunk.length;
    if (this.#earlyBytes > this.#maxEarlyBytes) {
      throw new ProtocolError(1008, "too much data before the handshake ended");
    }
    (this.#early ??= []).push(chunk);
  }

  #handshakeFailed(
    message: string,
    status: number,
    id: ErrorId,
    cause?: unknown,
  ): void {
    if (this.role === "server") {
      this.#output.push(buildRejectResponse(status, { body: message }));
    }
    this.#closed(1006, message, false, { status, id, cause });
  }

  /** Makes `extensions` live: their RSV bits become legal on receive. */
  #activate(extensions: readonly Extension[]): void {
    this.#active = extensions;
    if (extensions.length > 0) {
      this.#decodeExtensions ??= (payload, rsv, maxSize) =>
        this.#runExtensions(payload, rsv, maxSize);
    }
    let rsv = 0;
    for (const extension of extensions) rsv |= extension.rsv;
    this.#decoder.allowedRsv = rsv;
  }

  /**
   * Runs a received message through the extensions, last first, from
   * `from`. On a suspendable connection an extension may put its work off:
   * then `#deferred` is set and the (meaningless) result is empty.
   */
  #runExtensions(
    payload: Uint8Array,
    rsv: number,
    maxSize: number,
    from: number = this.#active.length - 1,
  ): Uint8Array {
    const active = this.#active;
    for (let i = from; i >= 0; i--) {
      const extension = active[i];
      const bits = rsv & extension.rsv;
      if (bits === 0) continue;
      if (!this.#suspendable || extension.decodeOrDefer === undefined) {
        payload = extension.decode(payload, bits, maxSize);
        continue;
      }
      const result = extension.decodeOrDefer(payload, bits, maxSize);
      if (result instanceof Uint8Array) {
        payload = result;
        continue;
      }
      this.#deferred = result;
      this.#deferredNext = i - 1;
      this.#deferredRsv = rsv;
      this.#deferredOpcode = this.#messageOpcode;
      return EMPTY_BYTES;
    }
    return payload;
  }

  /** Decodes `chunk`, or keeps it while suspended (and what a suspend left). */
  #feed(chunk: Uint8Array): void {
    if (this.#deferred !== undefined) {
      (this.#held ??= []).push(chunk);
      return;
    }
    const used = this.#decoder.push(chunk);
    if (used < chunk.length) (this.#held ??= []).push(chunk.subarray(used));
  }

  /** Whether a `suspend` was reported and `resume()` not yet called. */
  get suspended(): boolean {
    return this.#deferred !== undefined;
  }

  /**
   * Ends a suspension: `outcome` is what the `suspend` event's job passed
   * to its `done` callback. Returns the message (or the failure it causes:
   * 1009, 1007), then the events of the bytes received while suspended.
   * Once the connection has closed meanwhile, drops the outcome and returns
   * nothing. Throws if the connection is not suspended.
   */
  resume(outcome: DecodeOutcome): readonly ConnectionEvent[] {
    const job = this.#deferred;
    if (job === undefined) {
      throw new LocalError("state", "resume() without a suspend event");
    }
    this.#deferred = undefined;
    const held = this.#held;
    this.#held = undefined;
    if (this.#state === ReadyState.CLOSED) return NO_EVENTS;
    return this.#run(() => {
      const opcode = this.#deferredOpcode;
      const data = this.#runExtensions(
        job.finish(outcome),
        this.#deferredRsv,
        this.#limits.maxMessageSize,
        this.#deferredNext,
      );
      if (this.#deferred !== undefined) {
        this.#events.push({ type: "suspend", job: this.#deferred });
      } else {
        this.#events.push({
          type: "message",
          data: decodedMessage(opcode, data),
        });
      }
      if (held === undefined) return;
      for (const chunk of held) {
        if (this.#state === ReadyState.CLOSED) break;
        this.#feed(chunk);
      }
    });
  }

  #opened(protocol: string, extensions: string, headers?: HeaderMap): void {
    this.#state = ReadyState.OPEN;
    this.#opened_ = true;
    this.#protocol = protocol;
    this.#extensions = extensions;
    this.#events.push(
      headers === undefined
        ? { type: "open", protocol, extensions }
        : { type: "open", protocol, extensions, headers },
    );
  }

  /**
   * Server role: accepts the pending upgrade request, optionally choosing a
   * subprotocol (one the client offered), extensions and extra headers.
   * Returns events for any frames that arrived early. Throws if there is no
   * pending request or the options are invalid.
   */
  accept(options: AcceptOptions = {}): readonly ConnectionEvent[] {
    const request = this.#pendingRequest();
    let extensions = options.extensions;
    if (extensions === undefined && this.#negotiators.length > 0) {
      const chosen = negotiateExtensions(request.extensions, this.#negotiators);
      extensions = chosen.map((e) => e.response).join(", ") || undefined;
      this.#activate(chosen);
    }
    const response = buildAcceptResponse(request, { ...options, extensions });
    this.#upgradeRequest = undefined;
    const early = this.#early ?? [];
    this.#early = undefined;
    return this.#run(() => {
      this.#output.push(response);
      this.#opened(options.protocol ?? "", extensions ?? "");
      for (const chunk of early) {
        if (this.#state === ReadyState.CLOSED) break;
        this.#feed(chunk);
      }
    });
  }

  /**
   * Server role: rejects the pending upgrade request with an HTTP `status`
   * (e.g. 401, 403), optional headers and body. The connection closes.
   */
  reject(
    status: number,
    options: RejectOptions = {},
  ): readonly ConnectionEvent[] {
    this.#pendingRequest();
    const response = buildRejectResponse(status, options);
    this.#upgradeRequest = undefined;
    this.#early = undefined;
    return this.#run(() => {
      this.#output.push(response);
      this.#closed(1006, `rejected with status ${status}`, false);
    });
  }

  #pendingRequest(): UpgradeRequest {
    if (this.#upgradeRequest === undefined || this.#state !== 0) {
      throw new LocalError(
        "state",
        "no upgrade request is waiting for a decision",
      );
    }
    return this.#upgradeRequest;
  }

  // ---- FrameSink: called by the decoder ----

  /** @internal Part of `FrameSink`; not for applications. */
  frameStart(fin: boolean, rsv: number, opcode: number, length: number): void {
    if (this.#state === ReadyState.CLOSED) return;
    this.#frameOpcode = opcode;
    if (opcode >= Opcode.Close) {
      if (rsv !== 0) {
        throw new ProtocolError(1002, "reserved bits set on a control frame");
      }
      this.#controlLength = 0;
      this.#control = length === 0 ? EMPTY_BYTES : new Uint8Array(length);
      return;
    }
    this.#frameFin = fin;
    if (opcode !== Opcode.Continuation) this.#messageOpcode = opcode;
    (this.#messages ??= new MessageAssembler(this.#limits)).frame(
      opcode,
      length,
      rsv,
      fin,
    );
  }

  /** @internal Part of `FrameSink`; not for applications. */
  framePayload(data: Uint8Array, start: number, end: number): void {
    if (this.#state === ReadyState.CLOSED) return;
    if (this.#frameOpcode >= Opcode.Close) {
      const control = this.#control;
      for (let i = start; i < end; i++) {
        control[this.#controlLength++] = data[i];
      }
    } else {
      this.#messages!.append(data, start, end);
    }
  }

  /** @internal Part of `FrameSink`; not for applications. */
  frame(
    opcode: number,
    rsv: number,
    data: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (
      (opcode !== Opcode.Text && opcode !== Opcode.Binary) || rsv !== 0 ||
      this.#messages?.inProgress ||
      this.#state === ReadyState.CLOSED
    ) {
      this.frameStart(true, rsv, opcode, end - start);
      this.framePayload(data, start, end);
      this.frameEnd();
      return;
    }
    // The common case: a small message, whole, in one frame.
    this.#events.push({
      type: "message",
      data: singleMessage(this.#limits, opcode, data, start, end),
    });
  }

  /** @internal Part of `FrameSink`; not for applications. */
  frameEnd(): void {
    if (this.#state === ReadyState.CLOSED) return;
    if (this.#frameOpcode >= Opcode.Close) {
      const payload = this.#control;
      this.#control = EMPTY_BYTES;
      this.#onControl(this.#frameOpcode, payload);
    } else if (this.#frameFin) {
      const data = this.#messages!.finish(
        this.#active.length === 0 ? undefined : this.#decodeExtensions,
      );
      if (this.#deferred === undefined) {
        this.#events.push({ type: "message", data });
      } else {
        // An extension put the decoding off (`data` means nothing): read
        // no further until `resume()`.
        this.#decoder.halt();
        this.#events.push({ type: "suspend", job: this.#deferred });
      }
    }
  }

  #onControl(opcode: number, payload: Uint8Array): void {
    if (opcode === Opcode.Ping) {
      if (this.#closeSent) {
        // Too late for a pong.
      } else if (this.#pongsQueued < PONGS_IN_ORDER) {
        this.#pongsQueued++;
        this.#write(Opcode.Pong, payload);
      } else {
        this.#holdPong(payload); // see `#pongLength`
      }
      this.#events.push({ type: "ping", data: payload });
    } else if (opcode === Opcode.Pong) {
      this.#events.push({ type: "pong", data: payload });
    } else {
      this.#onClose(payload);
    }
  }

  #onClose(payload: Uint8Array): void {
    let code = 1005;
    let reason = "";
    if (payload.length === 1) {
      throw new ProtocolError(1002, "close frame with a 1-byte payload");
    }
    if (payload.length >= 2) {
      code = (payload[0] << 8) | payload[1];
      if (!isValidWireCloseCode(code)) {
        throw new ProtocolError(1002, `invalid close code ${code}`);
      }
      const reasonBytes = payload.subarray(2);
      if (!isValidUtf8(reasonBytes)) {
        throw new ProtocolError(1007, "close reason is not valid UTF-8");
      }
      reason = decoder.decode(reasonBytes);
    }
    // Echo the peer's close (same code and reason, or no payload) when the
    // output is next taken, so replies to messages that arrived before it
    // in the same chunk still go out first (RFC 6455 §5.5.1 allows this).
    if (!this.#closeSent) {
      this.#closeSent = true;
      this.#pendingClose = payload;
    }
    this.#closed(code, reason, true);
  }

  #closed(
    code: number,
    reason: string,
    wasClean: boolean,
    error?: { status?: number; code?: number; id: ErrorId; cause?: unknown },
  ): void {
    this.#state = ReadyState.CLOSED;
    if (!wasClean || this.role === "server") this.#wantsTransportClose = true;
    for (const extension of this.#active) extension.dispose();
    if (error !== undefined) {
      const event: ConnectionEvent = {
        type: "error",
        code: error.code ?? code,
        message: reason,
        id: error.id,
      };
      if (error.status !== undefined) event.status = error.status;
      if (error.cause !== undefined) event.cause = error.cause;
      this.#events.push(event);
    }
    this.#events.push({ type: "close", code, reason, wasClean });
  }

  // ---- commands ----

  #write(opcode: number, payload: Uint8Array, fin = true, rsv = 0): void {
    if (this.#pongLength >= 0) this.#writePendingPong(); // keep the order
    this.#output.frame(opcode, payload, fin, rsv, this.#mask);
  }

  /**
   * Whether data may still be sent: while `OPEN`, and after the peer's close
   * or a protocol violation in received data until our close frame (the
   * echo, or the failure close) is taken with the output. So what the
   * application sends in reply to messages that arrived before the close
   * or the violation is written before the close frame.
   */
  get canSend(): boolean {
    return this.#state === ReadyState.OPEN || this.#pendingClose !== undefined;
  }

  #requireOpen(what: string): void {
    if (!this.canSend) {
      const names = ["CONNECTING", "OPEN", "CLOSING", "CLOSED"];
      throw new LocalError(
        "state",
        `cannot ${what}: the connection is ${names[this.#state]}`,
      );
    }
  }

  /**
   * Queues a message: a string as text, bytes as binary. With
   * `fragmentSize`, the message goes out as several frames. Throws unless
   * the connection is `OPEN`. `data` is not copied when it can be written
   * as is, so do not modify it until it has been written.
   */
  send(
    data: string | ArrayBuffer | ArrayBufferView,
    options?: SendOptions,
  ): void {
    this.#requireOpen("send");
    if (this.#pongLength >= 0) this.#writePendingPong(); // keep the order
    if (
      typeof data === "string" && this.#active.length === 0 &&
      options?.fragmentSize === undefined &&
      this.#output.text(Opcode.Text, data, true, 0, this.#mask)
    ) {
      return; // encoded straight into the output
    }
    const text = typeof data === "string" || options?.text === true;
    let payload = typeof data === "string"
      ? encoder.encode(data)
      : toBytes(data);
    const opcode = text ? Opcode.Text : Opcode.Binary;
    let rsv = 0;
    for (const extension of this.#active) {
      const encoded = extension.encode(payload, opcode);
      payload = encoded.payload;
      rsv |= encoded.rsv;
    }
    const size = options?.fragmentSize;
    if (size === undefined || payload.length <= size) {
      this.#write(opcode, payload, true, rsv);
      return;
    }
    if (!(size >= 1)) {
      throw new LocalError("argument", "fragmentSize must be at least 1");
    }
    for (let offset = 0; offset < payload.length; offset += size) {
      const end = Math.min(offset + size, payload.length);
      this.#write(
        offset === 0 ? opcode : Opcode.Continuation,
        payload.subarray(offset, end),
        end === payload.length,
        offset === 0 ? rsv : 0,
      );
    }
  }

  /** Queues a ping with up to 125 bytes of payload. Throws unless `OPEN`. */
  ping(data: string | Uint8Array = EMPTY_BYTES): void {
    this.#requireOpen("ping");
    this.#write(Opcode.Ping, controlBytes(data));
  }

  /** Queues an unsolicited pong (a heartbeat). Throws unless `OPEN`. */
  pong(data: string | Uint8Array = EMPTY_BYTES): void {
    this.#requireOpen("pong");
    this.#write(Opcode.Pong, controlBytes(data));
  }

  /**
   * Starts the closing handshake with an application close code (1000 or
   * 3000–4999) and a reason of at most 123 UTF-8 bytes; with no code, the
   * close frame has no payload. Throws a `LocalError`: kind `"argument"`
   * for an invalid code, `"syntax"` for a reason over 123 bytes (the kinds
   * a browser's `InvalidAccessError` and `SyntaxError` map from). While
   * connecting, fails the connection instead; once closing or closed, does
   * nothing.
   */
  close(code?: number, reason = ""): readonly ConnectionEvent[] {
    if (code !== undefined && !isApplicationCloseCode(code)) {
      throw new LocalError(
        "argument",
        `close code must be 1000 or 3000-4999, got ${code}`,
      );
    }
    return this.closeWithCode(code ?? (reason ? 1000 : undefined), reason);
  }

  /**
   * Like `close()`, but accepts any code that may be sent on the wire
   * (1000–1003, 1007–1014, 3000–4999), for libraries and servers: 1001 at
   * shutdown, 1008 for a policy, 1011 for an internal error.
   */
  closeWithCode(
    code: number | undefined,
    reason = "",
  ): readonly ConnectionEvent[] {
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
    if (this.#state === ReadyState.CONNECTING) {
      return this.abort("closed before the connection was established");
    }
    if (this.#state !== ReadyState.OPEN) return NO_EVENTS;
    this.#closeSent = true;
    this.#state = ReadyState.CLOSING;
    this.#write(Opcode.Close, payload);
    return NO_EVENTS;
  }

  /**
   * Fails the connection now: sends a close frame with `code` (if one can
   * still be sent) and does not wait for the peer's. Reports `error` and
   * `close` (wasClean false). For limits and policies enforced outside the
   * core (rate limits, a full send queue). The `error` event's id is `id`.
   * Does nothing once closed.
   */
  fail(
    code: number,
    message: string,
    id: ErrorId = "WS_ERR_FAILED",
  ): readonly ConnectionEvent[] {
    if (this.#state === ReadyState.CLOSED) return NO_EVENTS;
    const events = this.#run(() => this.#failNow(code, message, id));
    // A local decision: the close frame is queued now, so nothing sent
    // after this call goes out.
    this.#writePendingClose();
    return events;
  }

  /**
   * Fails the connection with `code`. The close frame is deferred to the
   * next `takeOutput()` (see `#pendingClose`), like the echo of a close.
   */
  #failNow(code: number, message: string, id: ErrorId, cause?: unknown): void {
    if (this.#state === ReadyState.CLOSED) return;
    if (this.#state === ReadyState.CONNECTING) {
      this.#handshakeFailed(message, 400, id, cause);
      return;
    }
    const reason = truncateUtf8(message, MAX_CONTROL_PAYLOAD - 2);
    if (!this.#closeSent) {
      this.#closeSent = true;
      this.#pendingClose = closePayload(code, reason);
    }
    this.#closed(code, reason, false, { code, id, cause });
  }

  /** Runs `step` collecting its events; an exception fails the connection. */
  #run(step: () => void): readonly ConnectionEvent[] {
    const events: ConnectionEvent[] = this.#events = [];
    try {
      step();
    } catch (error) {
      this.#failOn(error);
    }
    this.#events = IDLE_EVENTS;
    return events;
  }

  /**
   * Fails the connection for an exception: a `PeerError` with its close
   * code and id; anything else is a bug (in wskit or an extension; no
   * local call can get here): 1011, `WS_ERR_INTERNAL`, the exception kept
   * as the event's `cause`.
   */
  #failOn(error: unknown): void {
    if (error instanceof PeerError) {
      this.#failNow(error.code, error.message, error.id);
    } else {
      this.#failNow(1011, errorMessage(error), "WS_ERR_INTERNAL", error);
    }
  }

  /**
   * Fails the connection without sending anything (the handshake timed out,
   * the transport broke): reports `error` with `message` and `id`, and
   * `close` 1006.
   */
  abort(
    message: string,
    id: ErrorId = "WS_ERR_ABORTED",
  ): readonly ConnectionEvent[] {
    if (this.#state === ReadyState.CLOSED) return NO_EVENTS;
    return this.#run(() => this.#closed(1006, message, false, { id }));
  }

  /**
   * The timer armed for `deadline` fired: the handshake timed out, the peer
   * did not answer our close frame (close 1006), or the server did not close
   * the transport after a clean close (the transport should now close).
   */
  timeout(): readonly ConnectionEvent[] {
    switch (this.#state) {
      case ReadyState.CONNECTING:
        return this.abort(
          "opening handshake timed out",
          "WS_ERR_HANDSHAKE_TIMEOUT",
        );
      case ReadyState.CLOSING:
        return this.abort(
          "timed out waiting for the peer's close frame",
          "WS_ERR_CLOSE_TIMEOUT",
        );
      default:
        if (this.#state === ReadyState.CLOSED) this.#wantsTransportClose = true;
        return NO_EVENTS;
    }
  }

  /**
   * The transport reached EOF or failed. Without a finished close handshake
   * this is an abnormal closure: `close` with 1006 and wasClean false (and
   * an `error` if the connection never opened).
   */
  transportClosed(): readonly ConnectionEvent[] {
    this.#wantsTransportClose = true;
    this.#transportGone = true;
    if (this.#state === ReadyState.CLOSED) return NO_EVENTS;
    return this.#run(() => {
      if (this.#state === ReadyState.CONNECTING) {
        this.#closed(1006, "connection closed during the handshake", false, {
          id: "WS_ERR_CONNECTION_CLOSED",
        });
      } else {
        this.#closed(1006, "", false);
      }
    });
  }
}

/** The payload of a ping or pong, checked against the 125-byte limit. */
function controlBytes(data: string | Uint8Array): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  if (bytes.length > MAX_CONTROL_PAYLOAD) {
    throw new LocalError(
      "argument",
      "control frame payload is longer than 125 bytes",
    );
  }
  return bytes;
}

/**
 * A message its extensions decoded after a suspension, as
 * `MessageAssembler.finish` returns it: text validated whole and decoded.
 */
function decodedMessage(opcode: number, data: Uint8Array): string | Uint8Array {
  if (opcode !== Opcode.Text) {
    return data.length === 0 ? new Uint8Array(0) : data;
  }
  if (!isValidUtf8(data)) {
    throw new ProtocolError(1007, "invalid UTF-8 in a text message");
  }
  return decoder.decode(data);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
