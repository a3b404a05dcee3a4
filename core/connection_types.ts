/**
 * The types a {@linkcode "./connection.ts".Connection} speaks in: its ready
 * states, the events it reports, its options and the timer it asks its
 * embedder to run. `./connection.ts` re-exports them all.
 *
 * @module
 */

import type {
  DeferredDecode,
  Extension,
  ExtensionNegotiator,
} from "./extension.ts";
import type { ErrorId } from "./errors.ts";
import type { ClientRequestOptions, UpgradeRequest } from "./handshake.ts";
import type { HeaderMap, HttpLimits } from "./http.ts";
import type { MessageLimits } from "./message.ts";

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

/** Options shared by both roles. */
export interface ConnectionOptions extends Partial<MessageLimits> {
  /** Milliseconds to wait for the peer's close frame. Default 5000. */
  closeTimeout?: number;
  /**
   * Milliseconds to wait, once closed at the protocol level, for the peer to
   * close the transport (the `"linger"` timer). Default `closeTimeout`.
   */
  lingerTimeout?: number;
  /** Milliseconds the opening handshake may take. Default 10000. */
  handshakeTimeout?: number;
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

/** What the embedder's one timer for a connection waits for. */
export interface ConnectionTimer {
  /**
   * `"handshake"`: the opening handshake (`CONNECTING`); when it expires call
   * `timeout()` (fails, 1006).
   * `"close"`: our close frame is sent and the peer's is awaited; when it
   * expires call `timeout()` (1006).
   * `"linger"`: closed at the protocol level while the transport is still
   * open: waiting for the peer to close the transport (server: after the
   * embedder ended it; client after a clean close: RFC 6455 §7.1.1, the
   * server closes TCP first). When it expires the embedder destroys the
   * transport (and later reports `transportClosed()`).
   */
  readonly kind: "handshake" | "close" | "linger";
  /** Milliseconds, counted from when this timer was first reported. */
  readonly ms: number;
}
