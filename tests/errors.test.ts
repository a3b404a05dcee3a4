/**
 * The error model (issue 13 step 5): every peer violation fails the
 * connection with its close code and a stable id on the `error` event;
 * a bug fails it with 1011 `WS_ERR_INTERNAL` keeping the exception as
 * `cause`; local misuse throws a `LocalError` of a kind.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
} from "../core/connection.ts";
import {
  ERROR_IDS,
  type ErrorId,
  LocalError,
  type LocalErrorKind,
  PeerError,
  ProtocolError,
} from "../core/errors.ts";
import type { Extension } from "../core/extension.ts";
import {
  buildClientRequest,
  buildRejectResponse,
  computeAccept,
  HandshakeError,
} from "../core/handshake.ts";
import { HeaderMap, HttpError, HttpHeadParser } from "../core/http.ts";
import {
  clientFrame,
  closeBody,
  concat,
  rawFrame,
  serverFrame,
} from "./helpers.ts";
import { handshake, pmd } from "./deflate_helpers.ts";

const enc = new TextEncoder();
const bytes = (...b: number[]) => new Uint8Array(b);
type ErrorEvent = Extract<ConnectionEvent, { type: "error" }>;

/** The one `error` event among `events`. */
function errorOf(events: readonly ConnectionEvent[]): ErrorEvent {
  const errors = events.filter((e) => e.type === "error");
  assert.equal(errors.length, 1, "one error event");
  return errors[0] as ErrorEvent;
}

/** Feeds `chunk` to an open connection of `role`; returns its error event. */
function failWith(
  role: "client" | "server",
  chunk: Uint8Array,
  options: ConnectionOptions & { activeExtensions?: Extension[] } = {},
): ErrorEvent {
  const conn = new Connection({ role, ...options });
  return errorOf(conn.receive(chunk));
}

function expect(
  event: ErrorEvent,
  id: ErrorId | readonly ErrorId[],
  code: number,
  status?: number,
): void {
  const ids: readonly ErrorId[] = typeof id === "string" ? [id] : id;
  assert.ok(ids.includes(event.id), `id ${event.id}, expected ${ids}`);
  assert.equal(event.code, code, `code for ${event.id}`);
  assert.equal(event.status, status, `status for ${event.id}`);
  assert.ok(event.id in ERROR_IDS, "a listed id");
}

/**
 * Ids of throw sites inside core/connection.ts's frame and close parsing,
 * which get their precise id at the merge with the connection split; until
 * then they carry the generic one for their code.
 */
const pending = (id: ErrorId): readonly ErrorId[] => [id, "WS_ERR_PROTOCOL"];

describe("errors: frames", () => {
  test("a reserved opcode", () => {
    expect(failWith("server", clientFrame(0x3)), "WS_ERR_INVALID_OPCODE", 1002);
    expect(failWith("server", clientFrame(0xb)), "WS_ERR_INVALID_OPCODE", 1002);
  });

  test("reserved bits without an extension", () => {
    const rsv1 = clientFrame(1, "x", { rsv: 4 });
    expect(failWith("server", rsv1), "WS_ERR_UNEXPECTED_RSV_1", 1002);
    const rsv2 = clientFrame(1, "x", { rsv: 2 });
    expect(failWith("server", rsv2), "WS_ERR_UNEXPECTED_RSV_2_3", 1002);
    const rsv3 = clientFrame(2, "x", { rsv: 1 });
    expect(failWith("server", rsv3), "WS_ERR_UNEXPECTED_RSV_2_3", 1002);
  });

  test("masking: unmasked from a client, masked from a server", () => {
    expect(
      failWith("server", serverFrame(1, "x")),
      "WS_ERR_EXPECTED_MASK",
      1002,
    );
    expect(
      failWith("client", clientFrame(1, "x")),
      "WS_ERR_UNEXPECTED_MASK",
      1002,
    );
  });

  test("control frames: too long, fragmented", () => {
    const long = clientFrame(0x9, new Uint8Array(126));
    expect(
      failWith("server", long),
      "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
      1002,
    );
    const split = clientFrame(0x9, "x", { fin: false });
    expect(failWith("server", split), "WS_ERR_EXPECTED_FIN", 1002);
  });

  test("fragmentation order", () => {
    const orphan = clientFrame(0, "x");
    expect(failWith("server", orphan), "WS_ERR_INVALID_OPCODE", 1002);
    const nested = concat(
      clientFrame(1, "a", { fin: false }),
      clientFrame(1, "b"),
    );
    expect(failWith("server", nested), "WS_ERR_INVALID_OPCODE", 1002);
  });

  test("64-bit lengths: top bit set, over 2^53", () => {
    const mask = [1, 2, 3, 4];
    const top = bytes(0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, ...mask);
    expect(failWith("server", top), "WS_ERR_INVALID_PAYLOAD_LENGTH", 1002);
    const huge = bytes(0x82, 0xff, 0, 0x20, 0, 0, 0, 0, 0, 0, ...mask);
    expect(
      failWith("server", huge),
      "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
      1009,
    );
  });
});

describe("errors: messages and closes", () => {
  test("a message over maxMessageSize, whole or in fragments", () => {
    const whole = clientFrame(2, new Uint8Array(11));
    expect(
      failWith("server", whole, { maxMessageSize: 10 }),
      "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
      1009,
    );
    const parts = concat(
      clientFrame(2, new Uint8Array(6), { fin: false }),
      clientFrame(0, new Uint8Array(6)),
    );
    expect(
      failWith("server", parts, { maxMessageSize: 10 }),
      "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
      1009,
    );
  });

  test("a message in too many fragments", () => {
    const parts = concat(
      clientFrame(1, "a", { fin: false }),
      clientFrame(0, "b", { fin: false }),
      clientFrame(0, "c"),
    );
    expect(
      failWith("server", parts, { maxFragments: 2 }),
      "WS_ERR_TOO_MANY_FRAGMENTS",
      1009,
    );
  });

  test("invalid UTF-8: a text message, a truncated one, a close reason", () => {
    const bad = clientFrame(1, bytes(0x68, 0xc3, 0x28));
    expect(failWith("server", bad), "WS_ERR_INVALID_UTF8", 1007);
    const cut = concat(
      clientFrame(1, bytes(0x68), { fin: false }),
      clientFrame(0, bytes(0xe2, 0x82)),
    );
    expect(failWith("server", cut), "WS_ERR_INVALID_UTF8", 1007);
    const reason = concat(closeBody(1000), bytes(0xff));
    expect(
      failWith("server", clientFrame(8, reason)),
      "WS_ERR_INVALID_UTF8",
      1007,
    );
  });

  test("a close frame: bad code, 1-byte payload", () => {
    for (const code of [999, 1005, 1006, 1015, 2999, 5000]) {
      expect(
        failWith("server", clientFrame(8, closeBody(code))),
        pending("WS_ERR_INVALID_CLOSE_CODE"),
        1002,
      );
    }
    expect(
      failWith("server", clientFrame(8, bytes(3))),
      pending("WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH"),
      1002,
    );
  });

  test("reserved bits on a control frame an extension does not own", () => {
    const ext = passThrough(() => new Uint8Array(0));
    const ping = clientFrame(9, "x", { rsv: 4 });
    expect(
      failWith("server", ping, { activeExtensions: [ext] }),
      pending("WS_ERR_UNEXPECTED_RSV_1"),
      1002,
    );
  });
});

describe("errors: permessage-deflate", () => {
  const opened = () => {
    const ends = handshake({ client: [pmd()], server: [pmd()] });
    assert.equal(ends.events[0].type, "open");
    return ends.server;
  };

  test("data that does not inflate", () => {
    const bad = clientFrame(2, bytes(0xff, 0xff, 0xff, 0xff), { rsv: 4 });
    expect(
      errorOf(opened().receive(bad)),
      "WS_ERR_INVALID_COMPRESSED_DATA",
      1007,
    );
  });

  test("a message over maxMessageSize once inflated", () => {
    const ends = handshake({
      client: [pmd()],
      server: [pmd()],
      maxMessageSize: 1000,
    });
    ends.client.send("a".repeat(5000));
    const events = ends.client.takeOutput().flatMap((chunk) => [
      ...ends.server.receive(chunk.slice()),
    ]);
    expect(errorOf(events), "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH", 1009);
  });

  test("a bad extensions response fails the client's handshake", () => {
    for (const response of ["permessage-deflate; bogus", "x-unknown", "a b"]) {
      const { events } = handshake({ client: [pmd()], response });
      expect(errorOf(events), "WS_ERR_INVALID_EXTENSION", 1006, 101);
    }
  });
});

/** An extension owning RSV1 whose decode does `decode`. */
function passThrough(decode: () => Uint8Array): Extension {
  return {
    name: "x-test",
    rsv: 4,
    response: "x-test",
    encode: (payload) => ({ payload, rsv: 0 }),
    decode,
    dispose() {},
  };
}

describe("errors: a bug in wskit or an extension", () => {
  test("an extension's TypeError: 1011, WS_ERR_INTERNAL, kept as cause", () => {
    const bug = new TypeError("undefined is not a function");
    const ext = passThrough(() => {
      throw bug;
    });
    const event = failWith("server", clientFrame(2, "x", { rsv: 4 }), {
      activeExtensions: [ext],
    });
    expect(event, "WS_ERR_INTERNAL", 1011);
    assert.equal(event.cause, bug);
    assert.ok(!(bug instanceof PeerError));
  });

  test("an extension's ProtocolError keeps its code and id, no cause", () => {
    const ext = passThrough(() => {
      throw new ProtocolError(1009, "too big");
    });
    const event = failWith("server", clientFrame(2, "x", { rsv: 4 }), {
      activeExtensions: [ext],
    });
    expect(event, "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH", 1009);
    assert.equal(event.cause, undefined);
  });
});

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
    expect(
      responseFails(["HTTP/1.1 403 Forbidden", ...good.slice(1)]),
      "WS_ERR_UNEXPECTED_STATUS",
      1006,
      403,
    );
    expect(
      responseFails(without("Upgrade")),
      "WS_ERR_INVALID_UPGRADE_HEADER",
      1006,
      101,
    );
    expect(
      responseFails([...without("Upgrade"), "Upgrade: h2c"]),
      "WS_ERR_INVALID_UPGRADE_HEADER",
      1006,
      101,
    );
    expect(
      responseFails([...without("Connection"), "Connection: close"]),
      "WS_ERR_INVALID_CONNECTION_HEADER",
      1006,
      101,
    );
    expect(
      responseFails(without("Sec-WebSocket-Accept")),
      "WS_ERR_INVALID_ACCEPT",
      1006,
      101,
    );
    expect(
      responseFails([
        ...without("Sec-WebSocket-Accept"),
        "Sec-WebSocket-Accept: x",
      ]),
      "WS_ERR_INVALID_ACCEPT",
      1006,
      101,
    );
    expect(
      responseFails([...good, "Sec-WebSocket-Protocol: mqtt"]),
      "WS_ERR_INVALID_SUBPROTOCOL",
      1006,
      101,
    );
    expect(
      responseFails([...good, "Sec-WebSocket-Extensions: permessage-deflate"]),
      "WS_ERR_INVALID_EXTENSION",
      1006,
      101,
    );
  });

  test("a malformed or oversized head", () => {
    expect(
      responseFails(["HTTP/1.1 101 OK", "Bad Header"]),
      "WS_ERR_INVALID_HTTP",
      1006,
      400,
    );
    expect(
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
      expect(event, id, 1006, status);
      assert.equal(answer, status);
    });
  }

  test("too much data while the application decides: WS_ERR_EARLY_DATA_LIMIT", () => {
    const { event, answer } = requestFails(good, new Uint8Array(300));
    expect(event, "WS_ERR_EARLY_DATA_LIMIT", 1006, 400);
    assert.equal(answer, 400);
  });
});

describe("errors: local failures have ids too", () => {
  test("timeouts, transport closes, abort() and fail()", () => {
    const connecting = () => Connection.client("ws://h/");
    expect(errorOf(connecting().timeout()), "WS_ERR_HANDSHAKE_TIMEOUT", 1006);
    expect(
      errorOf(connecting().transportClosed()),
      "WS_ERR_CONNECTION_CLOSED",
      1006,
    );
    expect(errorOf(connecting().abort("gone")), "WS_ERR_ABORTED", 1006);
    expect(errorOf(connecting().close()), "WS_ERR_ABORTED", 1006);
    const open = new Connection({ role: "client" });
    open.close(1000);
    expect(errorOf(open.timeout()), "WS_ERR_CLOSE_TIMEOUT", 1006);
    const failed = new Connection({ role: "server" });
    expect(errorOf(failed.fail(1008, "rate")), "WS_ERR_FAILED", 1008);
    const tagged = new Connection({ role: "server" });
    expect(
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

describe("errors: the classes", () => {
  test("PeerError, ProtocolError, HandshakeError, HttpError", () => {
    const peer = new PeerError(1002, "m", "WS_ERR_INVALID_OPCODE", {
      status: 400,
    });
    assert.equal(peer.name, "PeerError");
    assert.deepEqual([peer.code, peer.id, peer.status], [
      1002,
      "WS_ERR_INVALID_OPCODE",
      400,
    ]);
    const protocol = new ProtocolError(1002, "m");
    assert.ok(protocol instanceof PeerError);
    assert.equal(protocol.name, "ProtocolError");
    assert.equal(protocol.id, "WS_ERR_PROTOCOL");
    assert.equal(protocol.status, undefined);
    assert.equal(new ProtocolError(1007, "m").id, "WS_ERR_INVALID_UTF8");
    assert.equal(
      new ProtocolError(1009, "m").id,
      "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
    );
    assert.equal(
      new ProtocolError(1002, "m", "WS_ERR_EXPECTED_FIN").id,
      "WS_ERR_EXPECTED_FIN",
    );
    const handshakeError = new HandshakeError(
      "m",
      426,
      "WS_ERR_UNSUPPORTED_VERSION",
    );
    assert.ok(handshakeError instanceof PeerError);
    assert.deepEqual(
      [handshakeError.code, handshakeError.status, handshakeError.id],
      [1006, 426, "WS_ERR_UNSUPPORTED_VERSION"],
    );
    const http = new HttpError(431, "m");
    assert.ok(http instanceof PeerError);
    assert.deepEqual([http.status, http.id], [431, "WS_ERR_HEADERS_TOO_LARGE"]);
    assert.equal(new HttpError(400, "m").id, "WS_ERR_INVALID_HTTP");
    const localError = new LocalError("state", "m");
    assert.equal(localError.name, "LocalError");
    assert.ok(!(localError instanceof PeerError));
  });

  test("ERROR_IDS is frozen and lists ws's ids where they apply", () => {
    assert.ok(Object.isFrozen(ERROR_IDS));
    for (
      const id of [
        "WS_ERR_INVALID_OPCODE",
        "WS_ERR_UNEXPECTED_RSV_1",
        "WS_ERR_UNEXPECTED_RSV_2_3",
        "WS_ERR_EXPECTED_FIN",
        "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
        "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
        "WS_ERR_EXPECTED_MASK",
        "WS_ERR_UNEXPECTED_MASK",
        "WS_ERR_INVALID_CLOSE_CODE",
        "WS_ERR_INVALID_UTF8",
        "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
      ]
    ) assert.equal(typeof ERROR_IDS[id as ErrorId], "string", id);
    for (const id of Object.keys(ERROR_IDS)) {
      assert.match(id, /^WS_ERR_[A-Z0-9_]+$/);
    }
  });

  test("a frame with several faults reports the first the decoder checks", () => {
    // RSV2 and a reserved opcode: the bits are checked first, as in ws.
    const frame = rawFrame(0x3, "x", { rsv: 2 });
    expect(failWith("server", frame), "WS_ERR_UNEXPECTED_RSV_2_3", 1002);
  });
});
