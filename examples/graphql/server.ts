/**
 * A GraphQL subscription server (`graphql-transport-ws`) on wskit that runs
 * unchanged on Node.js, Deno and Bun:
 *
 *   node --import tsx examples/graphql/server.ts
 *   deno run -A examples/graphql/server.ts
 *   bun run examples/graphql/server.ts
 *
 * Listens on 127.0.0.1:$PORT (default 8080) at `/graphql`. Clients
 * authenticate in `connection_init` with the payload
 * `{ "token": $GRAPHQL_TOKEN }` (default "let-me-in", user "demo"); a bad
 * token is closed with 4403, silence for $GRAPHQL_INIT_TIMEOUT ms (default
 * 3000) with 4408. Try it with the `graphql-ws` client:
 *
 * ```ts
 * import { createClient } from "graphql-ws";
 * import { WebSocket } from "wskit";
 *
 * const client = createClient({
 *   url: "ws://127.0.0.1:8080/graphql",
 *   webSocketImpl: WebSocket,
 *   connectionParams: { token: "let-me-in" },
 * });
 * for await (const result of client.iterate({ query: "subscription { countdown(from: 3) }" })) {
 *   console.log(result.data); // { countdown: 3 }, { countdown: 2 }, …
 * }
 * ```
 *
 * @module
 */

import { env } from "../env.ts";
import { startGraphqlServer } from "./app.ts";

const token = env("GRAPHQL_TOKEN") ?? "let-me-in";
const app = await startGraphqlServer({
  port: Number(env("PORT") ?? 8080),
  tokens: { [token]: "demo" },
  connectionInitWaitTimeout: Number(env("GRAPHQL_INIT_TIMEOUT") ?? 3000),
});

console.log(`GraphQL (graphql-transport-ws) listening on ${app.url}`);
