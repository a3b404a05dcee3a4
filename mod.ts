/**
 * wskit: a WebSocket (RFC 6455) kit that runs unchanged on Node.js, Deno and
 * Bun — a browser-compatible `WebSocket` client and a server with upgrade
 * hooks, over a pure sans-IO core (`wskit/core`).
 *
 * @example
 * ```ts
 * import { serve, WebSocket } from "./mod.ts";
 *
 * const server = await serve({
 *   port: 0,
 *   protocols: ["chat"],
 *   onConnection(socket) {
 *     socket.onmessage = (event) => socket.send(event.data);
 *   },
 * });
 * const ws = new WebSocket(`ws://127.0.0.1:${server.port}`, ["chat"]);
 * ws.onopen = () => ws.send("hello");
 * ws.onmessage = (event) => {
 *   console.log(event.data, ws.protocol); // "hello chat"
 *   ws.close(1000);
 * };
 * ws.onclose = () => server.close();
 * ```
 *
 * A busy server can take messages through a callback instead of
 * `MessageEvent`s (text as strings, binary as `Uint8Array`s):
 *
 * ```ts
 * import { serve } from "./mod.ts";
 *
 * const echo = await serve({
 *   port: 0,
 *   onMessage(socket, data) {
 *     socket.send(data);
 *   },
 * });
 * await echo.close();
 * ```
 *
 * @module
 */

import { currentRuntime } from "./adapters/runtime.ts";
import { type ServeOptions, WebSocketServer } from "./socket/server.ts";
import { setDefaultRuntime } from "./socket/websocket.ts";

// `new WebSocket(url)` uses the adapter of the runtime this code runs on.
// (socket/websocket.ts does not import the runtime adapters itself, so that
// it loads in browsers.)
setDefaultRuntime(currentRuntime);

export { computeAccept } from "./core/handshake.ts";
export { CloseCode, closeCodeName } from "./core/close.ts";
export { ERROR_IDS, type ErrorId } from "./core/errors.ts";
export type { UpgradeRequest } from "./core/handshake.ts";
export {
  type BinaryType,
  type Handler as EventHandler,
  type MessageCallback,
  type SendData,
  WebSocket,
  WebSocketCloseEvent as CloseEvent,
  WebSocketErrorEvent,
  type WebSocketEventMap,
  type WebSocketListener,
  type WebSocketOptions,
} from "./socket/websocket.ts";
export {
  type AuthResult,
  chooseProtocol,
  type ChooseProtocolOptions,
  type ErrorContext,
  type PeerInfo,
  type Rejection,
  selectProtocol,
  type ServeOptions,
  WebSocketServer,
} from "./socket/server.ts";
export {
  WebSocketError,
  WebSocketStream,
  type WebSocketStreamCloseInfo,
  type WebSocketStreamOpenInfo,
  type WebSocketStreamOptions,
} from "./socket/websocket_stream.ts";
export { currentRuntime } from "./adapters/runtime.ts";
export type { RateLimit, SocketLimits } from "./socket/guard.ts";
export type {
  DeflateCodec,
  PerMessageDeflateOptions,
} from "./core/permessage_deflate.ts";
export { deflate, zlibCodec } from "./adapters/deflate.ts";
export type {
  ClientTlsOptions,
  ConnectOptions,
  Listener,
  ListenOptions,
  Runtime,
  ServerTlsOptions,
  Transport,
  TransportHandlers,
} from "./adapters/transport.ts";

/**
 * Starts a WebSocket server on the current runtime (Node, Deno or Bun) and
 * resolves once it listens. `port: 0` picks a free port (see `.port`).
 */
export function serve(options: ServeOptions = {}): Promise<WebSocketServer> {
  return new WebSocketServer(currentRuntime(), options).listen();
}
