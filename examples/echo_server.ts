/**
 * An echo server that runs unchanged on Node.js, Deno and Bun:
 *
 *   node --import tsx examples/echo_server.ts
 *   deno run -A examples/echo_server.ts
 *   bun run examples/echo_server.ts
 *
 * Listens on 127.0.0.1:$PORT (default 8080), echoes every message (text
 * stays text, binary stays binary), selects the first subprotocol the client
 * offers among those it speaks, and answers a close with the same code and
 * reason (the core echoes every close it receives).
 *
 * @module
 */

import { serve } from "../mod.ts";
import { env } from "./env.ts";

const SUPPORTED = [
  "chat",
  "graphql-transport-ws",
  "graphql-ws",
  "mqtt",
  "v12.stomp",
];

const server = await serve({
  hostname: "127.0.0.1",
  port: Number(env("PORT") ?? 8080),
  // The first protocol the client offers that this server speaks.
  protocols: (offered) => offered.find((p) => SUPPORTED.includes(p)) ?? "",
  onConnection(socket) {
    socket.binaryType = "uint8array";
    socket.onmessage = (event) => socket.send(event.data);
  },
});

console.log(`echo server listening on ws://127.0.0.1:${server.port}`);
