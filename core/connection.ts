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
 * 3. end the transport when {@linkcode Connection.wantsTransportClose} is
 *    true;
 * 4. keep one timer: whenever {@linkcode Connection.timer} is not the object
 *    it armed last, disarm, and if it is set arm `timer.ms`; when a
 *    `"handshake"` or `"close"` timer fires call
 *    {@linkcode Connection.timeout}, when a `"linger"` one fires destroy the
 *    transport;
 * 5. call {@linkcode Connection.transportClosed} on EOF or a transport error.
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

import { EMPTY_BYTES } from "./bytes.ts";
import { isApplicationCloseCode } from "./close.ts";
import type {
  ClientConnectionOptions,
  ConnectionEvent,
  ConnectionTimer,
  OpenConnectionOptions,
  ReadyStateValue,
  SendOptions,
  ServerConnectionOptions,
} from "./connection_types.ts";
import { ProtocolError } from "./errors.ts";
import type { DecodeOutcome, Extension } from "./extension.ts";
import { MAX_CONTROL_PAYLOAD, Opcode } from "./frame.ts";
import type { AcceptOptions, RejectOptions } from "./handshake.ts";
import type { HttpRequestHead } from "./http.ts";
import {
  ClientOpening,
  errorMessage,
  failureResponse,
  type HandshakeFailure,
  type Opened,
  ServerOpening,
  type UpgradeResult,
} from "./opening.ts";
import { Receiver } from "./receiver.ts";
import {
  closeFrame,
  closePayload,
  controlBytes,
  Sender,
  truncateUtf8,
} from "./sender.ts";
import { Lifecycle, Phase, type PhaseTrigger } from "./state.ts";

export * from "./connection_types.ts";

const NO_EVENTS: readonly ConnectionEvent[] = Object.freeze([]);
/**
 * Where `#events` points between calls, so an idle connection does not keep
 * its last events (and the chunk they view) alive. Frozen: a push outside a
 * call would be a bug, and throws.
 */
const IDLE_EVENTS = NO_EVENTS as ConnectionEvent[];
const NO_EXTENSIONS: readonly Extension[] = Object.freeze([]);
const STATE_NAMES = ["CONNECTING", "OPEN", "CLOSING", "CLOSED"];

/** A WebSocket connection for either role; see the module doc. */
export class Connection {
  /** `"client"` or `"server"`. */
  readonly role: "client" | "server";
  readonly #life: Lifecycle;
  #protocol: string;
  #extensions: string;
  #events: ConnectionEvent[] = IDLE_EVENTS;
  /** Negotiated extensions, in negotiation order. */
  #active: readonly Extension[] = NO_EXTENSIONS;
  readonly #rx: Receiver;
  readonly #tx: Sender;
  /** The opening handshake, while `CONNECTING`. */
  #opening: ClientOpening | ServerOpening | undefined;

  /** Creates a connection that starts `OPEN` (handshake done elsewhere). */
  constructor(options: OpenConnectionOptions) {
    this.role = options.role;
    this.#protocol = options.protocol ?? "";
    this.#extensions = options.extensions ?? "";
    const close = options.closeTimeout ?? 5000;
    this.#life = new Lifecycle(Phase.OPEN, {
      handshake: options.handshakeTimeout ?? 10000,
      close,
      linger: options.lingerTimeout ?? close,
    });
    this.#tx = new Sender(this.role === "client");
    this.#rx = new Receiver(
      {
        ping: (payload) => {
          // Past our close frame it is too late for a pong.
          const phase = this.#life.phase;
          if (phase !== Phase.LOCAL_CLOSING) this.#tx.answerPing(payload);
        },
        close: (code, reason, payload) =>
          this.#peerClosed(code, reason, payload),
      },
      IDLE_EVENTS,
      options,
    );
    if (options.activeExtensions !== undefined) {
      this.#activate(options.activeExtensions);
    }
  }

  /**
   * A client connection in `CONNECTING`: its output starts with the upgrade
   * request for `url`; it opens when `receive()` sees a valid response.
   * Throws `HandshakeError` for an unusable URL or option.
   */
  static client(
    url: string | URL,
    options: ClientConnectionOptions = {},
  ): Connection {
    const opening = new ClientOpening(url, options);
    const conn = new Connection({ ...options, role: "client" });
    conn.#life.phase = Phase.CONNECTING;
    conn.#opening = opening;
    conn.#tx.push(opening.request.bytes);
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
    conn.#life.phase = Phase.CONNECTING;
    conn.#opening = new ServerOpening(options);
    return conn;
  }

  /** The current state (see {@linkcode ReadyState}). */
  get state(): ReadyStateValue {
    return this.#life.readyState;
  }

  /** The negotiated subprotocol, or "" for none (or not yet open). */
  get protocol(): string {
    return this.#protocol;
  }

  /** The negotiated extensions header value, or "". */
  get extensions(): string {
    return this.#extensions;
  }

  /**
   * Whether the embedder should end the transport once the output is
   * written: after a failure, a server's close, or `transportClosed()`.
   */
  get wantsTransportClose(): boolean {
    return this.#life.wantsTransportClose;
  }

  /**
   * The wait in effect, or undefined (`OPEN`, or after `transportClosed()`).
   * The same object is returned for as long as the same wait is in effect,
   * so `conn.timer !== armed` tells the embedder to re-arm.
   */
  get timer(): ConnectionTimer | undefined {
    return this.#life.timer;
  }

  /**
   * Removes and returns the bytes to write, in order. Frames queued since
   * the last call come out packed together where they are small, so taking
   * the output once after a burst of `send()`s gives one chunk to write.
   */
  takeOutput(): readonly Uint8Array[] {
    if (this.#life.phase === Phase.REMOTE_CLOSING) {
      this.#life.move("closeWritten");
    }
    return this.#tx.take();
  }

  /**
   * Bytes queued for writing that `takeOutput()` has not yet returned (a
   * held pong included; a deferred close frame not).
   */
  get outputLength(): number {
    return this.#tx.length;
  }

  /**
   * Feeds bytes from the transport and returns the events they cause.
   * Takes ownership of `chunk`: masked payloads are unmasked in place and
   * message data may be a view of it. Never throws for bad input: protocol
   * errors fail the connection with their close code.
   */
  receive(chunk: Uint8Array): readonly ConnectionEvent[] {
    if (this.#life.closed || chunk.length === 0) return NO_EVENTS;
    const events: ConnectionEvent[] = this.#events = this.#rx.events = [];
    try {
      const opening = this.#opening;
      if (opening === undefined) this.#rx.feed(chunk);
      else if (opening instanceof ServerOpening) {
        this.#requested(opening.receive(chunk));
      } else {
        const result = opening.receive(chunk);
        if (result === undefined) {
          // more of the response head to come
        } else if ("failed" in result) this.#handshakeFailed(result);
        else this.#opened(result);
      }
    } catch (error) {
      this.#failOn(error);
    }
    this.#events = this.#rx.events = IDLE_EVENTS;
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
    const opening = this.#opening;
    if (!(opening instanceof ServerOpening) || !opening.awaitingHead) {
      throw new Error(
        "receiveHead() needs a server connection awaiting its request",
      );
    }
    return this.#run(() => this.#requested(opening.receiveHead(head, rest)));
  }

  /** Reports a valid upgrade request, or rejects a bad one. */
  #requested(result: UpgradeResult): void {
    if (result === undefined) return; // more of the head to come
    if ("failed" in result) this.#handshakeFailed(result);
    else this.#events.push({ type: "request", request: result });
  }

  #handshakeFailed(failure: HandshakeFailure): void {
    if (this.role === "server") this.#tx.push(failureResponse(failure));
    this.#closed("abort", 1006, failure.message, false, {
      status: failure.status,
    });
  }

  /** Makes `extensions` live: their RSV bits become legal on receive. */
  #activate(extensions: readonly Extension[]): void {
    this.#active = extensions;
    this.#rx.activate(extensions);
  }

  /** Opens with what the handshake produced; feeds the bytes after it. */
  #opened(opened: Opened): void {
    this.#opening = undefined;
    this.#life.move("open");
    this.#activate(opened.activeExtensions);
    const { protocol, extensions, headers } = opened;
    this.#protocol = protocol;
    this.#extensions = extensions;
    this.#events.push(
      headers === undefined
        ? { type: "open", protocol, extensions }
        : { type: "open", protocol, extensions, headers },
    );
    this.#rx.feedAll(opened.rest);
  }

  /** Whether a `suspend` was reported and `resume()` not yet called. */
  get suspended(): boolean {
    return this.#rx.suspended;
  }

  /**
   * Ends a suspension: `outcome` is what the `suspend` event's job passed
   * to its `done` callback. Returns the message (or the failure it causes:
   * 1009, 1007), then the events of the bytes received while suspended.
   * Once the connection has closed meanwhile, drops the outcome and returns
   * nothing. Throws if the connection is not suspended.
   */
  resume(outcome: DecodeOutcome): readonly ConnectionEvent[] {
    const step = this.#rx.resume(outcome);
    return step === undefined ? NO_EVENTS : this.#run(step);
  }

  /**
   * Server role: accepts the pending upgrade request, optionally choosing a
   * subprotocol (one the client offered), extensions and extra headers.
   * Returns events for any frames that arrived early. Throws if there is no
   * pending request or the options are invalid.
   */
  accept(options: AcceptOptions = {}): readonly ConnectionEvent[] {
    const { response, opened } = this.#serverOpening().accept(options);
    return this.#run(() => {
      this.#tx.push(response);
      this.#opened(opened);
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
    const response = this.#serverOpening().reject(status, options);
    return this.#run(() => {
      this.#tx.push(response);
      this.#closed("abort", 1006, `rejected with status ${status}`, false);
    });
  }

  #serverOpening(): ServerOpening {
    const opening = this.#opening;
    if (!(opening instanceof ServerOpening) || opening.request === undefined) {
      throw new Error("no upgrade request is waiting for a decision");
    }
    return opening;
  }

  /** The peer's close frame arrived: echo it (unless ours went first). */
  #peerClosed(code: number, reason: string, payload: Uint8Array): void {
    // Echo the peer's close (same code and reason, or no payload) when the
    // output is next taken, so replies to messages that arrived before it
    // in the same chunk still go out first (RFC 6455 §5.5.1 allows this).
    if (this.#life.phase === Phase.OPEN) this.#tx.deferClose(payload);
    this.#closed("receiveClose", code, reason, true);
  }

  /** Closes at the protocol level (by `trigger`) and reports it. */
  #closed(
    trigger: PhaseTrigger,
    code: number,
    reason: string,
    wasClean: boolean,
    error?: { status?: number; code?: number },
  ): void {
    this.#life.close(trigger, wasClean, this.role === "client");
    this.#opening = undefined;
    this.#rx.stopped = true;
    for (const extension of this.#active) extension.dispose();
    if (error !== undefined) {
      const event: ConnectionEvent = {
        type: "error",
        code: error.code ?? code,
        message: reason,
      };
      if (error.status !== undefined) event.status = error.status;
      this.#events.push(event);
    }
    this.#events.push({ type: "close", code, reason, wasClean });
  }

  /**
   * Whether data may still be sent: while `OPEN`, and after the peer's close
   * or a protocol violation in received data until our close frame (the
   * echo, or the failure close) is taken with the output. So what the
   * application sends in reply to messages that arrived before the close
   * or the violation is written before the close frame.
   */
  get canSend(): boolean {
    return this.#life.canSend;
  }

  #requireOpen(what: string): void {
    if (!this.#life.canSend) {
      const state = STATE_NAMES[this.#life.readyState];
      throw new Error(`cannot ${what}: the connection is ${state}`);
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
    this.#tx.send(data, options, this.#active);
  }

  /** Queues a ping with up to 125 bytes of payload. Throws unless `OPEN`. */
  ping(data: string | Uint8Array = EMPTY_BYTES): void {
    this.#requireOpen("ping");
    this.#tx.write(Opcode.Ping, controlBytes(data));
  }

  /** Queues an unsolicited pong (a heartbeat). Throws unless `OPEN`. */
  pong(data: string | Uint8Array = EMPTY_BYTES): void {
    this.#requireOpen("pong");
    this.#tx.write(Opcode.Pong, controlBytes(data));
  }

  /**
   * Starts the closing handshake with an application close code (1000 or
   * 3000–4999) and a reason of at most 123 UTF-8 bytes; with no code, the
   * close frame has no payload. Throws `RangeError` for an invalid code or
   * reason. While connecting, fails the connection instead; once closing or
   * closed, does nothing.
   */
  close(code?: number, reason = ""): readonly ConnectionEvent[] {
    if (code !== undefined && !isApplicationCloseCode(code)) {
      throw new RangeError(
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
    const payload = closeFrame(code, reason);
    const phase = this.#life.phase;
    if (phase === Phase.CONNECTING) {
      return this.abort("closed before the connection was established");
    }
    if (phase !== Phase.OPEN) return NO_EVENTS;
    this.#life.move("sendClose");
    this.#tx.write(Opcode.Close, payload);
    return NO_EVENTS;
  }

  /**
   * Fails the connection now: sends a close frame with `code` (if one can
   * still be sent) and does not wait for the peer's. Reports `error` and
   * `close` (wasClean false). For limits and policies enforced outside the
   * core (rate limits, a full send queue). Does nothing once closed.
   */
  fail(code: number, message: string): readonly ConnectionEvent[] {
    if (this.#life.closed) return NO_EVENTS;
    const events = this.#run(() => this.#failNow(code, message));
    // A local decision: the close frame is queued now, so nothing sent
    // after this call goes out.
    if (this.#tx.writeDeferredClose()) this.#life.move("closeWritten");
    return events;
  }

  /**
   * Fails the connection with `code`. The close frame is deferred to the
   * next `takeOutput()` (see `Phase.REMOTE_CLOSING`), like the echo of a
   * close; none is sent once ours went out.
   */
  #failNow(code: number, message: string): void {
    if (this.#life.closed) return;
    if (this.#life.phase === Phase.CONNECTING) {
      this.#handshakeFailed({ failed: true, message, status: 400 });
      return;
    }
    const reason = truncateUtf8(message, MAX_CONTROL_PAYLOAD - 2);
    if (this.#life.phase === Phase.OPEN) {
      this.#tx.deferClose(closePayload(code, reason));
    }
    this.#closed("fail", code, reason, false, { code });
  }

  /** Runs `step` collecting its events; an exception fails the connection. */
  #run(step: () => void): readonly ConnectionEvent[] {
    const events: ConnectionEvent[] = this.#events = this.#rx.events = [];
    try {
      step();
    } catch (error) {
      this.#failOn(error);
    }
    this.#events = this.#rx.events = IDLE_EVENTS;
    return events;
  }

  /** Fails the connection for an exception: its close code, else 1011. */
  #failOn(error: unknown): void {
    const code = error instanceof ProtocolError ? error.code : 1011;
    this.#failNow(code, errorMessage(error));
  }

  /**
   * Fails the connection without sending anything (the handshake timed out,
   * the transport broke): reports `error` with `message` and `close` 1006.
   */
  abort(message: string): readonly ConnectionEvent[] {
    if (this.#life.closed) return NO_EVENTS;
    return this.#run(() => this.#closed("abort", 1006, message, false, {}));
  }

  /**
   * A `"handshake"` or `"close"` timer fired: the handshake timed out, or
   * the peer did not answer our close frame (close 1006). Once closed, asks
   * for the transport to be closed.
   */
  timeout(): readonly ConnectionEvent[] {
    const phase = this.#life.phase;
    if (phase === Phase.CONNECTING) {
      return this.abort("opening handshake timed out");
    }
    if (phase === Phase.LOCAL_CLOSING) {
      return this.abort("timed out waiting for the peer's close frame");
    }
    if (this.#life.closed) this.#life.moveTransport("end");
    return NO_EVENTS;
  }

  /**
   * The transport reached EOF or failed. Without a finished close handshake
   * this is an abnormal closure: `close` with 1006 and wasClean false (and
   * an `error` if the connection never opened).
   */
  transportClosed(): readonly ConnectionEvent[] {
    let events = NO_EVENTS;
    if (this.#life.phase === Phase.CONNECTING) {
      events = this.abort("connection closed during the handshake");
    } else if (!this.#life.closed) {
      events = this.#run(() => this.#closed("abort", 1006, "", false));
    }
    this.#life.moveTransport("gone");
    return events;
  }
}
