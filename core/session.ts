/**
 * The engine behind a `Connection`, private to it: the close states (it is
 * a {@linkcode Lifecycle}), the events of the call in progress, the receive
 * and send sides, and every way the connection closes or fails. The
 * `Connection` facade adds the opening handshake and the public checks.
 *
 * @module
 */

import { EMPTY_BYTES } from "./bytes.ts";
import type {
  ConnectionEvent,
  OpenConnectionOptions,
} from "./connection_types.ts";
import { type ErrorId, errorMessage, PeerError } from "./errors.ts";
import type { Extension } from "./extension.ts";
import { MAX_CONTROL_PAYLOAD, Opcode } from "./frame.ts";
import {
  failureResponse,
  type HandshakeFailure,
  type Opened,
} from "./opening.ts";
import { Receiver, type ReceiverHost } from "./receiver.ts";
import { closePayload, Sender, truncateUtf8 } from "./sender.ts";
import {
  Lifecycle,
  Phase,
  type PhaseTrigger,
  type PhaseValue,
} from "./state.ts";

/** Returned when a call reports nothing. */
export const NO_EVENTS: readonly ConnectionEvent[] = Object.freeze([]);
/**
 * Where `rx.events` points between calls, so an idle connection does not
 * keep its last events (and the chunk they view) alive. Frozen: a push
 * outside a call would be a bug, and throws.
 */
const IDLE_EVENTS = NO_EVENTS as ConnectionEvent[];
const NO_EXTENSIONS: readonly Extension[] = Object.freeze([]);

/** Decodes `chunk` (a step for `run()`; no closure per `receive()`). */
function feed(session: Session, chunk: Uint8Array): void {
  session.rx.feed(chunk);
}

/** The engine; see the module doc. */
export class Session extends Lifecycle implements ReceiverHost {
  /** `"client"` or `"server"`. */
  readonly role: "client" | "server";
  /** The receive side; its `events` is the batch of the call in progress. */
  readonly rx: Receiver;
  /** The send side. */
  readonly tx: Sender;
  /** The negotiated subprotocol. */
  protocol: string;
  /** The negotiated extensions header value. */
  extensions: string;
  /** Negotiated extensions, in negotiation order. */
  active: readonly Extension[] = NO_EXTENSIONS;

  /** Creates the engine of a connection that starts in `phase`. */
  constructor(options: OpenConnectionOptions, phase: PhaseValue) {
    const close = options.closeTimeout ?? 5000;
    super(
      phase,
      options.handshakeTimeout ?? 10000,
      close,
      options.lingerTimeout ?? close,
    );
    this.role = options.role;
    this.protocol = options.protocol ?? "";
    this.extensions = options.extensions ?? "";
    this.tx = new Sender(this.role === "client");
    this.rx = new Receiver(this, IDLE_EVENTS, options);
    if (options.activeExtensions !== undefined) {
      this.activate(options.activeExtensions);
    }
  }

  /** Part of `ReceiverHost`: answers a ping, unless our close went out. */
  receivedPing(payload: Uint8Array): void {
    if (this.phase !== Phase.LOCAL_CLOSING) this.tx.answerPing(payload);
  }

  /** Part of `ReceiverHost`: echoes the peer's close, unless ours went first. */
  receivedClose(code: number, reason: string, payload: Uint8Array): void {
    // Echo the peer's close (same code and reason, or no payload) when the
    // output is next taken, so replies to messages that arrived before it
    // in the same chunk still go out first (RFC 6455 §5.5.1 allows this).
    if (this.phase === Phase.OPEN) this.tx.deferClose(payload);
    this.closeWith("receiveClose", code, reason, true);
  }

  /** Makes `extensions` live: their RSV bits become legal on receive. */
  activate(extensions: readonly Extension[]): void {
    this.active = extensions;
    this.rx.activate(extensions);
  }

  /**
   * Runs `step` (with `chunk`, if it takes one) collecting its events; an
   * exception fails the connection.
   */
  run(
    step: (session: Session, chunk: Uint8Array) => void,
    chunk: Uint8Array = EMPTY_BYTES,
  ): readonly ConnectionEvent[] {
    const events: ConnectionEvent[] = this.rx.events = [];
    try {
      step(this, chunk);
    } catch (error) {
      this.#failOn(error);
    }
    this.rx.events = IDLE_EVENTS;
    return events;
  }

  /** Decodes frames from `chunk` (the open phase's `receive()`). */
  receive(chunk: Uint8Array): readonly ConnectionEvent[] {
    return this.run(feed, chunk);
  }

  /** Opens with what the handshake produced; feeds the bytes after it. */
  opened(opened: Opened): void {
    this.move("open");
    this.activate(opened.activeExtensions);
    const { protocol, extensions, headers } = opened;
    this.protocol = protocol;
    this.extensions = extensions;
    this.rx.events.push(
      headers === undefined
        ? { type: "open", protocol, extensions }
        : { type: "open", protocol, extensions, headers },
    );
    this.rx.feedAll(opened.rest);
  }

  /** The opening handshake failed: a server answers with its status. */
  handshakeFailed(failure: HandshakeFailure): void {
    if (this.role === "server") this.tx.push(failureResponse(failure));
    this.closeWith("abort", 1006, failure.message, false, {
      status: failure.status,
      id: failure.id,
      cause: failure.cause,
    });
  }

  /** Removes the bytes to write; the held close frame goes out last. */
  takeOutput(): readonly Uint8Array[] {
    if (this.phase === Phase.REMOTE_CLOSING) {
      this.move("closeWritten");
    }
    return this.tx.take();
  }

  /** Queues our close frame and starts waiting for the peer's. */
  sendClose(payload: Uint8Array): void {
    this.move("sendClose");
    this.tx.write(Opcode.Close, payload);
  }

  /** `Connection.fail()`: fails now, the close frame queued at once. */
  fail(code: number, message: string, id: ErrorId): readonly ConnectionEvent[] {
    if (this.closed) return NO_EVENTS;
    const events = this.run(() => this.#failNow(code, message, id));
    // A local decision: the close frame is queued now, so nothing sent
    // after this call goes out.
    if (this.tx.writeDeferredClose()) this.move("closeWritten");
    return events;
  }

  /** `Connection.abort()`: fails with 1006, sending nothing. */
  abort(message: string, id: ErrorId): readonly ConnectionEvent[] {
    if (this.closed) return NO_EVENTS;
    return this.run(() =>
      this.closeWith("abort", 1006, message, false, { id })
    );
  }

  /** `Connection.timeout()`. */
  timeout(): readonly ConnectionEvent[] {
    const phase = this.phase;
    if (phase === Phase.CONNECTING) {
      return this.abort(
        "opening handshake timed out",
        "WS_ERR_HANDSHAKE_TIMEOUT",
      );
    }
    if (phase === Phase.LOCAL_CLOSING) {
      return this.abort(
        "timed out waiting for the peer's close frame",
        "WS_ERR_CLOSE_TIMEOUT",
      );
    }
    if (this.closed) this.moveTransport("end");
    return NO_EVENTS;
  }

  /** `Connection.transportClosed()`. */
  transportClosed(): readonly ConnectionEvent[] {
    let events = NO_EVENTS;
    if (this.phase === Phase.CONNECTING) {
      events = this.abort(
        "connection closed during the handshake",
        "WS_ERR_CONNECTION_CLOSED",
      );
    } else if (!this.closed) {
      events = this.run(() => this.closeWith("abort", 1006, "", false));
    }
    this.moveTransport("gone");
    return events;
  }

  /** Closes at the protocol level (by `trigger`) and reports it. */
  closeWith(
    trigger: PhaseTrigger,
    code: number,
    reason: string,
    wasClean: boolean,
    error?: { status?: number; code?: number; id: ErrorId; cause?: unknown },
  ): void {
    this.enterClosed(trigger, wasClean, this.role === "client");
    this.rx.stopped = true;
    for (const extension of this.active) extension.dispose();
    const events = this.rx.events;
    if (error !== undefined) {
      const event: ConnectionEvent = {
        type: "error",
        code: error.code ?? code,
        message: reason,
        id: error.id,
      };
      if (error.status !== undefined) event.status = error.status;
      if (error.cause !== undefined) event.cause = error.cause;
      events.push(event);
    }
    events.push({ type: "close", code, reason, wasClean });
  }

  /**
   * Fails the connection with `code`. The close frame is deferred to the
   * next `takeOutput()` (see `Phase.REMOTE_CLOSING`), like the echo of a
   * close; none is sent once ours went out.
   */
  #failNow(code: number, message: string, id: ErrorId, cause?: unknown): void {
    if (this.closed) return;
    if (this.phase === Phase.CONNECTING) {
      this.handshakeFailed({ failed: true, message, status: 400, id, cause });
      return;
    }
    const reason = truncateUtf8(message, MAX_CONTROL_PAYLOAD - 2);
    if (this.phase === Phase.OPEN) {
      this.tx.deferClose(closePayload(code, reason));
    }
    this.closeWith("fail", code, reason, false, { code, id, cause });
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
}
