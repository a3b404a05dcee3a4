/**
 * The Node.js adapter: `net`/`tls` sockets as wskit transports, a server
 * over `net.createServer`/`tls.createServer`, and attaching to an existing
 * `node:http`/`node:https` server's `upgrade` event.
 *
 * @example
 * ```ts
 * import { attach } from "./node.ts";
 * import { createServer } from "node:http";
 *
 * const http = createServer((_req, res) => res.end("plain HTTP here"));
 * attach(http, {
 *   onConnection(socket) {
 *     socket.onmessage = (e) => socket.send(e.data);
 *   },
 * });
 * http.listen(8080);
 * ```
 *
 * @module
 */

import type * as net from "node:net";
import type { IncomingMessage, Server as HttpServer } from "node:http";
import type { Duplex } from "node:stream";
import type { HttpRequestHead } from "./core/http.ts";
import { HeaderMap } from "./core/http.ts";
import { requestTargetPath } from "./core/handshake.ts";
import { nodeRuntime, NodeTransport } from "./adapters/node.ts";
import { type ServeOptions, WebSocketServer } from "./socket/server.ts";

export * from "./adapters/node.ts";

/** Converts Node's parsed request into the core's request head. */
function toRequestHead(req: IncomingMessage): HttpRequestHead {
  const raw = req.rawHeaders;
  const pairs: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]]);
  const headers = new HeaderMap(pairs);
  return {
    method: req.method ?? "GET",
    target: req.url ?? "/",
    version: req.httpVersion,
    headers,
  };
}

/**
 * Serves WebSockets on an existing `node:http` or `node:https` server, so
 * they share its port with an HTTP application. Upgrade requests whose path
 * does not match `options.path` (when given) are left to other `upgrade`
 * listeners if `http` has any; else they get 404 (an unanswered upgrade
 * would hold its socket forever). `maxConnections` and `close()` apply.
 * Returns the server object (its `close()` closes the sockets, not `http`).
 */
export function attach(
  http: HttpServer,
  options: ServeOptions,
): WebSocketServer {
  const server = new WebSocketServer(nodeRuntime, options);
  http.on(
    "upgrade",
    (req: IncomingMessage, socket: Duplex, head: Uint8Array) => {
      // The handshake's own path (also for an absolute-form target); a
      // target it rejects goes to the handshake, which answers 400.
      const path = requestTargetPath(req.url ?? "/") ?? options.path;
      if (
        options.path !== undefined && path !== options.path &&
        http.listenerCount("upgrade") > 1
      ) {
        return; // another listener may serve it
      }
      server.handleParsed(
        new NodeTransport(socket as net.Socket),
        toRequestHead(req),
        head,
      );
    },
  );
  return server;
}
