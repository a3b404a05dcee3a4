/**
 * The server's opening handshake: parsing a browser-sized upgrade request
 * with wskit's `HttpHeadParser` (then `validateUpgradeRequest`), the whole
 * server handshake in the core (`Connection.server().receive()` → `accept()`
 * → `takeOutput()`, which includes SHA-1 and base64 in TypeScript), and the
 * `Sec-WebSocket-Accept` computation alone.
 *
 * `ws` has no parser of its own: it sits behind `node:http`, whose parser
 * is llhttp (C, compiled to native code in Node and Bun; Deno's `node:http`
 * exposes the same binding). Its raw `HTTPParser` from `_http_common`,
 * which only finds the head and hands back the header list, is the
 * comparison here, with `node:crypto`'s SHA-1 for the accept value (what ws
 * calls). Neither builds a Node `IncomingMessage`, which `ws` also pays for.
 *
 *     node --import tsx bench/handshake.bench.ts
 *     deno run -A bench/handshake.bench.ts
 *     bun run bench/handshake.bench.ts
 *
 * Flags: `--quick`, `--filter TEXT`, `--rounds N`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { Connection } from "../core/connection.ts";
import { computeAccept, validateUpgradeRequest } from "../core/handshake.ts";
import { HttpHeadParser } from "../core/http.ts";
import { formatNs, ratio, runtimeLabel, Suite } from "./common.ts";

const REQUEST = [
  "GET /chat?room=42 HTTP/1.1",
  "Host: example.com:8080",
  "Connection: Upgrade",
  "Pragma: no-cache",
  "Cache-Control: no-cache",
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  "Upgrade: websocket",
  "Origin: https://example.com",
  "Sec-WebSocket-Version: 13",
  "Accept-Encoding: gzip, deflate, br, zstd",
  "Accept-Language: en-US,en;q=0.9",
  "Cookie: session=0123456789abcdef; theme=dark",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Protocol: chat, superchat",
  "",
  "",
].join("\r\n");
const bytes = new TextEncoder().encode(REQUEST);
const buffer = Buffer.from(bytes);
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const N = 100;

const suite = new Suite();
let sink = 0;

suite.add("parse | wskit HttpHeadParser", N, () => {
  for (let i = 0; i < N; i++) {
    const result = HttpHeadParser.request().push(bytes);
    if (result.done) sink += result.head.headers.size;
  }
});
suite.add("parse+validate | wskit", N, () => {
  for (let i = 0; i < N; i++) {
    const result = HttpHeadParser.request().push(bytes);
    if (result.done) sink += validateUpgradeRequest(result.head).key.length;
  }
});
suite.add("whole handshake | wskit Connection", N, () => {
  for (let i = 0; i < N; i++) {
    const conn = Connection.server();
    conn.receive(bytes);
    conn.accept({ protocol: "chat" });
    sink += conn.takeOutput().length;
  }
});
suite.add("accept key | wskit computeAccept", N, () => {
  for (let i = 0; i < N; i++) sink += computeAccept(KEY).length;
});
suite.add("accept key | node:crypto sha1", N, () => {
  for (let i = 0; i < N; i++) {
    sink += createHash("sha1").update(KEY + GUID).digest("base64").length;
  }
});

// llhttp through Node's internal binding, as `node:http` uses it.
type Parser = {
  initialize(type: number, resource: object): void;
  execute(data: Uint8Array): number;
  [key: number]: unknown;
};
let llhttp:
  | { new (): Parser; REQUEST: number; [key: string]: unknown }
  | undefined;
try {
  llhttp = createRequire(import.meta.url)("_http_common").HTTPParser;
} catch {
  // not available on this runtime
}
if (llhttp !== undefined) {
  const P = llhttp;
  suite.add("parse | llhttp (node:http)", N, () => {
    for (let i = 0; i < N; i++) {
      const parser = new P();
      parser.initialize(P.REQUEST, {});
      parser[P.kOnHeadersComplete as number] = (
        _major: number,
        _minor: number,
        headers: string[],
      ) => {
        sink += headers.length;
      };
      parser[P.kOnMessageComplete as number] = () => {};
      parser[P.kOnExecute as number] = () => {};
      parser.execute(buffer);
    }
  });
}

const results = await suite.run();
console.log(
  `handshake — ${runtimeLabel}; ${bytes.length}-byte request with 14 headers; ns per request, median`,
);
const row = (task: string, name: string, than?: string) => ({
  task,
  implementation: name,
  time: formatNs(results.get(`${task} | ${name}`)),
  "vs llhttp/node:crypto": than === undefined
    ? ""
    : ratio(results.get(than), results.get(`${task} | ${name}`)),
});
console.table([
  row("parse", "wskit HttpHeadParser", "parse | llhttp (node:http)"),
  row("parse", "llhttp (node:http)"),
  row("parse+validate", "wskit"),
  row("whole handshake", "wskit Connection"),
  row("accept key", "wskit computeAccept", "accept key | node:crypto sha1"),
  row("accept key", "node:crypto sha1"),
]);
if (sink < 0) console.log(sink);
