/**
 * The options and shapes of the socket layer's public API: what a client
 * `WebSocket` accepts beyond the browser's arguments, what it dispatches,
 * and what a server gives each accepted socket.
 *
 * @example
 * ```ts
 * import type { WebSocketOptions } from "./options.ts";
 *
 * const options: WebSocketOptions = {
 *   headers: { Authorization: "Bearer token" },
 *   perMessageDeflate: true,
 *   limits: { idleTimeout: 30_000 },
 * };
 * ```
 *
 * @module
 */

import type { ConnectionOptions } from "../core/connection.ts";
import type { ExtensionNegotiator } from "../core/extension.ts";
import type { HeaderInit } from "../core/handshake.ts";
import {
  type DeflateCodec,
  PERMESSAGE_DEFLATE,
  permessageDeflate,
  type PerMessageDeflateOptions,
} from "../core/permessage_deflate.ts";
import type { ClientTlsOptions, Runtime } from "../adapters/transport.ts";
import type { WebSocketCloseEvent, WebSocketErrorEvent } from "./events.ts";
import type { SocketLimits } from "./guard.ts";
import type { WebSocket } from "./websocket.ts";

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
  /** The connection failed (`id` says why), or application code threw (`code` 0, `id` ""). */
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

/** Options for a socket whose connection already runs on a driver. */
export interface SocketSetup {
  /** The URL (server side: the request URL). */
  url: string;
  /** `send()` backpressure threshold in bytes. */
  highWaterMark?: number;
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

/** Data `send()` accepts. */
export type SendData = string | ArrayBufferLike | ArrayBufferView | Blob;

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
