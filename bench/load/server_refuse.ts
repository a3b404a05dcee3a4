/**
 * The server for `bench/load/refused.mjs`: wskit refusing every handshake
 * with 401 (`authenticate` returns false), at most $MAX_CONNECTIONS (default
 * 100) connections, except for the path `/ok`, which it accepts. Listens on
 * 127.0.0.1:$PORT (0: any free port) and prints `READY <port>`. Runs
 * unchanged on Node (with tsx), Deno and Bun.
 *
 * @module
 */

import { serve } from "../../mod.ts";
import { env } from "../../examples/env.ts";

const server = await serve({
  hostname: "127.0.0.1",
  port: Number(env("PORT") ?? 0),
  maxConnections: Number(env("MAX_CONNECTIONS") ?? 100),
  authenticate: (request) => request.path === "/ok",
});

console.log(`READY ${server.port}`);
