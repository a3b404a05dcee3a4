/**
 * The streams adapter: wskit over any byte-stream pair
 * `{ readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array> }`
 * — a `Deno.Conn`, a WebTransport bidirectional stream, a child process's
 * stdio, or the in-memory {@linkcode memoryPipe} — for either role. It uses
 * only the core and standard web APIs (streams, `setTimeout`,
 * `queueMicrotask`), so it runs in browsers as well as on Node, Deno and Bun.
 *
 * - {@linkcode connectStream}: a client `WebSocket` over a pair; it sends the
 *   upgrade request for `url` and opens on the server's answer.
 * - {@linkcode acceptStream}: runs the server side of the handshake (with
 *   every `serve()` hook: path, origins, subprotocols, authenticate) and
 *   resolves with the accepted `WebSocket`.
 * - {@linkcode openStream}: a `WebSocket` that starts `OPEN`, for a stream
 *   whose handshake happened elsewhere (an HTTP/2 extended CONNECT stream, a
 *   pre-authenticated tunnel).
 * - {@linkcode streamTransport}: the pair as a plain `Transport`, e.g. for
 *   `WebSocketServer.handleTransport()` when many streams share one server.
 * - {@linkcode memoryPipe}: two connected in-memory pairs, for tests and demos.
 *
 * It also re-exports `WebSocket` and the streams API (`WebSocketStream`), so
 * a browser needs only this module.
 *
 * Backpressure uses the streams' own mechanisms: bytes are written only when
 * `writer.ready` says the sink wants more, and the next `read()` is issued
 * only while the `WebSocket` wants data (it pauses when its own consumer is
 * slow or its peer does not read).
 *
 * @example
 * ```ts
 * import { acceptStream, connectStream, memoryPipe } from "./streams.ts";
 *
 * const [clientEnd, serverEnd] = memoryPipe();
 * acceptStream(serverEnd, { protocols: ["chat"] }).then((socket) => {
 *   socket.onmessage = (event) => socket.send(event.data);
 * });
 * const ws = connectStream(clientEnd, "ws://in-memory/", {
 *   protocols: ["chat"],
 * });
 * ws.onopen = () => ws.send("hello");
 * ws.onmessage = (event) => {
 *   console.log(event.data, ws.protocol); // "hello chat"
 *   ws.close(1000);
 * };
 * ```
 *
 * @module
 */

import { Connection, type ConnectionOptions } from "./core/connection.ts";
import type { UpgradeRequest } from "./core/handshake.ts";
import { type ServeOptions, WebSocketServer } from "./socket/server.ts";
import type { Runtime, Transport } from "./adapters/transport.ts";
import {
  type StreamPair,
  StreamTransport,
  type StreamTransportOptions,
} from "./adapters/streams.ts";
import {
  adoptSocket,
  WebSocket,
  type WebSocketOptions,
} from "./socket/websocket.ts";
import { Driver } from "./socket/driver.ts";

// The streams API and the socket class, so that this module is a complete
// browser entry point.
export {
  type MessageReadable,
  WebSocketError,
  WebSocketStream,
  type WebSocketStreamChunk,
  type WebSocketStreamCloseInfo,
  type WebSocketStreamOpenInfo,
  type WebSocketStreamOptions,
} from "./socket/websocket_stream.ts";
export {
  type BinaryType,
  type SendData,
  WebSocket,
  WebSocketCloseEvent,
  WebSocketErrorEvent,
  type WebSocketEventMap,
  type WebSocketListener,
  type WebSocketOptions,
} from "./socket/websocket.ts";
export {
  memoryPipe,
  type MemoryPipeOptions,
  type StreamPair,
  streamTransport,
  type StreamTransportOptions,
} from "./adapters/streams.ts";
export type { Transport, TransportHandlers } from "./adapters/transport.ts";
export type { ServeOptions } from "./socket/server.ts";
export type { ConnectionOptions } from "./core/connection.ts";

/** A runtime with no network: the server logic only needs its type here. */
const NO_NETWORK: Runtime = {
  name: "streams",
  connect(): Transport {
    throw new Error("wskit: the streams adapter has no network to connect to");
  },
  listen(): never {
    throw new Error("wskit: the streams adapter cannot listen");
  },
};

/** Options for {@linkcode connectStream}. */
export interface StreamClientOptions
  extends Omit<WebSocketOptions, "runtime" | "tls"> {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string | string[];
  /** Options for the transport over the pair. */
  transport?: StreamTransportOptions;
}

/**
 * A client `WebSocket` over `pair`: it sends the upgrade request for `url`
 * (whose host only fills the `Host` header; default `ws://localhost/`) and
 * opens when the server accepts. Same API and events as over TCP; throws a
 * `SyntaxError` DOMException for a bad URL or protocol list.
 */
export function connectStream(
  pair: StreamPair,
  url: string | URL = "ws://localhost/",
  options: StreamClientOptions = {},
): WebSocket {
  const { protocols, transport, ...rest } = options;
  const runtime: Runtime = {
    name: "streams",
    connect: () => new StreamTransport(pair, transport),
    listen: NO_NETWORK.listen,
  };
  return new WebSocket(url, protocols, { ...rest, runtime });
}

/** Options for {@linkcode acceptStream}. */
export interface StreamServerOptions
  extends Omit<ServeOptions, "hostname" | "port" | "tls" | "maxConnections"> {
  /** Options for the transport over the pair. */
  transport?: StreamTransportOptions;
}

/**
 * Runs the server side of the opening handshake over `pair`, with the same
 * hooks as `serve()`, and resolves with the accepted socket. Rejects if the
 * handshake fails (the error says which HTTP status was sent, if any).
 *
 * Reading is held until the next task after the promise resolves, so
 * handlers set right after `await acceptStream(...)` see every message;
 * `options.onConnection` runs before any message is delivered.
 */
export function acceptStream(
  pair: StreamPair,
  options: StreamServerOptions = {},
): Promise<WebSocket> {
  const { transport: transportOptions, ...serveOptions } = options;
  const transport = new StreamTransport(pair, transportOptions);
  const server = new WebSocketServer(NO_NETWORK, {
    ...serveOptions,
    onConnection(socket: WebSocket, request: UpgradeRequest): void {
      options.onConnection?.(socket, request);
      // Hold what follows until the task after the promise settles.
      transport.hold(true);
      setTimeout(() => transport.hold(false), 0);
    },
  });
  return server.accept(transport);
}

/** Options for {@linkcode openStream}. */
export interface OpenStreamOptions extends ConnectionOptions {
  /** Which end this is: the client masks its frames, the server does not. */
  role: "client" | "server";
  /** The negotiated subprotocol (default ""). */
  protocol?: string;
  /** The negotiated extensions (default ""; wskit implements none). */
  extensions?: string;
  /** What `url` reports (default `ws://localhost/`). */
  url?: string;
  /** `send()` returns false above this many buffered bytes (default 1 MiB). */
  highWaterMark?: number;
  /** Options for the transport over the pair. */
  transport?: StreamTransportOptions;
}

/**
 * A `WebSocket` over `pair` that starts `OPEN`: the handshake happened
 * elsewhere, and its outcome (`protocol`, `extensions`) is passed in. There
 * is no `open` event; set handlers right away.
 */
export function openStream(
  pair: StreamPair,
  options: OpenStreamOptions,
): WebSocket {
  const { transport, url, highWaterMark, ...connection } = options;
  const driver = new Driver(
    new Connection(connection),
    new StreamTransport(pair, transport),
  );
  return adoptSocket(driver, { url: url ?? "ws://localhost/", highWaterMark });
}
