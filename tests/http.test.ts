import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DEFAULT_HTTP_LIMITS,
  encodeLatin1,
  HeaderMap,
  HttpError,
  HttpHeadParser,
  type HttpParseResult,
  type HttpRequestHead,
  type HttpResponseHead,
  isFieldValue,
  isToken,
} from "../core/http.ts";

/** Byte-per-char encoding, so tests can write any byte as \xNN. */
const bytes = (s: string): Uint8Array =>
  Uint8Array.from(s, (c) => c.charCodeAt(0));
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

const REQUEST = "GET /chat?room=1 HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n" +
  "\r\n";
const FRAMES = new Uint8Array([
  0x81,
  0x85,
  0x37,
  0xfa,
  0x21,
  0x3d,
  0x7f,
  0x9f,
  0x4d,
  0x51,
  0x58,
]);

function parseRequest(
  text: string | Uint8Array,
  limits?: Parameters<typeof HttpHeadParser.request>[0],
) {
  const result = HttpHeadParser.request(limits).push(
    typeof text === "string" ? bytes(text) : text,
  );
  assert.equal(result.done, true);
  return result as Extract<HttpParseResult<HttpRequestHead>, { done: true }>;
}

function parseResponse(text: string) {
  const result = HttpHeadParser.response().push(bytes(text));
  assert.equal(result.done, true);
  return result as Extract<HttpParseResult<HttpResponseHead>, { done: true }>;
}

function requestError(
  text: string | Uint8Array,
  limits?: Parameters<typeof HttpHeadParser.request>[0],
): HttpError {
  const parser = HttpHeadParser.request(limits);
  try {
    parser.push(typeof text === "string" ? bytes(text) : text);
  } catch (error) {
    assert.ok(error instanceof HttpError, `expected HttpError, got ${error}`);
    return error;
  }
  assert.fail(`expected an HttpError for ${JSON.stringify(text)}`);
}

function responseError(text: string): HttpError {
  try {
    HttpHeadParser.response().push(bytes(text));
  } catch (error) {
    assert.ok(error instanceof HttpError, `expected HttpError, got ${error}`);
    return error;
  }
  assert.fail(`expected an HttpError for ${JSON.stringify(text)}`);
}

function assert400(text: string, message: string): void {
  const error = requestError(text);
  assert.equal(error.status, 400);
  assert.equal(error.message, message);
}

const withHeader = (line: string): string =>
  `GET / HTTP/1.1\r\n${line}\r\n\r\n`;

test("http: parses a request head in one chunk", () => {
  const { head, rest } = parseRequest(REQUEST);
  assert.equal(head.method, "GET");
  assert.equal(head.target, "/chat?room=1");
  assert.equal(head.version, "1.1");
  assert.equal(head.headers.get("host"), "server.example.com");
  assert.equal(
    head.headers.get("Sec-WebSocket-Key"),
    "dGhlIHNhbXBsZSBub25jZQ==",
  );
  assert.equal(head.headers.size, 5);
  assert.equal(rest.length, 0);
});

test("http: one byte at a time gives the same head", () => {
  const parser = HttpHeadParser.request();
  const input = bytes(REQUEST);
  let result: HttpParseResult<HttpRequestHead> = { done: false };
  for (let i = 0; i < input.length; i++) {
    assert.equal(result.done, false, `finished early at byte ${i}`);
    result = parser.push(input.subarray(i, i + 1));
  }
  assert.ok(result.done);
  assert.deepEqual([...result.head.headers.entries()], [
    ...parseRequest(REQUEST).head.headers.entries(),
  ]);
  assert.equal(result.rest.length, 0);
});

test("http: a split at every byte keeps the frame bytes after the head in rest", () => {
  const input = concat(bytes(REQUEST), FRAMES);
  const headLen = REQUEST.length;
  for (let k = 0; k <= input.length; k++) {
    const parser = HttpHeadParser.request();
    let result = parser.push(input.subarray(0, k));
    let after: Uint8Array;
    if (k < headLen) {
      assert.equal(result.done, false, `split ${k}`);
      result = parser.push(input.subarray(k));
      assert.ok(result.done);
      after = result.rest;
    } else {
      assert.ok(result.done, `split ${k}`);
      after = concat(result.rest, input.subarray(k));
    }
    assert.deepEqual(after, FRAMES, `split ${k}`);
    assert.equal(result.head.target, "/chat?room=1");
    assert.equal(result.head.headers.get("upgrade"), "websocket");
  }
});

test("http: rest is a view of the pushed chunk, not a copy", () => {
  const chunk = concat(bytes(REQUEST), FRAMES);
  const { rest } = parseRequest(chunk);
  assert.equal(rest.buffer, chunk.buffer);
  assert.equal(rest.byteOffset, REQUEST.length);
  assert.deepEqual(rest, FRAMES);
});

test("http: parses a response head", () => {
  const { head, rest } = parseResponse(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00",
  );
  assert.equal(head.version, "1.1");
  assert.equal(head.status, 101);
  assert.equal(head.statusText, "Switching Protocols");
  assert.equal(head.headers.get("connection"), "Upgrade");
  assert.deepEqual(rest, new Uint8Array([0x81, 0x00]));
});

test("http: status line with an empty or missing reason phrase", () => {
  assert.equal(parseResponse("HTTP/1.1 101 \r\n\r\n").head.statusText, "");
  const { head } = parseResponse("HTTP/1.1 404\r\n\r\n");
  assert.equal(head.status, 404);
  assert.equal(head.statusText, "");
  assert.equal(
    parseResponse("HTTP/1.0 200 OK\tfine\r\n\r\n").head.statusText,
    "OK\tfine",
  );
  assert.equal(parseResponse("HTTP/1.1 599 x\r\n\r\n").head.status, 599);
});

test("http: header lookups are case-insensitive and repeated fields join with comma", () => {
  const { head } = parseRequest(
    "GET / HTTP/1.1\r\nX-A: 1\r\nHost: h\r\nx-a: 2\r\nX-A: 3\r\n\r\n",
  );
  const h = head.headers;
  assert.equal(h.get("x-a"), "1, 2, 3");
  assert.equal(h.get("X-a"), "1, 2, 3");
  assert.deepEqual(h.getAll("X-A"), ["1", "2", "3"]);
  assert.deepEqual(h.getAll("missing"), []);
  assert.equal(h.get("missing"), undefined);
  assert.equal(h.has("HOST"), true);
  assert.equal(h.has("missing"), false);
  assert.equal(h.size, 4);
});

test("http: entries keep the raw field lines in order with original case", () => {
  const { head } = parseRequest(
    "GET / HTTP/1.1\r\nX-A: 1\r\nHost: h\r\nx-a: 2\r\n\r\n",
  );
  const expected = [["X-A", "1"], ["Host", "h"], ["x-a", "2"]];
  assert.deepEqual([...head.headers.entries()], expected);
  assert.deepEqual([...head.headers], expected);
});

test("http: HeaderMap can be built from pairs and getAll returns a copy", () => {
  const h = new HeaderMap([["A", "1"], ["a", "2"]]);
  assert.equal(h.get("A"), "1, 2");
  h.getAll("a").push("3");
  assert.deepEqual(h.getAll("a"), ["1", "2"]);
  assert.equal(new HeaderMap().size, 0);
});

test("http: optional whitespace around values is trimmed, inner whitespace kept", () => {
  const { head } = parseRequest(
    "GET / HTTP/1.1\r\nA:  \t x  y \t \r\nB:\r\nC:   \r\nD:z\r\n\r\n",
  );
  assert.equal(head.headers.get("a"), "x  y");
  assert.equal(head.headers.get("b"), "");
  assert.equal(head.headers.get("c"), "");
  assert.equal(head.headers.get("d"), "z");
});

test("http: bytes 0x80-0xFF in values decode as Latin-1, one char per byte", () => {
  const { head } = parseRequest(withHeader("X-Name: caf\xc3\xa9 \xe9\xff"));
  const value = head.headers.get("x-name")!;
  assert.equal(value, "caf\u00c3\u00a9 \u00e9\u00ff");
  assert.deepEqual(encodeLatin1(value), bytes("caf\xc3\xa9 \xe9\xff"));
  assert.equal(
    new TextDecoder().decode(encodeLatin1(value.slice(0, 5))),
    "café",
  );
});

test("http: empty lines before the start line are ignored", () => {
  const { head } = parseRequest("\r\n\r\n" + REQUEST);
  assert.equal(head.method, "GET");
  assert.equal(parseResponse("\r\nHTTP/1.1 101 x\r\n\r\n").head.status, 101);
});

test("http: a head with no fields parses", () => {
  const { head } = parseRequest("OPTIONS * HTTP/1.1\r\n\r\n");
  assert.equal(head.method, "OPTIONS");
  assert.equal(head.target, "*");
  assert.equal(head.headers.size, 0);
});

test("http: other methods, absolute-form targets and versions are parsed as sent", () => {
  const { head } = parseRequest(
    "M-SEARCH http://a.example/x?y HTTP/2.0\r\n\r\n",
  );
  assert.equal(head.method, "M-SEARCH");
  assert.equal(head.target, "http://a.example/x?y");
  assert.equal(head.version, "2.0");
});

test("http: a bare LF line ending is rejected with 400", () => {
  assert400("GET / HTTP/1.1\nHost: a\r\n\r\n", "line ends in a bare LF");
  assert400("GET / HTTP/1.1\r\nHost: a\n\r\n", "line ends in a bare LF");
  assert400("GET / HTTP/1.1\r\nHost: a\r\n\n", "line ends in a bare LF");
  assert400("\n", "line ends in a bare LF");
});

test("http: a bare CR is rejected with 400", () => {
  assert.equal(requestError("GET / HTTP/1.1\r\nA: x\ry\r\n\r\n").status, 400);
  assert.equal(requestError("GET / HTTP/1.1\r\nA\r: x\r\n\r\n").status, 400);
  assert.equal(requestError("GET /\r HTTP/1.1\r\n\r\n").status, 400);
  assert.equal(requestError("GET / HTTP/1.1\r\r\n\r\n").status, 400);
  assert.equal(responseError("HTTP/1.1 101 a\rb\r\n\r\n").status, 400);
});

test("http: obs-fold continuation lines are rejected with 400", () => {
  assert400(
    "GET / HTTP/1.1\r\nA: x\r\n  y\r\n\r\n",
    "obsolete line folding is not allowed",
  );
  assert400(
    "GET / HTTP/1.1\r\nA: x\r\n\ty\r\n\r\n",
    "obsolete line folding is not allowed",
  );
  assert400(
    "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
    "obsolete line folding is not allowed",
  );
});

test("http: invalid token characters in a header name are rejected with 400", () => {
  for (
    const name of [
      "A(b",
      "A/b",
      "A@b",
      'A"b',
      "A{b",
      "A[b",
      "A=b",
      "A\x00b",
      "A\x7fb",
      "\xe9t\xe9",
    ]
  ) {
    assert400(withHeader(`${name}: x`), "invalid character in header name");
  }
  assert400(withHeader("Bad Name: x"), "invalid character in header name");
});

test("http: whitespace between a header name and its colon is rejected with 400", () => {
  assert400(withHeader("Host : a"), "whitespace between header name and colon");
  assert400(
    withHeader("Host\t: a"),
    "whitespace between header name and colon",
  );
});

test("http: a header line without a colon is rejected with 400", () => {
  assert400(withHeader("Host a"), "header line without a colon");
  assert400(withHeader("Host"), "header line without a colon");
});

test("http: an empty header name is rejected with 400", () => {
  assert400(withHeader(": a"), "empty header name");
});

test("http: control characters in values are rejected with 400, HTAB allowed", () => {
  for (const c of ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x1f", "\x7f"]) {
    assert400(
      withHeader(`X: a${c}b`),
      'control character in value of header "X"',
    );
  }
  assert.equal(
    parseRequest(withHeader("X: a\tb")).head.headers.get("x"),
    "a\tb",
  );
});

test("http: bad request lines are rejected with 400", () => {
  const cases: [string, string][] = [
    ["GET  / HTTP/1.1", "invalid request line: bad request target"],
    [" GET / HTTP/1.1", "invalid request line: bad method"],
    ["G(T / HTTP/1.1", "invalid request line: bad method"],
    ["GET", "invalid request line: bad method"],
    ["GET\t/ HTTP/1.1", "invalid request line: bad method"],
    ["GET /", "invalid request line: bad request target"],
    ["GET / ", "invalid request line: bad HTTP version"],
    ["GET /a\xe9 HTTP/1.1", "invalid request line: bad request target"],
    ["GET /a\x7f HTTP/1.1", "invalid request line: bad request target"],
    ["GET / HTTP/1.1 ", "invalid request line: bad HTTP version"],
    ["GET / HTTP/11", "invalid request line: bad HTTP version"],
    ["GET / http/1.1", "invalid request line: bad HTTP version"],
    ["GET / HTTP/1.x", "invalid request line: bad HTTP version"],
    ["GET / HTTP/1,1", "invalid request line: bad HTTP version"],
    ["GET / HTTP/1.10", "invalid request line: bad HTTP version"],
    ["GET / HTTP/1.1 extra", "invalid request line: bad HTTP version"],
    ["GET / HTTPS1.1", "invalid request line: bad HTTP version"],
  ];
  for (const [line, message] of cases) {
    const error = requestError(`${line}\r\nHost: a\r\n\r\n`);
    assert.equal(error.status, 400, line);
    assert.equal(error.message, message, line);
  }
});

test("http: bad status lines are rejected with 400", () => {
  const cases: [string, string][] = [
    ["HTTP/1.1 1010 X", "invalid status line: bad status code"],
    ["HTTP/1.1 099 X", "invalid status line: bad status code"],
    ["HTTP/1.1 600 X", "invalid status line: bad status code"],
    ["HTTP/1.1 abc", "invalid status line: bad status code"],
    ["HTTP/1.1 1a1 X", "invalid status line: bad status code"],
    ["HTTP/1.1 10a X", "invalid status line: bad status code"],
    ["HTTP/1.1 101X", "invalid status line: bad status code"],
    ["HTTP/1.1101 X", "invalid status line: bad HTTP version"],
    ["HTP/1.1 101 X", "invalid status line: bad HTTP version"],
    ["HTTP/1.1 10", "invalid status line: bad status code"],
    ["HTTP/1.1 ", "invalid status line: bad status code"],
    ["HTTP/1.1", "invalid status line: bad HTTP version"],
    ["GET / HTTP/1.1", "invalid status line: bad HTTP version"],
    [
      "HTTP/1.1 101 a\x00b",
      "invalid status line: control character in reason phrase",
    ],
    [
      "HTTP/1.1 101 a\x7f",
      "invalid status line: control character in reason phrase",
    ],
  ];
  for (const [line, message] of cases) {
    const error = responseError(`${line}\r\n\r\n`);
    assert.equal(error.status, 400, line);
    assert.equal(error.message, message, line);
  }
});

test("http: default limits are 16 KiB of head and 100 fields", () => {
  assert.equal(DEFAULT_HTTP_LIMITS.maxHeaderBytes, 16384);
  assert.equal(DEFAULT_HTTP_LIMITS.maxHeaders, 100);
  assert.ok(Object.isFrozen(DEFAULT_HTTP_LIMITS));
});

test("http: a head of exactly maxHeaderBytes parses; one byte more is 431", () => {
  const base = "GET / HTTP/1.1\r\nX: \r\n\r\n";
  const fill = "a".repeat(16384 - base.length);
  const exact = `GET / HTTP/1.1\r\nX: ${fill}\r\n\r\n`;
  assert.equal(exact.length, 16384);
  assert.equal(parseRequest(exact).head.headers.get("x"), fill);
  const over = `GET / HTTP/1.1\r\nX: ${fill}a\r\n\r\n`;
  const error = requestError(over);
  assert.equal(error.status, 431);
  assert.equal(error.message, "message head exceeds 16384 bytes");
});

test("http: bytes after the head do not count toward the limit", () => {
  const { rest } = parseRequest(
    concat(bytes(REQUEST), new Uint8Array(100_000)),
    { maxHeaderBytes: REQUEST.length },
  );
  assert.equal(rest.length, 100_000);
});

test("http: one huge header is rejected with 431 as soon as the limit is passed", () => {
  const parser = HttpHeadParser.request();
  parser.push(bytes("GET / HTTP/1.1\r\nX-Huge: "));
  let pushed = "GET / HTTP/1.1\r\nX-Huge: ".length;
  const piece = new Uint8Array(1000).fill(0x61);
  let thrown: unknown;
  for (let i = 0; i < 100 && thrown === undefined; i++) {
    try {
      parser.push(piece);
      pushed += piece.length;
    } catch (error) {
      thrown = error;
    }
  }
  assert.ok(thrown instanceof HttpError);
  assert.equal(thrown.status, 431);
  // It failed on the first push that crossed the limit, with no line ending in sight.
  assert.ok(
    pushed <= 16384 && pushed + piece.length > 16384,
    `failed after ${pushed} bytes`,
  );
});

test("http: a single oversized chunk without any LF is rejected with 431", () => {
  const error = requestError(new Uint8Array(1_000_000).fill(0x61));
  assert.equal(error.status, 431);
});

test("http: a custom maxHeaderBytes is enforced", () => {
  const error = requestError(REQUEST, { maxHeaderBytes: REQUEST.length - 1 });
  assert.equal(error.status, 431);
  assert.equal(
    error.message,
    `message head exceeds ${REQUEST.length - 1} bytes`,
  );
  assert.equal(
    parseRequest(REQUEST, { maxHeaderBytes: REQUEST.length }).head.method,
    "GET",
  );
});

test("http: endless empty lines before the start line hit the byte limit", () => {
  assert.equal(requestError("\r\n".repeat(10_000)).status, 431);
});

test("http: 100 header fields parse, 101 are rejected with 431", () => {
  const lines = (n: number) =>
    Array.from({ length: n }, (_, i) => `h${i}: v\r\n`).join("");
  assert.equal(
    parseRequest(`GET / HTTP/1.1\r\n${lines(100)}\r\n`).head.headers.size,
    100,
  );
  const error = requestError(`GET / HTTP/1.1\r\n${lines(101)}\r\n`);
  assert.equal(error.status, 431);
  assert.equal(error.message, "more than 100 header fields");
});

test("http: thousands of tiny headers are rejected with 431", () => {
  const text = "GET / HTTP/1.1\r\n" + "a:\r\n".repeat(3000) + "\r\n";
  assert.equal(requestError(text).status, 431);
  const error = requestError(text, { maxHeaderBytes: 1 << 20 });
  assert.equal(error.status, 431);
  assert.equal(error.message, "more than 100 header fields");
});

test("http: a custom maxHeaders is enforced", () => {
  assert.equal(
    requestError(REQUEST, { maxHeaders: 4 }).message,
    "more than 4 header fields",
  );
  assert.equal(parseRequest(REQUEST, { maxHeaders: 5 }).head.headers.size, 5);
  assert.equal(requestError(REQUEST, { maxHeaders: 0 }).status, 431);
});

test("http: invalid limits throw RangeError", () => {
  assert.throws(
    () => HttpHeadParser.request({ maxHeaderBytes: 0 }),
    RangeError,
  );
  assert.throws(
    () => HttpHeadParser.request({ maxHeaderBytes: 1.5 }),
    RangeError,
  );
  assert.throws(() => HttpHeadParser.response({ maxHeaders: -1 }), RangeError);
  assert.throws(
    () => HttpHeadParser.response({ maxHeaders: Number.NaN }),
    RangeError,
  );
});

test("http: an error is sticky and push after completion throws", () => {
  const parser = HttpHeadParser.request();
  let first: unknown;
  try {
    parser.push(bytes("BAD LINE\r\n"));
  } catch (error) {
    first = error;
  }
  assert.ok(first instanceof HttpError);
  assert.throws(() => parser.push(bytes(REQUEST)), (e) => e === first);

  const done = HttpHeadParser.request();
  assert.ok(done.push(bytes(REQUEST)).done);
  assert.throws(() => done.push(new Uint8Array(1)), /already complete/);
});

test("http: an empty push returns not done", () => {
  const parser = HttpHeadParser.request();
  assert.deepEqual(parser.push(new Uint8Array(0)), { done: false });
  assert.ok(parser.push(bytes(REQUEST)).done);
});

test("http: HttpError carries status and name", () => {
  const error = new HttpError(431, "too big");
  assert.ok(error instanceof Error);
  assert.equal(error.name, "HttpError");
  assert.equal(error.status, 431);
  assert.equal(error.message, "too big");
});

test("http: __proto__ and constructor headers are plain headers (no prototype pollution)", () => {
  const { head } = parseRequest(
    "GET / HTTP/1.1\r\n__proto__: polluted\r\nconstructor: x\r\nhasOwnProperty: y\r\n" +
      "toString: z\r\nprototype: p\r\n\r\n",
  );
  const h = head.headers;
  assert.equal(h.get("__proto__"), "polluted");
  assert.equal(h.get("constructor"), "x");
  assert.equal(h.get("hasOwnProperty"), "y");
  assert.equal(h.get("toString"), "z");
  assert.equal(h.get("valueOf"), undefined);
  assert.equal(h.has("isPrototypeOf"), false);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.toString.call({}), "[object Object]");
  assert.equal(typeof h.get, "function");
  assert.equal(Object.getPrototypeOf(h), HeaderMap.prototype);
});

test("http: long runs of spaces, commas and tabs in values parse (no backtracking)", () => {
  const spaces = " ".repeat(16000);
  let { head } = parseRequest(withHeader(`X: a${spaces}b`));
  assert.equal(head.headers.get("x")!.length, 16002);
  ({ head } = parseRequest(withHeader(`X:${spaces}`)));
  assert.equal(head.headers.get("x"), "");
  ({ head } = parseRequest(withHeader(`X: ${",".repeat(16000)}`)));
  assert.equal(head.headers.get("x")!.length, 16000);
  ({ head } = parseRequest(withHeader(`X: ${", \t".repeat(5000)}z`)));
  assert.ok(head.headers.get("x")!.endsWith("z"));
  ({ head } = parseRequest(withHeader(`${"x".repeat(16000)}: 1`)));
  assert.equal(head.headers.size, 1);
});

test("http: a large head pushed one byte at a time parses (no rescanning)", () => {
  const lines = Array.from(
    { length: 100 },
    (_, i) => `X-${i}: ${" ".repeat(100)}${i}\r\n`,
  ).join("");
  const input = bytes(`GET / HTTP/1.1\r\n${lines}\r\n`);
  const parser = HttpHeadParser.request();
  let result: HttpParseResult<HttpRequestHead> = { done: false };
  for (let i = 0; i < input.length; i++) {
    result = parser.push(input.subarray(i, i + 1));
  }
  assert.ok(result.done);
  assert.equal(result.head.headers.get("x-99"), "99");
});

test("http: isToken accepts tchars only", () => {
  assert.equal(isToken("chat"), true);
  assert.equal(isToken("v12.stomp"), true);
  assert.equal(isToken("!#$%&'*+-.^_`|~09azAZ"), true);
  for (
    const s of [
      "",
      "a b",
      "a,b",
      "a;b",
      'a"b',
      "(a)",
      "a/b",
      "a\u00e9",
      "a\u2603",
      "a\r\n",
    ]
  ) {
    assert.equal(isToken(s), false, JSON.stringify(s));
  }
});

test("http: isFieldValue rejects CR, LF, NUL, DEL and chars above U+00FF", () => {
  assert.equal(isFieldValue(""), true);
  assert.equal(isFieldValue("a b\tc \u00e9\u00ff"), true);
  for (
    const s of ["a\rb", "a\nb", "a\r\nX: y", "\x00", "\x7f", "\u0100", "\u2603"]
  ) {
    assert.equal(isFieldValue(s), false, JSON.stringify(s));
  }
});

test("http: random bytes in random chunks either parse or throw HttpError (property)", () => {
  const interesting = fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0x0d, 0x0a, 0x20, 0x3a, 0x09, 0x48, 0x2f, 0x31),
  );
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    fc.array(interesting, { maxLength: 400 }).map((a) => Uint8Array.from(a)),
    fc.tuple(
      fc.constantFrom("GET / HTTP/1.1\r\n", "HTTP/1.1 101 OK\r\n", "\r\n"),
      fc.uint8Array({ maxLength: 300 }),
    )
      .map(([s, b]) => concat(bytes(s), b)),
  );
  fc.assert(
    fc.property(
      input,
      fc.array(fc.integer({ min: 1, max: 64 }), {
        minLength: 1,
        maxLength: 20,
      }),
      fc.boolean(),
      fc.integer({ min: 1, max: 500 }),
      fc.integer({ min: 0, max: 10 }),
      (data, sizes, isRequest, maxHeaderBytes, maxHeaders) => {
        const parser = isRequest
          ? HttpHeadParser.request({ maxHeaderBytes, maxHeaders })
          : HttpHeadParser.response({ maxHeaderBytes, maxHeaders });
        let offset = 0;
        let n = 0;
        try {
          while (offset < data.length) {
            const size = sizes[n++ % sizes.length];
            const chunk = data.subarray(offset, offset + size);
            const result = parser.push(chunk);
            offset += chunk.length;
            if (result.done) {
              assert.ok(result.rest.length <= chunk.length);
              break;
            }
          }
        } catch (error) {
          if (!(error instanceof HttpError)) throw error;
          assert.ok(error.status === 400 || error.status === 431);
        }
      },
    ),
    { numRuns: 3000 },
  );
});

test("http: valid heads parse identically whatever the chunking (property)", () => {
  const tchar = fc.constantFrom(..."abcXYZ09-_!#$%&'*+.^`|~".split(""));
  const name = fc.array(tchar, { minLength: 1, maxLength: 12 }).map((a) =>
    a.join("")
  );
  const vchar = fc.integer({ min: 0x21, max: 0xff }).filter((c) => c !== 0x7f)
    .map((c) => String.fromCharCode(c));
  const value = fc.array(fc.oneof(vchar, fc.constantFrom(" ", "\t")), {
    maxLength: 30,
  })
    .map((a) => a.join("").replace(/^[ \t]+|[ \t]+$/g, ""));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(name, value), { maxLength: 20 }),
      fc.uint8Array({ maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 50 }), {
        minLength: 1,
        maxLength: 10,
      }),
      (fields, tail, sizes) => {
        const text = "GET /p?q HTTP/1.1\r\n" +
          fields.map(([n, v]) => `${n}: ${v}\r\n`).join("") + "\r\n";
        const data = concat(bytes(text), tail);
        const parser = HttpHeadParser.request();
        let offset = 0;
        let n = 0;
        let rest: Uint8Array = new Uint8Array(0);
        let head: HttpRequestHead | undefined;
        while (offset < data.length && head === undefined) {
          const chunk = data.subarray(
            offset,
            offset + sizes[n++ % sizes.length],
          );
          offset += chunk.length;
          const result = parser.push(chunk);
          if (result.done) {
            head = result.head;
            rest = concat(result.rest, data.subarray(offset));
          }
        }
        assert.ok(head);
        assert.deepEqual([...head.headers.entries()], fields);
        assert.deepEqual(rest, tail);
      },
    ),
    { numRuns: 500 },
  );
});
