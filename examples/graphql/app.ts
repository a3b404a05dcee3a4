/**
 * GraphQL subscriptions over wskit, speaking `graphql-transport-ws` — the
 * protocol of the `graphql-ws` package — with that package's
 * transport-agnostic server core (`makeServer`) and `graphql` for
 * execution. wskit only carries the messages: this file is the glue
 * between a wskit server socket and `makeServer`'s socket interface.
 *
 * Authentication follows the "authenticate with the first message" pattern:
 * the client sends its token in `connection_init`'s payload
 * (`{ token }`); `onConnect` checks it and answers `false` for a bad one,
 * which `makeServer` turns into close code 4403 (Forbidden). A client that
 * opens the socket but sends no `connection_init` within
 * `connectionInitWaitTimeout` is closed with 4408. A client that does not
 * offer the `graphql-transport-ws` subprotocol is refused at the handshake
 * with HTTP 400 (`requireProtocol`).
 *
 * @module
 */

import {
  type Context,
  GRAPHQL_TRANSPORT_WS_PROTOCOL,
  makeServer,
} from "graphql-ws";
import { serve, type WebSocket, type WebSocketServer } from "../../mod.ts";
import type { UpgradeRequest } from "../../mod.ts";
import { type ChatContext, type Message, PubSub, schema } from "./schema.ts";

/** Per-connection facts handed to `makeServer` hooks as `ctx.extra`. */
export interface Extra {
  /** The wskit server socket. */
  socket: WebSocket;
  /** The upgrade request (headers, path, offered protocols). */
  request: UpgradeRequest;
  /** Set by `onConnect` once the token checks out. */
  user?: string;
}

/** Options for {@linkcode startGraphqlServer}. */
export interface GraphqlServerOptions {
  /** Address to bind (default "127.0.0.1"). */
  hostname?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Path of the endpoint (default "/graphql"); others get 404. */
  path?: string;
  /** Accepted `connection_init` tokens, each mapped to a user name. */
  tokens: Readonly<Record<string, string>>;
  /** Milliseconds to wait for `connection_init` before closing with 4408 (default 3000). */
  connectionInitWaitTimeout?: number;
}

/** A running GraphQL server. */
export interface GraphqlServer {
  /** The wskit server underneath. */
  server: WebSocketServer;
  /** The `ws://` URL of the endpoint. */
  url: string;
  /** The hub `post` publishes to; tests may publish directly. */
  pubsub: PubSub<Message>;
  /** Stops the server, closing every connection. */
  close(): Promise<void>;
}

/** Starts the GraphQL subscription server; see the module doc. */
export async function startGraphqlServer(
  options: GraphqlServerOptions,
): Promise<GraphqlServer> {
  const pubsub = new PubSub<Message>();
  const path = options.path ?? "/graphql";
  const graphql = makeServer<Record<string, unknown> | undefined, Extra>({
    schema,
    connectionInitWaitTimeout: options.connectionInitWaitTimeout ?? 3000,
    onConnect(ctx: Context<Record<string, unknown> | undefined, Extra>) {
      const token = ctx.connectionParams?.token;
      const user = typeof token === "string"
        ? Object.hasOwn(options.tokens, token)
          ? options.tokens[token]
          : undefined
        : undefined;
      if (user === undefined) return false; // → close 4403 Forbidden
      ctx.extra.user = user;
      return { user }; // the `connection_ack` payload
    },
    context: (ctx): ChatContext => ({ user: ctx.extra.user ?? "", pubsub }),
  });

  const server = await serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    path,
    protocols: [GRAPHQL_TRANSPORT_WS_PROTOCOL],
    requireProtocol: true, // no graphql-transport-ws offered → HTTP 400
    onConnection(socket, request) {
      let deliver: ((data: string) => Promise<void>) | undefined;
      const closed = graphql.opened(
        {
          protocol: socket.protocol,
          send(data) {
            if (socket.readyState !== socket.OPEN) return;
            if (socket.send(data)) return;
            // Backpressure: graphql-ws awaits this before sending more.
            return new Promise<void>((resolve) => {
              socket.addEventListener("drain", () => resolve(), { once: true });
              socket.addEventListener("close", () => resolve(), { once: true });
            });
          },
          close(code, reason) {
            socket.closeWithCode(code ?? 1000, reason);
          },
          onMessage(callback) {
            deliver = callback;
          },
        },
        { socket, request },
      );
      socket.onmessage = async (event) => {
        if (typeof event.data !== "string") {
          // graphql-transport-ws messages are JSON text.
          socket.closeWithCode(4400, "Binary messages are not supported");
          return;
        }
        try {
          // Resolves when the operation is done: for a subscription, when
          // it completes. Messages are handled concurrently.
          await deliver?.(event.data);
        } catch (error) {
          console.error("graphql-ws: message handling failed", error);
          socket.closeWithCode(1011, "Internal server error");
        }
      };
      socket.onclose = (event) => {
        closed(event.code, event.reason).catch((error) =>
          console.error("graphql-ws: cleanup failed", error)
        );
      };
    },
  });

  return {
    server,
    url: `ws://${server.hostname}:${server.port}${path}`,
    pubsub,
    close: () => server.close(),
  };
}
