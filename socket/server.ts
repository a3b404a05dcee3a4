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
import {
  createSocket,
  type MessageCallback,
  type SendData,
  WebSocket,
  withPerMessageDeflate,
} from "./websocket.ts";

/** A refusal from a handshake hook: an HTTP status with optional body. */
export interface Rejection {
  /** HTTP status, e.g. 401 or 403. */
  status: number;
  /** A short plain-text body. */
  body?: string;
  /** Extra response headers (e.g. `WWW-Authenticate`). */
  headers?: HeaderInit;
}

/**
 * What `authenticate` may answer: true/undefined to allow, false (401) or a
 * rejection (status 400–599, or 300–399 with a `Location` header to
 * redirect). Anything else gets the client a 500 and is reported to
 * `onError`.
 */
export type AuthResult = boolean | void | Rejection;

/** Facts about the peer that hooks can use besides the request. */
export interface PeerInfo {
  /** The peer's address, when known. */
  remoteAddress?: string;
}

/** Where a failure reported to `ServeOptions.onError` came from. */
export interface ErrorContext {
  /**
   * What failed: a handshake hook ("authenticate", "origins", "protocols",
   * "onConnection"), "accept" (invalid `responseHeaders`), "listener" (a
   * socket's event listener threw or its promise rejected) or "onMessage".
   */
  source: string;
  /** For "listener": the type of the event whose listener failed. */
  event?: string;
  /** The upgrade request being decided, when there is one. */
  request?: UpgradeRequest;
  /** The socket concerned, once accepted. */
  socket?: WebSocket;
}

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

/**
 * The first of the server's `supported` subprotocols (in its order of
 * preference) that the client `offered`, compared exactly (subprotocol
 * names are case-sensitive); "" if none.
 */
export function selectProtocol(
  offered: readonly string[],
  supported: readonly string[],
): string {
  for (const protocol of supported) {
    if (offered.includes(protocol)) return protocol;
  }
  return "";
}

/** Options for {@linkcode chooseProtocol}. */
export interface ChooseProtocolOptions {
  /**
   * Whose order decides when several protocols are acceptable: `"server"`
   * (the default: the order of `supported`) or `"client"` (the order in
   * which the client offered them).
   */
  preference?: "server" | "client";
}

/**
 * Picks the subprotocol to answer with: one that the client `offered` and
 * the server `supported`, by the server's order of preference or (with
 * `preference: "client"`) the client's. Names compare exactly — subprotocol
 * tokens are case-sensitive, so `"MQTT"` does not match `"mqtt"`. Returns ""
 * when nothing matches. Use it as the `protocols` function of
 * {@linkcode ServeOptions}:
 *
 * @example
 * ```ts
 * import { chooseProtocol } from "./server.ts";
 *
 * chooseProtocol(["v10.stomp", "v12.stomp"], ["v12.stomp", "v10.stomp"]);
 * // "v12.stomp" (server preference)
 * chooseProtocol(["v10.stomp", "v12.stomp"], ["v12.stomp", "v10.stomp"], {
 *   preference: "client",
 * }); // "v10.stomp"
 * ```
 */
export function chooseProtocol(
  offered: readonly string[],
  supported: readonly string[],
  options: ChooseProtocolOptions = {},
): string {
  if (options.preference !== "client") {
    return selectProtocol(offered, supported);
  }
  for (const protocol of offered) {
    if (supported.includes(protocol)) return protocol;
  }
  return "";
}

function originAllowed(
  origins: ServeOptions["origins"],
  origin: string | undefined,
): boolean {
  if (origins === undefined) return true;
  if (typeof origins === "function") return origins(origin);
  if (origin === undefined) return true;
  const lower = origin.toLowerCase();
  return origins.some((allowed) => allowed.toLowerCase() === lower);
}

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
  readonly #connections = new Map<WebSocket, Connection>();
  /** Handshaking transports, each with its cleanup. */
  readonly #pending = new Map<Transport, () => void>();
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
    for (const [socket, conn] of this.#connections) {
      if (socket === except || conn.state !== ReadyState.OPEN) continue;
      conn.send(bytes, { text });
      socket.handleEvents([]);
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
    for (const transport of this.#pending.keys()) transport.destroy();
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

  /**
   * Ends `transport` (sending what is queued, then EOF) and destroys it if
   * the peer has not closed within `lingerTimeout`, so a peer that keeps
   * TCP open cannot hold the socket or its slot.
   */
  #end(transport: Transport): void {
    const handlers = transport.handlers;
    const timer = setTimeout(
      () => transport.destroy(),
      this.#options.lingerTimeout ?? 5000,
    );
    transport.handlers = {
      data() {},
      drain() {},
      close(error?: Error): void {
        clearTimeout(timer);
        handlers.close(error);
      },
    };
    transport.resume(); // to see the peer's EOF (reads were paused to decide)
    transport.end();
  }

  /** Runs the opening handshake on a new transport (HTTP not yet parsed). */
  handleTransport(transport: Transport): void {
    if (this.#refuseIfFull(transport)) return;
    const conn = Connection.server(this.#options);
    this.#bind(transport, conn);
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
    if (this.#refuseIfFull(transport)) return;
    const conn = Connection.server(this.#options);
    this.#bind(transport, conn);
    this.#step(transport, conn, conn.receiveHead(request, head));
  }

  /** Answers 503 when closing or at `maxConnections`; true if it did. */
  #refuseIfFull(transport: Transport): boolean {
    const limit = this.#options.maxConnections;
    if (
      !this.#closing && (limit === undefined || this.#connectionCount() < limit)
    ) {
      return false;
    }
    transport.handlers = { data() {}, drain() {}, close() {} };
    transport.write(buildRejectResponse(503, { body: "server is full" }));
    this.#end(transport);
    return true;
  }

  #bind(transport: Transport, conn: Connection): void {
    let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
      timer = undefined;
      this.#step(transport, conn, conn.timeout());
    }, conn.timer?.ms ?? 10000);
    this.#pending.set(transport, () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      this.#pending.delete(transport);
    });
    transport.handlers = {
      data: (chunk) => this.#step(transport, conn, conn.receive(chunk)),
      drain() {},
      close: () => {
        this.#pending.get(transport)?.();
        conn.transportClosed();
      },
    };
  }

  /** Writes output and handles events while the connection is handshaking. */
  #step(
    transport: Transport,
    conn: Connection,
    events: readonly ConnectionEvent[],
  ): void {
    for (const chunk of conn.takeOutput()) transport.write(chunk);
    if (conn.wantsTransportClose) {
      this.#end(transport);
      return;
    }
    for (const event of events) {
      if (event.type === "request") {
        // Read nothing more until the hooks have decided: what the peer
        // pipelines after its request waits in the OS, not in our memory, so
        // the answer does not depend on how its bytes were split into reads.
        transport.pause();
        this.#decide(transport, conn, event.request).catch((error) => {
          // Not expected (every hook is guarded); never leave it unhandled.
          this.#report(error, { source: "handshake", request: event.request });
          if (conn.state === ReadyState.CONNECTING) transport.destroy();
        });
      }
    }
  }

  async #decide(
    transport: Transport,
    conn: Connection,
    request: UpgradeRequest,
  ): Promise<void> {
    const options = this.#options;
    const protocol = this.#chooseProtocol(request);
    let rejection: Rejection | undefined = typeof protocol === "object"
      ? protocol
      : undefined;
    if (rejection === undefined) {
      if (options.path !== undefined && request.path !== options.path) {
        rejection = { status: 404, body: "no WebSocket endpoint here" };
      } else {
        rejection = this.#checkOrigin(request);
      }
    }
    if (rejection === undefined && options.requireProtocol && protocol === "") {
      rejection = { status: 400, body: "no acceptable subprotocol offered" };
    }
    if (rejection === undefined && options.authenticate !== undefined) {
      rejection = await this.#authenticate(transport, request);
      if (conn.state !== ReadyState.CONNECTING) return; // gone meanwhile
    }
    transport.resume(); // the answer (and then the socket) takes the reads
    if (rejection !== undefined) {
      let events: readonly ConnectionEvent[];
      try {
        events = conn.reject(rejection.status, rejection);
      } catch (error) {
        // An invalid status or header from a hook: answer 500 instead.
        this.#report(error, { source: "authenticate", request });
        events = conn.reject(500, { body: "invalid rejection" });
      }
      this.#step(transport, conn, events);
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
      this.#step(transport, conn, conn.reject(500, { body }));
      return;
    }
    this.#pending.get(transport)?.();
    const socket = createSocket({
      url: requestUrl(request, options.tls !== undefined).href,
      connection: conn,
      transport,
      highWaterMark: options.highWaterMark,
      pauseReadingAt: options.pauseReadingAt ?? 1024 * 1024,
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
    this.#connections.set(socket, conn);
    try {
      options.onConnection?.(socket, request);
    } catch (error) {
      this.#report(error, { source: "onConnection", request, socket });
      socket.handleEvents(events);
      socket.closeWithCode(1011, "server error");
      return;
    }
    socket.handleEvents(events);
  }

  /** The subprotocol to answer with, or a 500 if the `protocols` hook fails. */
  #chooseProtocol(request: UpgradeRequest): string | Rejection {
    const protocols = this.#options.protocols ?? [];
    const fault = { status: 500, body: "subprotocol selection failed" };
    let protocol: unknown;
    try {
      protocol = typeof protocols === "function"
        ? protocols(request.protocols, request) || ""
        : selectProtocol(request.protocols, protocols);
    } catch (error) {
      this.#report(error, { source: "protocols", request });
      return fault;
    }
    if (typeof protocol !== "string") {
      const error = new TypeError(`protocols returned a ${typeof protocol}`);
      this.#report(error, { source: "protocols", request });
      return fault;
    }
    if (protocol !== "" && !request.protocols.includes(protocol)) {
      // Sending a name the client did not offer would make every conforming
      // client fail the connection.
      const error = new TypeError(`protocols chose unoffered "${protocol}"`);
      this.#report(error, { source: "protocols", request });
      return {
        status: 500,
        body: "server chose a subprotocol the client did not offer",
      };
    }
    return protocol;
  }

  /** A 403 for a disallowed origin, a 500 if the `origins` predicate throws. */
  #checkOrigin(request: UpgradeRequest): Rejection | undefined {
    try {
      if (originAllowed(this.#options.origins, request.origin)) {
        return undefined;
      }
    } catch (error) {
      this.#report(error, { source: "origins", request });
      return { status: 500, body: "origin check failed" };
    }
    return { status: 403, body: "origin not allowed" };
  }

  /**
   * Runs `authenticate`: undefined to allow, else the rejection to send. A
   * throw, a rejected promise or a result that is not a valid answer (see
   * {@linkcode AuthResult}) is reported and becomes a 500.
   */
  async #authenticate(
    transport: Transport,
    request: UpgradeRequest,
  ): Promise<Rejection | undefined> {
    const fault = { status: 500, body: "authentication failed" };
    let result: unknown;
    try {
      result = await this.#options.authenticate!(request, {
        remoteAddress: transport.remoteAddress,
      });
    } catch (error) {
      this.#report(error, { source: "authenticate", request });
      return fault;
    }
    if (result === undefined || result === true) return undefined;
    if (result === false) {
      return { status: 401, body: "authentication required" };
    }
    if (typeof result === "object" && result !== null) {
      const status = (result as { status?: unknown }).status;
      if (
        typeof status === "number" && Number.isInteger(status) &&
        status >= 300 && status <= 599
      ) {
        return result as Rejection; // headers are checked by `reject`
      }
    }
    const error = new TypeError(
      `authenticate returned an invalid result: ${String(result)}`,
    );
    this.#report(error, { source: "authenticate", request });
    return fault;
  }
}

/** Sends `data` to each socket in `sockets` that is open. */
export function broadcast(sockets: Iterable<WebSocket>, data: SendData): void {
  for (const socket of sockets) {
    if (socket.readyState === WebSocket.OPEN) socket.send(data);
  }
}
