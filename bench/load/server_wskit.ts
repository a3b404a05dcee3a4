/**
 * The wskit echo server for the load benchmark; the same file runs on Node,
 * Deno and Bun (`bench/load/run.mjs` bundles it with esbuild for Node, so
 * that no TypeScript loader sits in the measured process). Listens on
 * 127.0.0.1:$PORT (0: any free port), prints `READY <port>`, echoes every
 * message (text as text, binary as binary).
 *
 * @module
 */

import { currentRuntime } from "../../adapters/runtime.ts";
import { WebSocketServer } from "../../adapters/server.ts";
import { env } from "../../examples/env.ts";

const server = await new WebSocketServer(currentRuntime(), {
  hostname: "127.0.0.1",
  port: Number(env("PORT") ?? 0),
  onConnection(socket) {
    socket.binaryType = "uint8array";
    socket.onmessage = (event) => socket.send(event.data);
  },
}).listen();

console.log(`READY ${server.port}`);
