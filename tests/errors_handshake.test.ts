/**
 * The error model (issue 13 step 5) in the opening handshake and for local
 * misuse: each bad response field and request rule has its id (and HTTP
 * status); local failures have ids too; core commands throw a `LocalError`
 * of the right kind.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../core/connection.ts";
import {
  type ErrorId,
  LocalError,
  type LocalErrorKind,
  PeerError,
} from "../core/errors.ts";
import {
  buildClientRequest,
  buildRejectResponse,
  computeAccept,
} from "../core/handshake.ts";
import { HeaderMap, HttpHeadParser } from "../core/http.ts";
import { type ErrorEvent, errorOf, expectError } from "./error_helpers.ts";

const enc = new TextEncoder();
const bytes = (...b: number[]) => new Uint8Array(b);

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = computeAccept(KEY);

/** The client's error event for a response head `head` (CRLFs added). */
function responseFails(lines: string[]): ErrorEvent {
  const conn = Connection.client("ws://h/", {
    key: KEY,
    protocols: ["chat"],
    httpLimits: { maxHeaderBytes: 256 },
  });
  conn.takeOutput();
  return errorOf(conn.receive(enc.encode(lines.join("\r\n") + "\r\n\r\n")));
}

describe("errors: the server's response", () => {
  const good = [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${ACCEPT}`,
  ];
  const without = (prefix: string) => good.filter((l) => !l.startsWith(prefix));

  test("each field has its id; status is the response's", () => {
    expectError(
      responseFails(["HTTP/1.1 403 Forbidden", ...good.slice(1)]),
      "WS_ERR_UNEXPECTED_STATUS",
      1006,
      403,
    );
    expectError(
      responseFails(without("Upgrade")),
      "WS_ERR_INVALID_UPGRADE_HEADER",
      1006,
      101,
    );
    expectError(
      responseFails([...without("Upgrade"), "Upgrade: h2c"]),
      "WS_ERR_INVALID_UPGRADE_HEADER",
      1006,
      101,
    );
    expectError(
      responseFails([...without("Connection"), "Connection: close"]),
      "WS_ERR_INVALID_CONNECTION_HEADER",
      1006,
      101,
    );
    expectError(
      responseFails(without("Sec-WebSocket-Accept")),
      "WS_ERR_INVALID_ACCEPT",
      1006,
      101,
    );
    expectError(
      responseFails([
        ...without("Sec-WebSocket-Accept"),
        "Sec-WebSocket-Accept: x",
      ]),
      "WS_ERR_INVALID_ACCEPT",
      1006,
      101,
    );
    expectError(
      responseFails([...good, "Sec-WebSocket-Protocol: mqtt"]),
      "WS_ERR_INVALID_SUBPROTOCOL",
      1006,
      101,
    );
    expectError(
      responseFails([...good, "Sec-WebSocket-Extensions: permessage-deflate"]),
      "WS_ERR_INVALID_EXTENSION",
      1006,
      101,
    );
  });

  test("a malformed or oversized head", () => {
    expectError(
      responseFails(["HTTP/1.1 101 OK", "Bad Header"]),
      "WS_ERR_INVALID_HTTP",
      1006,
      400,
    );
    expectError(
      responseFails([...good, `X-Big: ${"a".repeat(300)}`]),
      "WS_ERR_HEADERS_TOO_LARGE",
      1006,
      431,
    );
  });
});

/** The server's error event and answered status for a request. */
function requestFails(
  lines: string[],
  more?: Uint8Array,
): { event: ErrorEvent; answer: number } {
  const conn = Connection.server({ httpLimits: { maxHeaderBytes: 256 } });
  const events = [
    ...conn.receive(enc.encode(lines.join("\r\n") + "\r\n\r\n")),
  ];
  if (more !== undefined) {
    assert.equal(events[0]?.type, "request");
    events.push(...conn.receive(more));
  }
  const answer = new TextDecoder().decode(conn.takeOutput()[0]);
  return { event: errorOf(events), answer: Number(answer.split(" ")[1]) };
}

describe("errors: the client's request", () => {
  const good = [
    "GET / HTTP/1.1",
    "Host: h",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${KEY}`,
    "Sec-WebSocket-Version: 13",
  ];
  const replace = (prefix: string, ...lines: string[]) => [
    ...good.filter((l) => !l.startsWith(prefix)),
    ...lines,
  ];
  const cases: [string[], ErrorId, number][] = [
    [["POST / HTTP/1.1", ...good.slice(1)], "WS_ERR_INVALID_METHOD", 405],
    [["GET / HTTP/1.0", ...good.slice(1)], "WS_ERR_INVALID_REQUEST", 400],
    [replace("Host"), "WS_ERR_INVALID_REQUEST", 400],
    [replace("Upgrade"), "WS_ERR_INVALID_UPGRADE_HEADER", 426],
    [
      replace("Connection", "Connection: close"),
      "WS_ERR_INVALID_CONNECTION_HEADER",
      400,
    ],
    [
      replace("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"),
      "WS_ERR_UNSUPPORTED_VERSION",
      426,
    ],
    [
      replace("Sec-WebSocket-Key", "Sec-WebSocket-Key: abc"),
      "WS_ERR_INVALID_KEY",
      400,
    ],
    [[...good, "Bad Header"], "WS_ERR_INVALID_HTTP", 400],
    [[...good, `X-Big: ${"a".repeat(300)}`], "WS_ERR_HEADERS_TOO_LARGE", 431],
  ];
  for (const [lines, id, status] of cases) {
    test(`${id} answers ${status}`, () => {
      const { event, answer } = requestFails(lines);
      expectError(event, id, 1006, status);
      assert.equal(answer, status);
    });
  }

  test("too much data while the application decides: WS_ERR_EARLY_DATA_LIMIT", () => {
    const { event, answer } = requestFails(good, new Uint8Array(300));
    expectError(event, "WS_ERR_EARLY_DATA_LIMIT", 1006, 400);
    assert.equal(answer, 400);
  });
});

describe("errors: local failures have ids too", () => {
  test("timeouts, transport closes, abort() and fail()", () => {
    const connecting = () => Connection.client("ws://h/");
    expectError(
      errorOf(connecting().timeout()),
      "WS_ERR_HANDSHAKE_TIMEOUT",
      1006,
    );
    expectError(
      errorOf(connecting().transportClosed()),
      "WS_ERR_CONNECTION_CLOSED",
      1006,
    );
    expectError(errorOf(connecting().abort("gone")), "WS_ERR_ABORTED", 1006);
    expectError(errorOf(connecting().close()), "WS_ERR_ABORTED", 1006);
    const open = new Connection({ role: "client" });
    open.close(1000);
    expectError(errorOf(open.timeout()), "WS_ERR_CLOSE_TIMEOUT", 1006);
    const failed = new Connection({ role: "server" });
    expectError(errorOf(failed.fail(1008, "rate")), "WS_ERR_FAILED", 1008);
    const tagged = new Connection({ role: "server" });
    expectError(
      errorOf(tagged.fail(1011, "hook", "WS_ERR_APPLICATION")),
      "WS_ERR_APPLICATION",
      1011,
    );
  });
});

/** Asserts `fn` throws a `LocalError` of `kind`. */
function local(kind: LocalErrorKind, fn: () => unknown): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof LocalError, `LocalError, got ${error}`);
    assert.ok(!(error instanceof PeerError));
    assert.equal(error.kind, kind, error.message);
    return true;
  });
}

describe("errors: LocalError kinds from core commands", () => {
  test("state: a command in the wrong state", () => {
    local("state", () => Connection.client("ws://h/").send("x"));
    local("state", () => Connection.client("ws://h/").ping());
    local("state", () => Connection.server().accept());
    local("state", () => Connection.server().reject(403));
    local(
      "state",
      () => new Connection({ role: "server" }).resume({ output: bytes() }),
    );
    local("state", () =>
      Connection.client("ws://h/").receiveHead({
        method: "GET",
        target: "/",
        version: "1.1",
        headers: new HeaderMap([]),
      }));
    const parser = HttpHeadParser.request();
    parser.push(enc.encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    local("state", () => parser.push(bytes(1)));
    const closed = new Connection({ role: "server" });
    closed.transportClosed();
    local("state", () => closed.send("x"));
  });

  test("argument: a value not allowed", () => {
    const open = () => new Connection({ role: "client" });
    for (const code of [999, 1001, 1005, 2999, 5000]) {
      local("argument", () => open().close(code));
    }
    local("argument", () => open().closeWithCode(1006));
    local("argument", () => open().ping(new Uint8Array(126)));
    local("argument", () => open().send(bytes(1, 2), { fragmentSize: 0 }));
    local("argument", () => buildRejectResponse(200));
    local("argument", () => buildRejectResponse(302));
    local(
      "argument",
      () => buildClientRequest("ws://h/", { headers: { Upgrade: "x" } }),
    );
  });

  test("syntax: a string that does not parse, or a reason too long", () => {
    local(
      "syntax",
      () => new Connection({ role: "client" }).close(1000, "é".repeat(62)),
    );
    local("syntax", () => Connection.client("not a url"));
    local("syntax", () => Connection.client("ftp://h/"));
    local("syntax", () => Connection.client("ws://h/#x"));
    local("syntax", () => Connection.client("ws://h/", { protocols: ["a b"] }));
    local(
      "syntax",
      () => Connection.client("ws://h/", { protocols: ["a", "a"] }),
    );
    local("syntax", () => Connection.client("ws://h/", { key: "short" }));
    local(
      "syntax",
      () => Connection.client("ws://h/", { headers: { "X-A": "a\r\nb" } }),
    );
  });
});
