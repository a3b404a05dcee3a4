import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalError } from "../core/errors.ts";
import { createHash } from "node:crypto";
import fc from "fast-check";
import {
  buildAcceptResponse,
  buildClientRequest,
  buildRejectResponse,
  type ClientRequest,
  computeAccept,
  generateKey,
  HandshakeError,
  parseProtocolList,
  type UpgradeRequest,
  validateServerResponse,
  validateUpgradeRequest,
  WEBSOCKET_GUID,
} from "../core/handshake.ts";
import {
  HeaderMap,
  HttpHeadParser,
  type HttpRequestHead,
  type HttpResponseHead,
} from "../core/http.ts";
import { decodeBase64 } from "../core/base64.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const latin1 = (b: Uint8Array): string =>
  Array.from(b, (c) => String.fromCharCode(c)).join("");
const bytes = (s: string): Uint8Array =>
  Uint8Array.from(s, (c) => c.charCodeAt(0));

function parseRequestBytes(b: Uint8Array): HttpRequestHead {
  const result = HttpHeadParser.request().push(b);
  assert.ok(result.done);
  assert.equal(result.rest.length, 0);
  return result.head;
}

function parseResponseBytes(
  b: Uint8Array,
): { head: HttpResponseHead; body: string } {
  const result = HttpHeadParser.response().push(b);
  assert.ok(result.done);
  return { head: result.head, body: new TextDecoder().decode(result.rest) };
}

function requestHead(
  fields: [string, string][],
  method = "GET",
  target = "/chat",
  version = "1.1",
): HttpRequestHead {
  return { method, target, version, headers: new HeaderMap(fields) };
}

const GOOD_FIELDS: [string, string][] = [
  ["Host", "server.example.com"],
  ["Upgrade", "websocket"],
  ["Connection", "Upgrade"],
  ["Sec-WebSocket-Key", KEY],
  ["Sec-WebSocket-Version", "13"],
];

/** GOOD_FIELDS with `name` replaced by `value` (or removed when undefined), plus `extra`. */
function fieldsWith(
  name: string,
  value: string | undefined,
  ...extra: [string, string][]
): [string, string][] {
  const out = GOOD_FIELDS.filter(([n]) =>
    n.toLowerCase() !== name.toLowerCase()
  );
  if (value !== undefined) out.push([name, value]);
  return [...out, ...extra];
}

function rejects(head: HttpRequestHead, status: number, message: string): void {
  assert.throws(() => validateUpgradeRequest(head), (error) => {
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.message, message);
    assert.equal(error.status, status);
    return true;
  });
}

function clientRequest(
  options: Parameters<typeof buildClientRequest>[1] = {},
): ClientRequest {
  return buildClientRequest("ws://server.example.com/chat", {
    key: KEY,
    ...options,
  });
}

function responseHead(
  fields: [string, string][],
  status = 101,
  statusText = "Switching Protocols",
): HttpResponseHead {
  return { version: "1.1", status, statusText, headers: new HeaderMap(fields) };
}

const GOOD_RESPONSE: [string, string][] = [
  ["Upgrade", "websocket"],
  ["Connection", "Upgrade"],
  ["Sec-WebSocket-Accept", ACCEPT],
];

function responseFails(
  head: HttpResponseHead,
  request: ClientRequest,
  message: string,
): void {
  assert.throws(() => validateServerResponse(head, request), (error) => {
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.message, message);
    assert.equal(error.status, undefined);
    return true;
  });
}

/** A local misuse: `fn` throws a `LocalError` (not a `HandshakeError`). */
function clientFails(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (error) => {
    assert.ok(
      error instanceof LocalError && !(error instanceof HandshakeError),
      `expected LocalError, got ${error}`,
    );
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

// --- accept key -----------------------------------------------------------

test("handshake: computeAccept matches the RFC 6455 example", () => {
  assert.equal(computeAccept(KEY), ACCEPT);
});

test("handshake: WEBSOCKET_GUID is the RFC 6455 GUID", () => {
  assert.equal(WEBSOCKET_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
});

test("handshake: computeAccept matches node:crypto for random keys (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (raw) => {
      const key = btoa(String.fromCharCode(...raw));
      const expected = createHash("sha1").update(key + WEBSOCKET_GUID).digest(
        "base64",
      );
      assert.equal(computeAccept(key), expected);
    }),
    { numRuns: 300 },
  );
});

test("handshake: generateKey gives base64 of 16 random bytes", () => {
  const a = generateKey();
  const b = generateKey();
  assert.equal(a.length, 24);
  assert.equal(decodeBase64(a)?.length, 16);
  assert.notEqual(a, b);
});

test("handshake: HandshakeError has a name and an optional status", () => {
  const plain = new HandshakeError("x");
  assert.ok(plain instanceof Error);
  assert.equal(plain.name, "HandshakeError");
  assert.equal(plain.status, undefined);
  assert.equal(new HandshakeError("y", 426).status, 426);
});

// --- parseProtocolList --------------------------------------------------------

test("handshake: parseProtocolList trims OWS and drops empty items", () => {
  assert.deepEqual(parseProtocolList(undefined), []);
  assert.deepEqual(parseProtocolList(""), []);
  assert.deepEqual(parseProtocolList(" , ,\t,"), []);
  assert.deepEqual(parseProtocolList("chat"), ["chat"]);
  assert.deepEqual(parseProtocolList(" chat ,\tmqtt\t,,v12.stomp , "), [
    "chat",
    "mqtt",
    "v12.stomp",
  ]);
  assert.deepEqual(parseProtocolList("a b, c"), ["a b", "c"]);
});

// --- buildClientRequest ------------------------------------------------------------

test("handshake: buildClientRequest serializes the exact request", () => {
  const req = buildClientRequest("ws://server.example.com/chat?x=1", {
    key: KEY,
    protocols: ["chat", "graphql-ws"],
    extensions: "permessage-deflate; client_max_window_bits",
    origin: "http://example.com",
    headers: { Authorization: "Bearer t", "X-Trace": "1" },
  });
  assert.equal(
    latin1(req.bytes),
    "GET /chat?x=1 HTTP/1.1\r\n" +
      "Host: server.example.com\r\n" +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${KEY}\r\n` +
      "Sec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Protocol: chat, graphql-ws\r\n" +
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
      "Origin: http://example.com\r\n" +
      "Authorization: Bearer t\r\n" +
      "X-Trace: 1\r\n" +
      "\r\n",
  );
  assert.equal(req.key, KEY);
  assert.deepEqual(req.protocols, ["chat", "graphql-ws"]);
  assert.equal(req.extensions, "permessage-deflate; client_max_window_bits");
  assert.equal(req.url.href, "ws://server.example.com/chat?x=1");
});

test("handshake: buildClientRequest output parses and passes validateUpgradeRequest", () => {
  const req = buildClientRequest("wss://example.com:8443/a/b?c=d", {
    protocols: "mqtt",
    origin: "https://o",
  });
  const upgrade = validateUpgradeRequest(parseRequestBytes(req.bytes));
  assert.equal(upgrade.key, req.key);
  assert.equal(upgrade.host, "example.com:8443");
  assert.equal(upgrade.path, "/a/b");
  assert.equal(upgrade.target, "/a/b?c=d");
  assert.deepEqual(upgrade.protocols, ["mqtt"]);
  assert.equal(upgrade.origin, "https://o");
});

test("handshake: buildClientRequest minimal request has no optional headers", () => {
  const req = buildClientRequest("ws://h", { key: KEY });
  assert.equal(
    latin1(req.bytes),
    `GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  assert.deepEqual(req.protocols, []);
  assert.equal(req.extensions, undefined);
  assert.equal(decodeBase64(buildClientRequest("ws://h").key)?.length, 16);
});

test("handshake: buildClientRequest maps http: to ws: and https: to wss:", () => {
  assert.equal(buildClientRequest("http://h/x").url.href, "ws://h/x");
  assert.equal(buildClientRequest("https://h/x").url.href, "wss://h/x");
  assert.equal(
    buildClientRequest(new URL("https://h:444/")).url.href,
    "wss://h:444/",
  );
});

test("handshake: buildClientRequest rejects other schemes", () => {
  clientFails(
    () => buildClientRequest("ftp://h/"),
    "URL scheme must be ws: or wss:, got ftp:",
  );
  clientFails(
    () => buildClientRequest("file:///x"),
    "URL scheme must be ws: or wss:, got file:",
  );
});

test("handshake: buildClientRequest rejects an invalid URL", () => {
  clientFails(() => buildClientRequest("not a url"), "invalid URL: not a url");
  clientFails(() => buildClientRequest("/relative"), "invalid URL: /relative");
});

test("handshake: buildClientRequest rejects a fragment, even an empty one", () => {
  clientFails(
    () => buildClientRequest("ws://h/#frag"),
    "URL must not have a fragment",
  );
  clientFails(
    () => buildClientRequest("ws://h/#"),
    "URL must not have a fragment",
  );
});

test("handshake: buildClientRequest target is path plus query, / when empty", () => {
  const target = (url: string) =>
    latin1(buildClientRequest(url, { key: KEY }).bytes).split("\r\n")[0];
  assert.equal(target("ws://h"), "GET / HTTP/1.1");
  assert.equal(target("ws://h?x=1"), "GET /?x=1 HTTP/1.1");
  assert.equal(target("ws://h/a%20b/c?q=%22"), "GET /a%20b/c?q=%22 HTTP/1.1");
  assert.equal(target("ws://h/a b"), "GET /a%20b HTTP/1.1");
});

test("handshake: Host carries the port only when it is not the default", () => {
  const host = (url: string) =>
    latin1(buildClientRequest(url).bytes).split("\r\n")[1];
  assert.equal(host("ws://h:80/"), "Host: h");
  assert.equal(host("wss://h:443/"), "Host: h");
  assert.equal(host("ws://h:443/"), "Host: h:443");
  assert.equal(host("wss://h:80/"), "Host: h:80");
  assert.equal(host("ws://h:8080/"), "Host: h:8080");
  assert.equal(host("http://h:80/"), "Host: h");
  assert.equal(host("https://h:8443/"), "Host: h:8443");
});

test("handshake: an IPv6 host is bracketed in Host", () => {
  const host = (url: string) =>
    latin1(buildClientRequest(url).bytes).split("\r\n")[1];
  assert.equal(host("ws://[::1]:8080/"), "Host: [::1]:8080");
  assert.equal(host("wss://[2001:db8::1]/"), "Host: [2001:db8::1]");
  const upgrade = validateUpgradeRequest(
    parseRequestBytes(buildClientRequest("ws://[::1]:9000/x").bytes),
  );
  assert.equal(upgrade.host, "[::1]:9000");
});

test("handshake: a single protocol string is offered", () => {
  const req = clientRequest({ protocols: "chat" });
  assert.deepEqual(req.protocols, ["chat"]);
  assert.match(latin1(req.bytes), /\r\nSec-WebSocket-Protocol: chat\r\n/);
  assert.ok(
    !latin1(clientRequest({ protocols: [] }).bytes).includes(
      "Sec-WebSocket-Protocol",
    ),
  );
});

test("handshake: protocols that are not tokens are rejected", () => {
  for (
    const p of ["", "a b", "a,b", "chat\r\nX: y", "caf\u00e9", "{x}", "a/b"]
  ) {
    clientFails(
      () => clientRequest({ protocols: ["ok", p] }),
      `invalid subprotocol ${JSON.stringify(p)}`,
    );
  }
});

test("handshake: duplicate protocols are rejected", () => {
  clientFails(
    () => clientRequest({ protocols: ["chat", "mqtt", "chat"] }),
    'duplicate subprotocol "chat"',
  );
  assert.deepEqual(clientRequest({ protocols: ["chat", "Chat"] }).protocols, [
    "chat",
    "Chat",
  ]);
});

test("handshake: extra headers may be given as pairs", () => {
  const req = clientRequest({
    headers: new Map([["Cookie", "a=1"], ["X-Y", "z"]]),
  });
  const head = parseRequestBytes(req.bytes);
  assert.equal(head.headers.get("cookie"), "a=1");
  assert.equal(head.headers.get("x-y"), "z");
  const arr = clientRequest({
    headers: [["Cookie", "a=1"], ["Cookie", "b=2"]],
  });
  assert.deepEqual(parseRequestBytes(arr.bytes).headers.getAll("cookie"), [
    "a=1",
    "b=2",
  ]);
});

test("handshake: extra headers with CR/LF or invalid characters are rejected", () => {
  clientFails(
    () => clientRequest({ headers: { "X-A": "a\r\nX-Evil: 1" } }),
    'invalid value for header "X-A"',
  );
  clientFails(
    () => clientRequest({ headers: { "X-A": "a\nb" } }),
    'invalid value for header "X-A"',
  );
  clientFails(
    () => clientRequest({ headers: { "X-A": "a\x00b" } }),
    'invalid value for header "X-A"',
  );
  clientFails(
    () => clientRequest({ headers: { "X-A": "\u2603" } }),
    'invalid value for header "X-A"',
  );
  clientFails(
    () => clientRequest({ headers: { "X-A\r\nX-Evil": "1" } }),
    'invalid header name "X-A\\r\\nX-Evil"',
  );
  clientFails(
    () => clientRequest({ headers: { "Bad Name": "1" } }),
    'invalid header name "Bad Name"',
  );
  clientFails(
    () => clientRequest({ headers: { "": "1" } }),
    'invalid header name ""',
  );
});

test("handshake: extra headers cannot override the handshake headers", () => {
  for (
    const name of [
      "Host",
      "upgrade",
      "CONNECTION",
      "Sec-WebSocket-Key",
      "sec-websocket-version",
      "Sec-WebSocket-Protocol",
      "Sec-WebSocket-Extensions",
      "Origin",
      "Content-Length",
      "Transfer-Encoding",
    ]
  ) {
    clientFails(
      () => clientRequest({ headers: [[name, "x"]] }),
      `header "${name}" is set by the handshake and cannot be given`,
    );
  }
});

test("handshake: Origin and extensions options with CR/LF are rejected", () => {
  clientFails(
    () => clientRequest({ origin: "http://a\r\nX: y" }),
    "invalid Origin value",
  );
  clientFails(
    () => clientRequest({ extensions: "x\ny" }),
    "invalid Sec-WebSocket-Extensions value",
  );
});

test("handshake: an invalid fixed key is rejected", () => {
  for (
    const key of [
      "",
      "abc",
      "AAAAAAAAAAAAAAAAAAAAAA",
      "AAAAAAAAAAAAAAAAAAAAAAAA",
      "AAAAAAAAAAAAAAAAAAAAAA==".slice(0, 23) + "\n",
    ]
  ) {
    clientFails(
      () => buildClientRequest("ws://h", { key }),
      "key must be base64 of 16 bytes",
    );
  }
});

// --- validateServerResponse ----------------------------------------------------------

test("handshake: a valid 101 response is accepted", () => {
  assert.deepEqual(
    validateServerResponse(responseHead(GOOD_RESPONSE), clientRequest()),
    {
      protocol: "",
      extensions: "",
    },
  );
});

test("handshake: the response may select one offered protocol and extensions", () => {
  const req = clientRequest({
    protocols: ["chat", "mqtt"],
    extensions: "permessage-deflate",
  });
  const head = responseHead([
    ...GOOD_RESPONSE,
    ["Sec-WebSocket-Protocol", "mqtt"],
    ["Sec-WebSocket-Extensions", "permessage-deflate"],
  ]);
  assert.deepEqual(validateServerResponse(head, req), {
    protocol: "mqtt",
    extensions: "permessage-deflate",
  });
});

test("handshake: response Upgrade and Connection match case-insensitively, Connection as a list", () => {
  const head = responseHead([
    ["UPGRADE", "WebSocket"],
    ["connection", "keep-alive, UPGRADE"],
    ["sec-websocket-accept", ACCEPT],
  ]);
  assert.deepEqual(validateServerResponse(head, clientRequest()), {
    protocol: "",
    extensions: "",
  });
});

test("handshake: a non-101 status is rejected, naming the status", () => {
  responseFails(
    responseHead(GOOD_RESPONSE, 200, "OK"),
    clientRequest(),
    "unexpected response status 200 OK (expected 101)",
  );
  responseFails(
    responseHead([], 403, ""),
    clientRequest(),
    "unexpected response status 403 (expected 101)",
  );
});

test("handshake: a response without Upgrade is rejected", () => {
  responseFails(
    responseHead(GOOD_RESPONSE.slice(1)),
    clientRequest(),
    "missing Upgrade header in response",
  );
});

test("handshake: a response with a wrong Upgrade is rejected", () => {
  const head = responseHead([["Upgrade", "h2c"], ...GOOD_RESPONSE.slice(1)]);
  responseFails(
    head,
    clientRequest(),
    'invalid Upgrade header in response: "h2c"',
  );
  const two = responseHead([
    ["Upgrade", "websocket, h2c"],
    ...GOOD_RESPONSE.slice(1),
  ]);
  responseFails(
    two,
    clientRequest(),
    'invalid Upgrade header in response: "websocket, h2c"',
  );
});

test("handshake: a response without the Connection upgrade option is rejected", () => {
  const message = 'Connection header in response lacks the "upgrade" option';
  responseFails(
    responseHead([GOOD_RESPONSE[0], GOOD_RESPONSE[2]]),
    clientRequest(),
    message,
  );
  responseFails(
    responseHead([
      GOOD_RESPONSE[0],
      ["Connection", "keep-alive, upgrades"],
      GOOD_RESPONSE[2],
    ]),
    clientRequest(),
    message,
  );
});

test("handshake: a response without Sec-WebSocket-Accept is rejected", () => {
  responseFails(
    responseHead(GOOD_RESPONSE.slice(0, 2)),
    clientRequest(),
    "missing Sec-WebSocket-Accept header",
  );
});

test("handshake: a response with a wrong Sec-WebSocket-Accept is rejected", () => {
  const message = "Sec-WebSocket-Accept does not match the key";
  const wrong = responseHead([...GOOD_RESPONSE.slice(0, 2), [
    "Sec-WebSocket-Accept",
    ACCEPT.toLowerCase(),
  ]]);
  responseFails(wrong, clientRequest(), message);
  responseFails(
    responseHead(GOOD_RESPONSE),
    buildClientRequest("ws://h"),
    message,
  );
  const twice = responseHead([...GOOD_RESPONSE, [
    "Sec-WebSocket-Accept",
    ACCEPT,
  ]]);
  responseFails(twice, clientRequest(), message);
});

test("handshake: a response protocol when none was offered is rejected", () => {
  const head = responseHead([...GOOD_RESPONSE, [
    "Sec-WebSocket-Protocol",
    "chat",
  ]]);
  responseFails(
    head,
    clientRequest(),
    'server selected subprotocol "chat" but none was offered',
  );
  const empty = responseHead([...GOOD_RESPONSE, [
    "Sec-WebSocket-Protocol",
    "",
  ]]);
  responseFails(
    empty,
    clientRequest(),
    'server selected subprotocol "" but none was offered',
  );
});

test("handshake: a response protocol that was not offered is rejected", () => {
  const req = clientRequest({ protocols: ["chat", "mqtt"] });
  const fail = (value: string) =>
    responseFails(
      responseHead([...GOOD_RESPONSE, ["Sec-WebSocket-Protocol", value]]),
      req,
      `server selected subprotocol ${
        JSON.stringify(value)
      } which was not offered`,
    );
  fail("graphql-ws");
  fail("Chat");
  fail("chat, mqtt");
  fail("");
});

test("handshake: response extensions when none were offered are rejected", () => {
  const head = responseHead([...GOOD_RESPONSE, [
    "Sec-WebSocket-Extensions",
    "permessage-deflate",
  ]]);
  responseFails(
    head,
    clientRequest(),
    "server sent Sec-WebSocket-Extensions but none were offered",
  );
});

test("handshake: every response failure has a distinct message", () => {
  const req = clientRequest();
  const heads = [
    responseHead(GOOD_RESPONSE, 400, "Bad Request"),
    responseHead(GOOD_RESPONSE.slice(1)),
    responseHead([["Upgrade", "x"], ...GOOD_RESPONSE.slice(1)]),
    responseHead([GOOD_RESPONSE[0], GOOD_RESPONSE[2]]),
    responseHead(GOOD_RESPONSE.slice(0, 2)),
    responseHead([...GOOD_RESPONSE.slice(0, 2), ["Sec-WebSocket-Accept", "x"]]),
    responseHead([...GOOD_RESPONSE, ["Sec-WebSocket-Protocol", "p"]]),
    responseHead([...GOOD_RESPONSE, ["Sec-WebSocket-Extensions", "e"]]),
  ];
  const messages = new Set<string>();
  for (const head of heads) {
    try {
      validateServerResponse(head, req);
      assert.fail("expected a failure");
    } catch (error) {
      assert.ok(error instanceof HandshakeError);
      messages.add(error.message);
    }
  }
  messages.add(
    (() => {
      try {
        validateServerResponse(
          responseHead([...GOOD_RESPONSE, ["Sec-WebSocket-Protocol", "p"]]),
          clientRequest({ protocols: "q" }),
        );
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    })(),
  );
  assert.equal(messages.size, heads.length + 1);
});

// --- validateUpgradeRequest ---------------------------------------------------------

test("handshake: a valid upgrade request is accepted with all its parts", () => {
  const head = requestHead(
    fieldsWith(
      "Sec-WebSocket-Version",
      "13",
      ["Sec-WebSocket-Protocol", "chat, superchat"],
      ["Sec-WebSocket-Protocol", "mqtt"],
      ["Sec-WebSocket-Extensions", "permessage-deflate"],
      ["Origin", "http://example.com"],
    ),
    "GET",
    "/chat?room=1",
  );
  const upgrade = validateUpgradeRequest(head);
  const expected: UpgradeRequest = {
    method: "GET",
    target: "/chat?room=1",
    path: "/chat",
    headers: head.headers,
    key: KEY,
    version: "13",
    protocols: ["chat", "superchat", "mqtt"],
    extensions: "permessage-deflate",
    origin: "http://example.com",
    host: "server.example.com",
  };
  assert.deepEqual(upgrade, expected);
  assert.equal(upgrade.headers, head.headers);
});

test("handshake: a minimal upgrade request has no protocols, extensions or origin", () => {
  const upgrade = validateUpgradeRequest(requestHead(GOOD_FIELDS, "GET", "/"));
  assert.deepEqual(upgrade.protocols, []);
  assert.equal(upgrade.extensions, undefined);
  assert.equal(upgrade.origin, undefined);
  assert.equal(upgrade.path, "/");
});

test("handshake: Upgrade and Connection are matched as case-insensitive token lists", () => {
  const head = requestHead([
    ["host", "h"],
    ["upgrade", "h2c, WebSocket"],
    ["connection", "keep-alive, Upgrade"],
    ["sec-websocket-key", KEY],
    ["sec-websocket-version", "13"],
  ]);
  assert.equal(validateUpgradeRequest(head).key, KEY);
});

test("handshake: absolute-form targets give the path", () => {
  const path = (target: string) =>
    validateUpgradeRequest(requestHead(GOOD_FIELDS, "GET", target)).path;
  assert.equal(path("http://h/a/b?x"), "/a/b");
  assert.equal(path("ws://h:80"), "/");
  assert.equal(path("ws://h?x"), "/");
});

test("handshake: a method other than GET is rejected with 405", () => {
  rejects(
    requestHead(GOOD_FIELDS, "POST"),
    405,
    "method POST not allowed (expected GET)",
  );
  rejects(
    requestHead(GOOD_FIELDS, "get"),
    405,
    "method get not allowed (expected GET)",
  );
});

test("handshake: HTTP versions below 1.1 are rejected with 400", () => {
  rejects(
    requestHead(GOOD_FIELDS, "GET", "/", "1.0"),
    400,
    "HTTP/1.0 cannot upgrade (need HTTP/1.1)",
  );
  rejects(
    requestHead(GOOD_FIELDS, "GET", "/", "0.9"),
    400,
    "HTTP/0.9 cannot upgrade (need HTTP/1.1)",
  );
  rejects(
    requestHead(GOOD_FIELDS, "GET", "/", "2.0"),
    400,
    "HTTP/2.0 cannot upgrade (need HTTP/1.1)",
  );
  assert.equal(
    validateUpgradeRequest(requestHead(GOOD_FIELDS, "GET", "/", "1.2")).key,
    KEY,
  );
});

test("handshake: a request target that is not origin- or absolute-form is rejected with 400", () => {
  rejects(requestHead(GOOD_FIELDS, "GET", "*"), 400, "invalid request target");
  rejects(
    requestHead(GOOD_FIELDS, "GET", "h:80"),
    400,
    "invalid request target",
  );
});

test("handshake: a missing Host is rejected with 400", () => {
  rejects(
    requestHead(fieldsWith("Host", undefined)),
    400,
    "missing Host header",
  );
});

test("handshake: a duplicate Host is rejected with 400", () => {
  rejects(
    requestHead(fieldsWith("Host", "a", ["Host", "b"])),
    400,
    "duplicate Host header",
  );
});

test("handshake: an empty Host is rejected with 400", () => {
  rejects(requestHead(fieldsWith("Host", "")), 400, "empty Host header");
});

test("handshake: a request announcing a body is rejected with 400", () => {
  const message = "upgrade request must not have a body";
  rejects(requestHead(fieldsWith("Content-Length", "5")), 400, message);
  rejects(
    requestHead(fieldsWith("Transfer-Encoding", "chunked")),
    400,
    message,
  );
  assert.equal(
    validateUpgradeRequest(requestHead(fieldsWith("Content-Length", "0"))).key,
    KEY,
  );
});

test("handshake: a missing Upgrade is rejected with 426", () => {
  rejects(
    requestHead(fieldsWith("Upgrade", undefined)),
    426,
    'Upgrade header does not contain "websocket"',
  );
});

test("handshake: an Upgrade without websocket is rejected with 426", () => {
  rejects(
    requestHead(fieldsWith("Upgrade", "h2c")),
    426,
    'Upgrade header does not contain "websocket"',
  );
  rejects(
    requestHead(fieldsWith("Upgrade", "websocket2")),
    426,
    'Upgrade header does not contain "websocket"',
  );
});

test("handshake: a Connection without upgrade is rejected with 400", () => {
  rejects(
    requestHead(fieldsWith("Connection", "keep-alive")),
    400,
    'Connection header does not contain "upgrade"',
  );
  rejects(
    requestHead(fieldsWith("Connection", undefined)),
    400,
    'Connection header does not contain "upgrade"',
  );
});

test("handshake: a missing Sec-WebSocket-Version is rejected with 426", () => {
  rejects(
    requestHead(fieldsWith("Sec-WebSocket-Version", undefined)),
    426,
    "missing Sec-WebSocket-Version header",
  );
});

test("handshake: a Sec-WebSocket-Version other than 13 is rejected with 426", () => {
  rejects(
    requestHead(fieldsWith("Sec-WebSocket-Version", "8")),
    426,
    'unsupported Sec-WebSocket-Version "8"',
  );
  rejects(
    requestHead(
      fieldsWith("Sec-WebSocket-Version", "13", ["Sec-WebSocket-Version", "8"]),
    ),
    426,
    'unsupported Sec-WebSocket-Version "13, 8"',
  );
});

test("handshake: a missing Sec-WebSocket-Key is rejected with 400", () => {
  rejects(
    requestHead(fieldsWith("Sec-WebSocket-Key", undefined)),
    400,
    "missing Sec-WebSocket-Key header",
  );
});

test("handshake: a duplicate Sec-WebSocket-Key is rejected with 400", () => {
  rejects(
    requestHead(
      fieldsWith("Sec-WebSocket-Key", KEY, ["Sec-WebSocket-Key", KEY]),
    ),
    400,
    "duplicate Sec-WebSocket-Key header",
  );
});

test("handshake: a Sec-WebSocket-Key that is not base64 of 16 bytes is rejected with 400", () => {
  for (
    const key of [
      "",
      "abc",
      "dGhlIHNhbXBsZSBub25jZQ",
      "dGhlIHNhbXBsZSBub25jZQ=",
      "AAAAAAAAAAAAAAAAAAAAAAA=",
      "dGhlIHNhbXBsZSBub25jZQ==AAAA",
      "dGhlIHNhbXBsZSBub25jZ!==",
    ]
  ) {
    rejects(
      requestHead(fieldsWith("Sec-WebSocket-Key", key)),
      400,
      "Sec-WebSocket-Key is not base64 of 16 bytes",
    );
  }
});

test("handshake: a request parsed from bytes fails with the same status", () => {
  const text =
    "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n";
  rejects(
    parseRequestBytes(bytes(text)),
    400,
    "Sec-WebSocket-Key is not base64 of 16 bytes",
  );
});

// --- buildAcceptResponse ---------------------------------------------------------------

function upgradeRequest(...extra: [string, string][]): UpgradeRequest {
  return validateUpgradeRequest(requestHead([...GOOD_FIELDS, ...extra]));
}

test("handshake: buildAcceptResponse serializes the exact RFC example response", () => {
  assert.equal(
    latin1(buildAcceptResponse(upgradeRequest())),
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
  );
});

test("handshake: buildAcceptResponse includes protocol, extensions and extra headers", () => {
  const req = upgradeRequest(["Sec-WebSocket-Protocol", "chat, mqtt"]);
  const text = latin1(
    buildAcceptResponse(req, {
      protocol: "mqtt",
      extensions: "permessage-deflate",
      headers: { "Set-Cookie": "s=1" },
    }),
  );
  assert.equal(
    text,
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${ACCEPT}\r\nSec-WebSocket-Protocol: mqtt\r\n` +
      "Sec-WebSocket-Extensions: permessage-deflate\r\nSet-Cookie: s=1\r\n\r\n",
  );
  const noProtocol = latin1(
    buildAcceptResponse(req, { protocol: "", extensions: "" }),
  );
  assert.ok(
    !noProtocol.includes("Sec-WebSocket-Protocol") &&
      !noProtocol.includes("Sec-WebSocket-Extensions"),
  );
});

test("handshake: buildAcceptResponse rejects a protocol the client did not offer", () => {
  clientFails(
    () => buildAcceptResponse(upgradeRequest(), { protocol: "chat" }),
    'subprotocol "chat" was not offered by the client',
  );
  clientFails(
    () =>
      buildAcceptResponse(upgradeRequest(["Sec-WebSocket-Protocol", "chat"]), {
        protocol: "Chat",
      }),
    'subprotocol "Chat" was not offered by the client',
  );
});

test("handshake: buildAcceptResponse rejects reserved or injected headers", () => {
  const req = upgradeRequest();
  for (
    const name of [
      "Upgrade",
      "connection",
      "Sec-WebSocket-Accept",
      "Sec-WebSocket-Protocol",
      "Sec-WebSocket-Extensions",
      "Content-Length",
    ]
  ) {
    clientFails(
      () => buildAcceptResponse(req, { headers: [[name, "x"]] }),
      `header "${name}" is set by the handshake and cannot be given`,
    );
  }
  clientFails(
    () =>
      buildAcceptResponse(req, {
        headers: { "X-A": "1\r\n\r\nHTTP/1.1 200 OK" },
      }),
    'invalid value for header "X-A"',
  );
  clientFails(
    () => buildAcceptResponse(req, { extensions: "a\r\nb" }),
    "invalid Sec-WebSocket-Extensions value",
  );
});

// --- buildRejectResponse ---------------------------------------------------------------

test("handshake: buildRejectResponse serializes the exact 400 response", () => {
  assert.equal(
    latin1(buildRejectResponse(400)),
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n" +
      "Connection: close\r\n\r\nBad Request",
  );
});

test("handshake: buildRejectResponse has reason phrases for the common statuses", () => {
  const expected: [number, string][] = [
    [400, "Bad Request"],
    [401, "Unauthorized"],
    [403, "Forbidden"],
    [404, "Not Found"],
    [405, "Method Not Allowed"],
    [426, "Upgrade Required"],
    [429, "Too Many Requests"],
    [431, "Request Header Fields Too Large"],
    [500, "Internal Server Error"],
    [503, "Service Unavailable"],
    [418, "Error"],
  ];
  for (const [status, reason] of expected) {
    const { head, body } = parseResponseBytes(buildRejectResponse(status));
    assert.equal(head.status, status);
    assert.equal(head.statusText, reason);
    assert.equal(body, reason);
    assert.equal(head.headers.get("content-length"), String(reason.length));
  }
});

test("handshake: buildRejectResponse redirects (3xx) only with a Location", () => {
  const { head, body } = parseResponseBytes(
    buildRejectResponse(302, { headers: { Location: "/login" } }),
  );
  assert.equal(head.status, 302);
  assert.equal(head.statusText, "Found");
  assert.equal(head.headers.get("location"), "/login");
  assert.equal(body, "Found");
  assert.equal(
    parseResponseBytes(
      buildRejectResponse(399, { headers: { location: "/x" } }),
    ).head.statusText,
    "Redirect",
  );
  assert.throws(() => buildRejectResponse(302), isArgumentError);
  for (const status of [200, 299, 600, 301.5, NaN]) {
    assert.throws(
      () => buildRejectResponse(status, { headers: { Location: "/" } }),
      isArgumentError,
    );
  }
  assert.throws(
    () =>
      buildRejectResponse(401, { headers: { "WWW-Authenticate": "\u2603" } }),
  );
});

test("handshake: a 426 rejection carries Sec-WebSocket-Version: 13 and Upgrade", () => {
  const { head } = parseResponseBytes(buildRejectResponse(426));
  assert.equal(head.headers.get("sec-websocket-version"), "13");
  assert.equal(head.headers.get("upgrade"), "websocket");
  assert.equal(head.headers.get("connection"), "Upgrade, close");
  const error = (() => {
    try {
      validateUpgradeRequest(
        requestHead(fieldsWith("Sec-WebSocket-Version", "8")),
      );
    } catch (e) {
      return e as HandshakeError;
    }
  })();
  const answer = parseResponseBytes(buildRejectResponse(error!.status!)).head;
  assert.equal(answer.headers.get("sec-websocket-version"), "13");
});

test("handshake: a 405 rejection carries Allow: GET", () => {
  const { head } = parseResponseBytes(buildRejectResponse(405));
  assert.equal(head.headers.get("allow"), "GET");
  assert.equal(head.headers.get("connection"), "close");
  assert.equal(
    parseResponseBytes(
      buildRejectResponse(405, { headers: { Allow: "GET, HEAD" } }),
    ).head.headers.get("allow"),
    "GET, HEAD",
  );
});

test("handshake: buildRejectResponse sends a custom UTF-8 body with the right Content-Length", () => {
  const { head, body } = parseResponseBytes(
    buildRejectResponse(403, { body: "origin not allowed: café ☃" }),
  );
  assert.equal(body, "origin not allowed: café ☃");
  assert.equal(
    head.headers.get("content-length"),
    String(new TextEncoder().encode(body).length),
  );
  assert.equal(
    parseResponseBytes(buildRejectResponse(403, { body: "" })).body,
    "",
  );
});

test("handshake: buildRejectResponse takes extra headers and a replacement Content-Type", () => {
  const { head } = parseResponseBytes(
    buildRejectResponse(401, {
      headers: [["WWW-Authenticate", "Bearer"], [
        "Content-Type",
        "application/json",
      ]],
      body: "{}",
    }),
  );
  assert.equal(head.headers.get("www-authenticate"), "Bearer");
  assert.deepEqual(head.headers.getAll("content-type"), ["application/json"]);
  const v = parseResponseBytes(
    buildRejectResponse(426, {
      headers: { "Sec-WebSocket-Version": "13, 8", Upgrade: "websocket" },
    }),
  );
  assert.deepEqual(v.head.headers.getAll("sec-websocket-version"), ["13, 8"]);
  assert.deepEqual(v.head.headers.getAll("upgrade"), ["websocket"]);
});

test("handshake: buildRejectResponse rejects header injection and framing headers", () => {
  clientFails(
    () =>
      buildRejectResponse(400, { headers: { "X-A": "1\r\nSet-Cookie: evil" } }),
    'invalid value for header "X-A"',
  );
  clientFails(
    () => buildRejectResponse(400, { headers: { "X:A": "1" } }),
    'invalid header name "X:A"',
  );
  for (const name of ["Content-Length", "transfer-encoding", "Connection"]) {
    clientFails(
      () => buildRejectResponse(400, { headers: [[name, "1"]] }),
      `header "${name}" is set by the handshake and cannot be given`,
    );
  }
});

test("handshake: buildRejectResponse rejects a status outside 400-599", () => {
  for (const status of [101, 200, 399, 600, 400.5, Number.NaN]) {
    assert.throws(() => buildRejectResponse(status), isArgumentError);
  }
});

// --- end to end ---------------------------------------------------------------

test("handshake: a full client/server exchange with frames after each head", () => {
  const req = buildClientRequest("ws://127.0.0.1:9001/echo?x=1", {
    protocols: ["graphql-transport-ws", "chat"],
    extensions: "permessage-deflate",
  });
  const frame = new Uint8Array([0x81, 0x80, 1, 2, 3, 4]);
  const server = HttpHeadParser.request();
  const incoming = new Uint8Array(req.bytes.length + frame.length);
  incoming.set(req.bytes);
  incoming.set(frame, req.bytes.length);
  let serverResult = server.push(incoming.subarray(0, 10));
  assert.equal(serverResult.done, false);
  serverResult = server.push(incoming.subarray(10));
  assert.ok(serverResult.done);
  assert.deepEqual(serverResult.rest, frame);
  const upgrade = validateUpgradeRequest(serverResult.head);
  assert.equal(upgrade.path, "/echo");
  assert.equal(upgrade.host, "127.0.0.1:9001");
  const chosen = upgrade.protocols.find((p) => p === "chat");
  const response = buildAcceptResponse(upgrade, { protocol: chosen });
  const client = HttpHeadParser.response();
  const clientResult = client.push(new Uint8Array([...response, 0x81, 0x00]));
  assert.ok(clientResult.done);
  assert.deepEqual(clientResult.rest, new Uint8Array([0x81, 0x00]));
  assert.deepEqual(validateServerResponse(clientResult.head, req), {
    protocol: "chat",
    extensions: "",
  });
});

/** A `LocalError` of kind `"argument"` (a bad value from the caller). */
function isArgumentError(error: unknown): boolean {
  return error instanceof LocalError && error.kind === "argument";
}
