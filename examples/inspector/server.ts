/**
 * The WebSocket inspector: one port serves a web page over plain HTTP and
 * accepts WebSockets on `/ws`. It runs unchanged on Node.js, Deno and Bun:
 *
 *   node --import tsx examples/inspector/server.ts
 *   deno run -A examples/inspector/server.ts
 *   bun run examples/inspector/server.ts
 *
 * Open the printed URL (http://127.0.0.1:8765/, or $PORT) in a browser. The
 * page connects its own (the browser's) WebSocket to a URL you choose —
 * this server's echo endpoint by default — offering the subprotocols you
 * list; you send text or binary messages and see a log of every message
 * (direction, type, size, content), errors, and the close code with its
 * name; the footer shows the state and the negotiated subprotocol.
 *
 * One port for both: a `node:http` server (Node, Deno and Bun all provide
 * `node:http`) answers the page, and `attach()` from `node.ts`
 * takes its upgrade requests for `/ws`, where this kit's server echoes every
 * message (text stays text, binary stays binary), picks the first offered
 * subprotocol it speaks, and answers a close with the same code and reason.
 *
 * @module
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { attach } from "../../node.ts";
import { CloseCode } from "../../core/close.ts";
import { env } from "../env.ts";

const SUPPORTED = [
  "chat",
  "graphql-transport-ws",
  "graphql-ws",
  "mqtt",
  "v12.stomp",
];

// The page, with the close code names filled in from core/close.ts.
const here = dirname(fileURLToPath(import.meta.url));
const page = readFileSync(join(here, "index.html"), "utf8").replace(
  /\/\*CLOSE_CODES\*\/\s*\{\}/,
  JSON.stringify(
    Object.fromEntries(
      Object.entries(CloseCode).map(([name, code]) => [code, name]),
    ),
  ),
);

const http = createServer((request, response) => {
  const path = (request.url ?? "/").split("?")[0];
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD" }).end();
  } else if (path === "/" || path === "/index.html") {
    response.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
    }).end(request.method === "HEAD" ? undefined : page);
  } else {
    response.writeHead(404, { "content-type": "text/plain" }).end(
      "not found: the page is at / and the WebSocket echo at /ws\n",
    );
  }
});

attach(http, {
  path: "/ws",
  protocols: (offered) => offered.find((p) => SUPPORTED.includes(p)) ?? "",
  onConnection(socket) {
    socket.binaryType = "uint8array";
    socket.onmessage = (event) => socket.send(event.data);
  },
});

await new Promise<void>((resolve) =>
  http.listen(Number(env("PORT") ?? 8765), "127.0.0.1", resolve)
);
const { port } = http.address() as AddressInfo;
console.log(
  `inspector: open http://127.0.0.1:${port}/ in a browser ` +
    `(WebSocket echo on ws://127.0.0.1:${port}/ws)`,
);
