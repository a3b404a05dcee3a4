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
import { type ErrorId, LocalError } from "./errors.ts";
import type {
  ClientConnectionOptions,
  ConnectionEvent,
  ConnectionTimer,
  OpenConnectionOptions,
  ReadyStateValue,
  SendOptions,
  ServerConnectionOptions,
} from "./connection_types.ts";
import type { DecodeOutcome } from "./extension.ts";
import { Opcode } from "./frame.ts";
import type { PreparedMessage } from "./prepared.ts";
import type { AcceptOptions, RejectOptions } from "./handshake.ts";
import type { HttpRequestHead } from "./http.ts";
import { ClientOpening, ServerOpening, type UpgradeResult } from "./opening.ts";
import { closeFrame, controlBytes } from "./sender.ts";
import { NO_EVENTS, Session } from "./session.ts";
import { Phase } from "./state.ts";

export * from "./connection_types.ts";

const STATE_NAMES = ["CONNECTING", "OPEN", "CLOSING", "CLOSED"];

/** A WebSocket connection for either role; see the module doc. */
export class Connection {
  /** `"client"` or `"server"`. */
  readonly role: "client" | "server";
  readonly #s: Session;
  /** The opening handshake (what is left of it once open or closed). */
  #opening: ClientOpening | ServerOpening | undefined;

  /** Creates a connection that starts `OPEN` (handshake done elsewhere). */
  constructor(options: OpenConnectionOptions) {
    this.role = options.role;
    this.#s = new Session(options, Phase.OPEN);
  }

  /** A connection in `CONNECTING`, `opening` under way. */
  static #connecting(
    options: OpenConnectionOptions,
    opening: ClientOpening | ServerOpening,
  ): Connection {
    const conn = new Connection(options);
    conn.#s.phase = Phase.CONNECTING;
    conn.#opening = opening;
    return conn;
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
    const opening = new ClientOpening(url, options);
    const conn = Connection.#connecting(
      { ...options, role: "client" },
      opening,
    );
    conn.#s.tx.push(opening.request.bytes);
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
    const opening = new ServerOpening(options);
    return Connection.#connecting({ ...options, role: "server" }, opening);
  }

  /** The current state (see {@linkcode ReadyState}). */
  get state(): ReadyStateValue {
    return this.#s.readyState;
  }

  /** The negotiated subprotocol, or "" for none (or not yet open). */
  get protocol(): string {
    return this.#s.protocol;
  }

  /** The negotiated extensions header value, or "". */
  get extensions(): string {
    return this.#s.extensions;
  }

  /**
   * Whether the embedder should end the transport once the output is
   * written: after a failure, a server's close, or `transportClosed()`.
   */
  get wantsTransportClose(): boolean {
    return this.#s.wantsTransportClose;
  }

  /**
   * The wait in effect, or undefined (`OPEN`, or after `transportClosed()`).
   * The same object is returned for as long as the same wait is in effect,
   * so `conn.timer !== armed` tells the embedder to re-arm.
   */
  get timer(): ConnectionTimer | undefined {
    return this.#s.timer;
  }

  /**
   * Removes and returns the bytes to write, in order. Frames queued since
   * the last call come out packed together where they are small, so taking
   * the output once after a burst of `send()`s gives one chunk to write.
   */
  takeOutput(): readonly Uint8Array[] {
    return this.#s.takeOutput();
  }

  /**
   * Bytes queued for writing that `takeOutput()` has not yet returned (a
   * held pong included; a deferred close frame not).
   */
  get outputLength(): number {
    return this.#s.tx.length;
  }

  /**
   * Feeds bytes from the transport and returns the events they cause.
   * Takes ownership of `chunk`: masked payloads are unmasked in place and
   * message data may be a view of it. Never throws for bad input: protocol
   * errors fail the connection with their close code.
   */
  receive(chunk: Uint8Array): readonly ConnectionEvent[] {
    const s = this.#s;
    if (s.closed || chunk.length === 0) return NO_EVENTS;
    if (s.phase !== Phase.CONNECTING) return s.receive(chunk);
    const opening = this.#opening;
    return s.run(() => {
      if (opening instanceof ServerOpening) {
        this.#requested(opening.receive(chunk));
        return;
      }
      const result = opening!.receive(chunk);
      if (result === undefined) return; // more of the head to come
      if ("failed" in result) return s.handshakeFailed(result);
      this.#opening = undefined;
      s.opened(result);
    });
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
    if (
      !(opening instanceof ServerOpening) || !opening.awaitingHead ||
      this.#s.closed
    ) {
      throw new LocalError(
        "state",
        "receiveHead() needs a server connection awaiting its request",
      );
    }
    return this.#s.run(() => this.#requested(opening.receiveHead(head, rest)));
  }

  /** Reports a valid upgrade request, or rejects a bad one. */
  #requested(result: UpgradeResult): void {
    if (result === undefined) return; // more of the head to come
    if ("failed" in result) this.#s.handshakeFailed(result);
    else this.#s.rx.events.push({ type: "request", request: result });
  }

  /** Whether a `suspend` was reported and `resume()` not yet called. */
  get suspended(): boolean {
    return this.#s.rx.suspended;
  }

  /**
   * Ends a suspension: `outcome` is what the `suspend` event's job passed
   * to its `done` callback. Returns the message (or the failure it causes:
   * 1009, 1007), then the events of the bytes received while suspended.
   * Once the connection has closed meanwhile, drops the outcome and returns
   * nothing. Throws if the connection is not suspended.
   */
  resume(outcome: DecodeOutcome): readonly ConnectionEvent[] {
    const step = this.#s.rx.resume(outcome);
    return step === undefined ? NO_EVENTS : this.#s.run(step);
  }

  /**
   * Server role: accepts the pending upgrade request, optionally choosing a
   * subprotocol (one the client offered), extensions and extra headers.
   * Returns events for any frames that arrived early. Throws if there is no
   * pending request or the options are invalid.
   */
  accept(options: AcceptOptions = {}): readonly ConnectionEvent[] {
    const { response, opened } = this.#decision().accept(options);
    return this.#s.run(() => {
      this.#opening = undefined;
      this.#s.tx.push(response);
      this.#s.opened(opened);
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
    const response = this.#decision().reject(status, options);
    return this.#s.run(() => {
      this.#s.tx.push(response);
      this.#s.closeWith("abort", 1006, `rejected with status ${status}`, false);
    });
  }

  /** The server's opening with a request awaiting a decision; or throws. */
  #decision(): ServerOpening {
    const opening = this.#opening;
    if (
      !(opening instanceof ServerOpening) || opening.request === undefined ||
      this.#s.phase !== Phase.CONNECTING
    ) {
      throw new LocalError(
        "state",
        "no upgrade request is waiting for a decision",
      );
    }
    return opening;
  }

  /**
   * Whether data may still be sent: while `OPEN`, and after the peer's close
   * or a protocol violation in received data until our close frame (the
   * echo, or the failure close) is taken with the output. So what the
   * application sends in reply to messages that arrived before the close
   * or the violation is written before the close frame.
   */
  get canSend(): boolean {
    return this.#s.canSend;
  }

  #requireOpen(what: string): void {
    if (!this.#s.canSend) {
      const state = STATE_NAMES[this.#s.readyState];
      throw new LocalError(
        "state",
        `cannot ${what}: the connection is ${state}`,
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
    this.#s.tx.send(data, options, this.#s.active);
  }

  /**
   * Queues a message prepared once for many connections (see
   * `./prepared.ts`): a server connection queues the shared frame, a
   * client's (which masks) or one whose extension cannot share encodes it
   * as `send()` would. Throws unless the connection is `OPEN`.
   */
  sendPrepared(message: PreparedMessage): void {
    this.#requireOpen("send");
    const s = this.#s;
    const shared = s.role === "server" ? message.frameFor(s.active) : undefined;
    if (shared === undefined) {
      s.tx.send(message.payload, { text: message.text }, s.active);
      return;
    }
    s.tx.writeFrame(shared.frame);
    shared.extension?.sentShared?.(message.payload, shared.rsv);
  }

  /** Queues a ping with up to 125 bytes of payload. Throws unless `OPEN`. */
  ping(data: string | Uint8Array = EMPTY_BYTES): void {
    this.#requireOpen("ping");
    this.#s.tx.write(Opcode.Ping, controlBytes(data));
  }

  /** Queues an unsolicited pong (a heartbeat). Throws unless `OPEN`. */
  pong(data: string | Uint8Array = EMPTY_BYTES): void {
    this.#requireOpen("pong");
    this.#s.tx.write(Opcode.Pong, controlBytes(data));
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
    const payload = closeFrame(code, reason);
    const phase = this.#s.phase;
    if (phase === Phase.CONNECTING) {
      return this.abort("closed before the connection was established");
    }
    if (phase === Phase.OPEN) this.#s.sendClose(payload);
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
    return this.#s.fail(code, message, id);
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
    return this.#s.abort(message, id);
  }

  /**
   * A `"handshake"` or `"close"` timer fired: the handshake timed out, or
   * the peer did not answer our close frame (close 1006). Once closed, asks
   * for the transport to be closed.
   */
  timeout(): readonly ConnectionEvent[] {
    return this.#s.timeout();
  }

  /**
   * The transport reached EOF or failed. Without a finished close handshake
   * this is an abnormal closure: `close` with 1006 and wasClean false (and
   * an `error` if the connection never opened).
   */
  transportClosed(): readonly ConnectionEvent[] {
    return this.#s.transportClosed();
  }
}
