/**
 * The echo server for `bench/load/bombs.mjs`: wskit with permessage-deflate,
 * echoing every message. Listens on 127.0.0.1:$PORT (0: any free port) and
 * prints `READY <port>`. `WSKIT_SYNC_INFLATE=1` inflates every message on the
 * event loop (`maxSyncInflate: Infinity`), as before large messages were
 * inflated off it. `WSKIT_ACK=1` answers each message with the text "ok"
 * instead of echoing it (so no large message is compressed). Runs unchanged
 * on Node (with tsx), Deno and Bun.
 *
 * @module
 */

import { currentRuntime } from "../../adapters/runtime.ts";
import { WebSocketServer } from "../../socket/server.ts";
import { env } from "../../examples/env.ts";

const sync = env("WSKIT_SYNC_INFLATE") === "1";
const ack = env("WSKIT_ACK") === "1";

const server = await new WebSocketServer(currentRuntime(), {
  hostname: "127.0.0.1",
  port: Number(env("PORT") ?? 0),
  perMessageDeflate: sync ? { maxSyncInflate: Infinity } : true,
  onMessage: (socket, data) => socket.send(ack ? "ok" : data),
}).listen();

console.log(`READY ${server.port}`);
