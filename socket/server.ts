/**
 * The WebSocket server, the same on every runtime: listens through a
 * runtime adapter (or is fed upgrade requests by an HTTP server), runs the
 * handshake hooks — path, `Origin` allowlist, authentication, subprotocol
 * choice, connection limit — and hands each accepted connection to the
 * application as a {@linkcode WebSocket}.
 *
 * @module
 */

import {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  ReadyState,
} from "../core/connection.ts";
import type { HeaderInit, UpgradeRequest } from "../core/handshake.ts";
import type { HttpLimits, HttpRequestHead } from "../core/http.ts";
import { buildRejectResponse, requestUrl } from "../core/handshake.ts";
import { DEFAULT_MESSAGE_LIMITS } from "../core/message.ts";
import type { SocketLimits } from "./guard.ts";
import type {
  Listener,
  Runtime,
  ServerTlsOptions,
  Transport,
} from "../adapters/transport.ts";
import type { PerMessageDeflateOptions } from "../core/permessage_deflate.ts";
import { Driver, Hold, refuse } from "./driver.ts";
import {
  authenticate,
  type AuthResult,
  checkOrigin,
  type ErrorContext,
  type PeerInfo,
  protocolFor,
  type Rejection,
  type Report,
} from "./hooks.ts";

export {
  type AuthResult,
  chooseProtocol,
  type ChooseProtocolOptions,
  type ErrorContext,
  type PeerInfo,
  type Rejection,
  selectProtocol,
} from "./hooks.ts";
import {
  adoptSocket,
  type MessageCallback,
  type SendData,
  WebSocket,
  withPerMessageDeflate,
} from "./websocket.ts";

/**
 * The server's default ping rate limit, per second, when `limits.rateLimit`
 * is not given: past it the connection fails with 1008.
 */
export const DEFAULT_PINGS_PER_SECOND = 100;

/** Server options. */
export interface ServeOptions extends ConnectionOptions {
  /** Address to bind (default "127.0.0.1"); ignored by `attach()`. */
  hostname?: string;
  /** Port (default 0: any free port); ignored by `attach()`. */
  port?: number;
  /** Serve `wss:` with this certificate and key. */
  tls?: ServerTlsOptions;
  /** Accept upgrades only on this path; others get 404. */
  path?: string;
  /**
   * Subprotocols this server speaks, most preferred first: the first of
   * these that the client offered is selected. Or a function that picks one
   * of the offered list itself (return "" for none), e.g. to honour the
   * client's order of preference with {@linkcode chooseProtocol}. The
   * offered list is the client's `Sec-WebSocket-Protocol` items in order,
   * trimmed of spaces and tabs, empty items dropped; names compare
   * case-sensitively. A function that throws, or returns a name the client
   * did not offer, gets the client a 500.
   */
  protocols?:
    | readonly string[]
    | ((offered: readonly string[], request: UpgradeRequest) => string);
  /** Reject (400) a client that offers none of `protocols`. */
  requireProtocol?: boolean;
  /**
   * Allowed `Origin` values (exact, case-insensitive), or a predicate.
   * Requests from other origins get 403. Requests without `Origin` (non-
   * browser clients) pass an array check; a predicate sees `undefined`.
   */
  origins?: readonly string[] | ((origin: string | undefined) => boolean);
  /** Authenticate from headers, cookies or the query; may be async. */
  authenticate?: (
    request: UpgradeRequest,
    peer: PeerInfo,
  ) => AuthResult | Promise<AuthResult>;
  /** Extra headers for the 101 response. */
  responseHeaders?: HeaderInit;
  /**
   * Called with each accepted socket, before any message is delivered. If
   * it throws, the error is reported to `onError` and that socket is closed
   * with 1011 (it may be half set up); the server keeps serving.
   */
  onConnection?: (socket: WebSocket, request: UpgradeRequest) => void;
  /**
   * Receives every failure of application code (`context.source` names
   * it): a handshake hook that throws, rejects or returns an invalid answer
   * (the client then gets a 500, and the server keeps serving), and a
   * socket listener or `onMessage` that throws (see
   * `closeOnHandlerError`). Without it, hook failures go to
   * `console.error`, and a listener's exception goes to the socket's
   * `error` event (or, when nothing listens, to `console.error` once per
   * socket). If it throws itself, that goes to `console.error`. Nothing
   * application code throws crashes the process.
   */
  onError?: (error: unknown, context: ErrorContext) => void;
  /**
   * Whether a socket listener that throws (or whose promise rejects) fails
   * its connection with 1011. Default false: it is reported (an `error`
   * event with `code` 0, and `onError`) and the connection stays open, as
   * in a browser. `onMessage` throwing always fails the connection.
   */
  closeOnHandlerError?: boolean;
  /**
   * How long (ms) a refused or timed-out handshake waits, after the server
   * sent its answer and EOF, for the peer to close before the transport is
   * destroyed and its `maxConnections` slot freed (default 5000).
   */
  lingerTimeout?: number;
  /**
   * Receives every message of every connection instead of `message`
   * events (text as a string, binary as a `Uint8Array`): the fast path for
   * busy servers, with no event object per message.
   */
  onMessage?: MessageCallback;
  /** At most this many connections (handshaking included); more get 503. */
  maxConnections?: number;
  /** Limits on the request head (defaults 16 KiB, 100 headers). */
  httpLimits?: Partial<HttpLimits>;
  /** `send()` returns false above this many buffered bytes (default 1 MiB). */
  highWaterMark?: number;
  /** Stop reading from a peer while this many bytes wait for it (default 1 MiB). */
  pauseReadingAt?: number;
  /**
   * Per-connection limits. Defaults on a server: `maxQueuedBytes` twice
   * `maxMessageSize` (128 MiB), `backpressureTimeout` 30 s, `rateLimit`
   * `{ pings: 100 }` per second (a `rateLimit` given here replaces it);
   * no message rate limit and no idle timeout unless set.
   */
  limits?: SocketLimits;
  /**
   * permessage-deflate (RFC 7692): accepted by default when a client offers
   * it and the runtime has a DEFLATE codec (Node, Deno, Bun). `false` turns
   * it off; an object tunes it (threshold, level, window sizes, context
   * takeover).
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

/** Who waits for a handshake's outcome (`WebSocketServer.accept`). */
interface Outcome {
  resolve(socket: WebSocket): void;
  reject(error: Error): void;
}

/** A handshake in progress: its outcome's waiter, and the status answered. */
interface Handshake {
  outcome?: Outcome;
  status?: number;
}

/** The error `accept()` rejects with when the handshake did not succeed. */
function handshakeFailure(status: number | undefined): Error {
  return new Error(
    status === undefined
      ? "wskit: the transport closed during the opening handshake"
      : `wskit: the opening handshake failed: answered HTTP/1.1 ${status}`,
  );
}

const NO_EVENTS: readonly ConnectionEvent[] = Object.freeze([]);

/** A running server; see the module doc. */
export class WebSocketServer {
  readonly #runtime: Runtime;
  readonly #options: ServeOptions;
  readonly #clients = new Set<WebSocket>();
  readonly #limits: SocketLimits;
  readonly #onClosed = (socket: WebSocket): void => {
    this.#clients.delete(socket);
    this.#connections.delete(socket);
  };
  readonly #connections = new Map<WebSocket, Driver>();
  /** The drivers of the handshaking transports, with what waits on each. */
  readonly #pending = new Map<Driver, Handshake>();
  #listener?: Listener;
  #closing = false;

  /** Creates a server that is fed transports by `listen()` or `handleParsed()`. */
  constructor(runtime: Runtime, options: ServeOptions = {}) {
    this.#runtime = runtime;
    this.#options = {
      ...options,
      suspendable: true, // its sockets are `WebSocket`s, which run `suspend` jobs
      extensionNegotiators: withPerMessageDeflate(
        options.extensionNegotiators,
        options.perMessageDeflate ?? true,
        runtime.deflate,
      ),
    };
    this.#limits = {
      maxQueuedBytes: 2 *
        (options.maxMessageSize ?? DEFAULT_MESSAGE_LIMITS.maxMessageSize),
      backpressureTimeout: 30_000,
      // A peer may ping, but not flood: each ping costs an answer and work.
      rateLimit: { pings: DEFAULT_PINGS_PER_SECOND },
      ...options.limits,
    };
  }

  /** Starts listening on `options.hostname`/`options.port`. */
  async listen(): Promise<this> {
    this.#listener = await this.#runtime.listen(
      {
        hostname: this.#options.hostname,
        port: this.#options.port,
        tls: this.#options.tls,
      },
      (transport) => this.handleTransport(transport),
    );
    return this;
  }

  /** The port listened on (0 before `listen()`). */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** The address listened on. */
  get hostname(): string {
    return this.#listener?.hostname ?? this.#options.hostname ?? "127.0.0.1";
  }

  /** The open sockets. */
  get clients(): ReadonlySet<WebSocket> {
    return this.#clients;
  }

  /**
   * Sends `data` to every open client (except `except`); the message is
   * encoded once. Returns how many clients it was queued for.
   */
  broadcast(data: string | Uint8Array, except?: WebSocket): number {
    const text = typeof data === "string";
    const bytes = text ? new TextEncoder().encode(data) : data;
    let count = 0;
    for (const [socket, driver] of this.#connections) {
      const conn = driver.connection;
      if (socket === except || conn.state !== ReadyState.OPEN) continue;
      conn.send(bytes, { text });
      driver.deliver(NO_EVENTS); // the socket writes it
      count++;
    }
    return count;
  }

  /**
   * Stops accepting, closes every connection with `code` (default 1001,
   * going away) and resolves when all have closed (each is forced after its
   * close timeout).
   */
  async close(code = 1001, reason = "server shutting down"): Promise<void> {
    this.#closing = true;
    const stopped = this.#listener?.close();
    for (const driver of this.#pending.keys()) driver.destroy();
    const closed = [...this.#clients].map((socket) =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.addEventListener("close", () => resolve(), { once: true });
        socket.closeWithCode(code, reason);
      })
    );
    await Promise.all([stopped, ...closed]);
  }

  #connectionCount(): number {
    return this.#clients.size + this.#pending.size;
  }

  /**
   * How many connections hold a `maxConnections` slot: handshaking
   * (including refused ones whose transport has not closed yet) plus open.
   */
  get connectionCount(): number {
    return this.#connectionCount();
  }

  readonly #reporter: Report = (error, context) => this.#report(error, context);

  /** Reports a hook failure to `onError`, or `console.error` (never throws). */
  #report(error: unknown, context: ErrorContext): void {
    const onError = this.#options.onError;
    if (onError !== undefined) {
      try {
        onError(error, context);
        return;
      } catch (failure) {
        console.error("wskit: onError threw", failure);
      }
    }
    console.error(`wskit: ${context.source} failed`, error);
  }

  /** Runs the opening handshake on a new transport (HTTP not yet parsed). */
  handleTransport(transport: Transport): void {
    this.#handshake(transport);
  }

  /**
   * Runs the handshake on a transport whose request head another HTTP
   * server already parsed (`head` holds any bytes after it).
   */
  handleParsed(
    transport: Transport,
    request: HttpRequestHead,
    head: Uint8Array,
  ): void {
    const driver = this.#handshake(transport);
    driver?.deliver(driver.connection.receiveHead(request, head));
  }

  /**
   * Runs the opening handshake on `transport` and resolves with the socket
   * once the connection is accepted (after `onConnection`). Rejects when it
   * is not: the error says which HTTP status was answered, if any.
   */
  accept(transport: Transport): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      this.#handshake(transport, { resolve, reject });
    });
  }

  /**
   * Starts the handshake phase: a driver for a server connection, owned by
   * the server until the hooks decide. Answers 503 instead (and returns
   * undefined) when closing or at `maxConnections`.
   */
  #handshake(transport: Transport, outcome?: Outcome): Driver | undefined {
    const limit = this.#options.maxConnections;
    if (
      this.#closing ||
      (limit !== undefined && this.#connectionCount() >= limit)
    ) {
      refuse(
        transport,
        buildRejectResponse(503, { body: "server is full" }),
        this.#options.lingerTimeout ?? this.#options.closeTimeout ?? 5000,
      );
      outcome?.reject(handshakeFailure(503));
      return undefined;
    }
    const conn = Connection.server(this.#options);
    const shake: Handshake = { outcome };
    const driver: Driver = new Driver(conn, transport, {
      events: (events) => {
        for (const event of events) {
          if (event.type === "error") shake.status ??= event.status;
        }
        this.#step(driver, events);
      },
      drained() {},
      closed: () => {
        this.#pending.delete(driver);
        conn.transportClosed();
        shake.outcome?.reject(handshakeFailure(shake.status));
      },
    }, this.#options.pauseReadingAt ?? 1024 * 1024);
    this.#pending.set(driver, shake);
    driver.flush(); // arms the handshake timer
    return driver;
  }

  /** Writes output and handles events while the connection is handshaking. */
  #step(driver: Driver, events: readonly ConnectionEvent[]): void {
    driver.flush();
    if (driver.connection.wantsTransportClose) return;
    for (const event of events) {
      if (event.type === "request") {
        // Read nothing more until the hooks have decided: what the peer
        // pipelines after its request waits in the OS, not in our memory, so
        // the answer does not depend on how its bytes were split into reads.
        driver.hold(Hold.Deciding, true);
        this.#decide(driver, event.request).catch((error) => {
          // Not expected (every hook is guarded); never leave it unhandled.
          this.#report(error, { source: "handshake", request: event.request });
          if (driver.connection.state === ReadyState.CONNECTING) {
            driver.destroy();
          }
        });
      }
    }
  }

  async #decide(driver: Driver, request: UpgradeRequest): Promise<void> {
    const options = this.#options;
    const conn = driver.connection;
    const report = this.#reporter;
    const protocol = protocolFor(options, request, report);
    let rejection: Rejection | undefined = typeof protocol === "object"
      ? protocol
      : undefined;
    if (rejection === undefined) {
      if (options.path !== undefined && request.path !== options.path) {
        rejection = { status: 404, body: "no WebSocket endpoint here" };
      } else {
        rejection = checkOrigin(options, request, report);
      }
    }
    if (rejection === undefined && options.requireProtocol && protocol === "") {
      rejection = { status: 400, body: "no acceptable subprotocol offered" };
    }
    if (rejection === undefined && options.authenticate !== undefined) {
      rejection = await authenticate(options, request, {
        remoteAddress: driver.transport.remoteAddress,
      }, report);
      if (conn.state !== ReadyState.CONNECTING) return; // gone meanwhile
    }
    // The answer (and then the socket) takes the reads; after a refusal,
    // reading shows when the peer closes.
    driver.hold(Hold.Deciding, false);
    if (rejection !== undefined) {
      let events: readonly ConnectionEvent[];
      const shake = this.#pending.get(driver);
      try {
        events = conn.reject(rejection.status, rejection);
        if (shake !== undefined) shake.status = rejection.status;
      } catch (error) {
        // An invalid status or header from a hook: answer 500 instead.
        this.#report(error, { source: "authenticate", request });
        events = conn.reject(500, { body: "invalid rejection" });
        if (shake !== undefined) shake.status = 500;
      }
      driver.deliver(events);
      return;
    }
    const accepted = typeof protocol === "string" ? protocol : "";
    let events: readonly ConnectionEvent[];
    try {
      events = conn.accept({
        protocol: accepted,
        headers: options.responseHeaders,
      });
    } catch (error) {
      // E.g. invalid `responseHeaders`: answer 500 rather than hang.
      this.#report(error, { source: "accept", request });
      const body = error instanceof Error ? error.message : "accept failed";
      const shake = this.#pending.get(driver);
      if (shake !== undefined) shake.status = 500;
      driver.deliver(conn.reject(500, { body }));
      return;
    }
    const outcome = this.#pending.get(driver)?.outcome;
    this.#pending.delete(driver);
    const socket = adoptSocket(driver, {
      url: requestUrl(request, options.tls !== undefined).href,
      highWaterMark: options.highWaterMark,
      onMessage: options.onMessage,
      limits: this.#limits,
      onClosed: this.#onClosed,
      onError: options.onError === undefined
        ? undefined
        : (error, socket, event) =>
          this.#report(error, {
            source: event === undefined ? "onMessage" : "listener",
            event,
            request,
            socket,
          }),
      closeOnHandlerError: options.closeOnHandlerError,
    });
    this.#clients.add(socket);
    this.#connections.set(socket, driver);
    outcome?.resolve(socket);
    try {
      options.onConnection?.(socket, request);
    } catch (error) {
      this.#report(error, { source: "onConnection", request, socket });
      driver.deliver(events);
      socket.closeWithCode(1011, "server error");
      return;
    }
    driver.deliver(events);
  }
}

/** Sends `data` to each socket in `sockets` that is open. */
export function broadcast(sockets: Iterable<WebSocket>, data: SendData): void {
  for (const socket of sockets) {
    if (socket.readyState === WebSocket.OPEN) socket.send(data);
  }
}
