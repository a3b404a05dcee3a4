/**
 * A minimal STOMP 1.2 broker on wskit that runs unchanged on Node.js, Deno
 * and Bun:
 *
 *   node --import tsx examples/stomp/server.ts
 *   deno run -A examples/stomp/server.ts
 *   bun run examples/stomp/server.ts
 *
 * Listens on 127.0.0.1:$PORT (default 8080) at `/stomp`, offering the
 * subprotocols `v12.stomp`, `v11.stomp` and `v10.stomp` (preferring 1.2).
 * $STOMP_HEARTBEAT sets the broker's heart-beat `sx,sy` in ms (default
 * `10000,10000`). Try it with `@stomp/stompjs`:
 *
 * ```ts
 * import { Client } from "@stomp/stompjs";
 * import { WebSocket } from "wskit";
 *
 * const client = new Client({
 *   webSocketFactory: () =>
 *     new WebSocket("ws://127.0.0.1:8080/stomp", ["v12.stomp", "v11.stomp", "v10.stomp"]),
 *   onConnect() {
 *     client.subscribe("/topic/news", (message) => console.log(message.body));
 *     client.publish({ destination: "/topic/news", body: "hello" });
 *   },
 * });
 * client.activate();
 * ```
 *
 * @module
 */

import { serve } from "../../mod.ts";
import { env } from "../env.ts";
import { STOMP_SUBPROTOCOLS, StompBroker } from "./broker.ts";

const [sx, sy] = (env("STOMP_HEARTBEAT") ?? "10000,10000").split(",").map(
  Number,
);
const broker = new StompBroker({ heartBeat: [sx, sy] });
const server = await serve({
  hostname: "127.0.0.1",
  port: Number(env("PORT") ?? 8080),
  path: "/stomp",
  protocols: STOMP_SUBPROTOCOLS, // server preference: 1.2 first
  onConnection: (socket) => broker.handle(socket),
});

console.log(`STOMP broker listening on ws://127.0.0.1:${server.port}/stomp`);
