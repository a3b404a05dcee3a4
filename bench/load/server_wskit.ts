/**
 * The wskit echo server for the load benchmark; the same file runs on Node,
 * Deno and Bun (`bench/load/run.mjs` bundles it with esbuild for Node, so
 * that no TypeScript loader sits in the measured process). Listens on
 * 127.0.0.1:$PORT (0: any free port), prints `READY <port>`, echoes every
 * message (text as text, binary as binary), through `message` events or,
 * with `WSKIT_API=callback`, the `onMessage` callback.
 *
 * @module
 */

import { currentRuntime } from "../../adapters/runtime.ts";
import { WebSocketServer } from "../../socket/server.ts";
import { env } from "../../examples/env.ts";

// WSKIT_API=callback: the `onMessage` callback instead of `message` events.
const callback = env("WSKIT_API") === "callback";

const server = await new WebSocketServer(currentRuntime(), {
  hostname: "127.0.0.1",
  port: Number(env("PORT") ?? 0),
  onConnection: callback ? undefined : (socket) => {
    socket.binaryType = "uint8array";
    socket.onmessage = (event) => socket.send(event.data);
  },
  onMessage: callback ? (socket, data) => socket.send(data) : undefined,
}).listen();

console.log(`READY ${server.port}`);
