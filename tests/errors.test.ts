/**
 * The error model (issue 13 step 5) in received data: every peer violation
 * fails the connection with its close code and a stable id on the `error`
 * event; a bug fails it with 1011 `WS_ERR_INTERNAL` keeping the exception
 * as `cause`. Handshakes and local misuse: errors_handshake.test.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Connection, type ConnectionOptions } from "../core/connection.ts";
import {
  ERROR_IDS,
  type ErrorId,
  LocalError,
  PeerError,
  ProtocolError,
} from "../core/errors.ts";
import type { Extension } from "../core/extension.ts";
import { HandshakeError } from "../core/handshake.ts";
import { HttpError } from "../core/http.ts";
import {
  clientFrame,
  closeBody,
  concat,
  rawFrame,
  serverFrame,
} from "./helpers.ts";
import { handshake, pmd } from "./deflate_helpers.ts";
import { type ErrorEvent, errorOf, expectError } from "./error_helpers.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

/** Feeds `chunk` to an open connection of `role`; returns its error event. */
function failWith(
  role: "client" | "server",
  chunk: Uint8Array,
  options: ConnectionOptions & { activeExtensions?: Extension[] } = {},
): ErrorEvent {
  const conn = new Connection({ role, ...options });
  return errorOf(conn.receive(chunk));
}

describe("errors: frames", () => {
  test("a reserved opcode", () => {
    expectError(
      failWith("server", clientFrame(0x3)),
      "WS_ERR_INVALID_OPCODE",
      1002,
    );
    expectError(
      failWith("server", clientFrame(0xb)),
      "WS_ERR_INVALID_OPCODE",
      1002,
    );
  });

  test("reserved bits without an extension", () => {
    const rsv1 = clientFrame(1, "x", { rsv: 4 });
    expectError(failWith("server", rsv1), "WS_ERR_UNEXPECTED_RSV_1", 1002);
    const rsv2 = clientFrame(1, "x", { rsv: 2 });
    expectError(failWith("server", rsv2), "WS_ERR_UNEXPECTED_RSV_2_3", 1002);
    const rsv3 = clientFrame(2, "x", { rsv: 1 });
    expectError(failWith("server", rsv3), "WS_ERR_UNEXPECTED_RSV_2_3", 1002);
  });

  test("masking: unmasked from a client, masked from a server", () => {
    expectError(
      failWith("server", serverFrame(1, "x")),
      "WS_ERR_EXPECTED_MASK",
      1002,
    );
    expectError(
      failWith("client", clientFrame(1, "x")),
      "WS_ERR_UNEXPECTED_MASK",
      1002,
    );
  });

  test("control frames: too long, fragmented", () => {
    const long = clientFrame(0x9, new Uint8Array(126));
    expectError(
      failWith("server", long),
      "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
      1002,
    );
    const split = clientFrame(0x9, "x", { fin: false });
    expectError(failWith("server", split), "WS_ERR_EXPECTED_FIN", 1002);
  });

  test("fragmentation order", () => {
    const orphan = clientFrame(0, "x");
    expectError(failWith("server", orphan), "WS_ERR_INVALID_OPCODE", 1002);
    const nested = concat(
      clientFrame(1, "a", { fin: false }),
      clientFrame(1, "b"),
    );
    expectError(failWith("server", nested), "WS_ERR_INVALID_OPCODE", 1002);
  });

  test("64-bit lengths: top bit set, over 2^53", () => {
    const mask = [1, 2, 3, 4];
    const top = bytes(0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, ...mask);
    expectError(failWith("server", top), "WS_ERR_INVALID_PAYLOAD_LENGTH", 1002);
    const huge = bytes(0x82, 0xff, 0, 0x20, 0, 0, 0, 0, 0, 0, ...mask);
    expectError(
      failWith("server", huge),
      "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
      1009,
    );
  });
});

describe("errors: messages and closes", () => {
  test("a message over maxMessageSize, whole or in fragments", () => {
    const whole = clientFrame(2, new Uint8Array(11));
    expectError(
      failWith("server", whole, { maxMessageSize: 10 }),
      "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
      1009,
    );
    const parts = concat(
      clientFrame(2, new Uint8Array(6), { fin: false }),
      clientFrame(0, new Uint8Array(6)),
    );
    expectError(
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
    expectError(
      failWith("server", parts, { maxFragments: 2 }),
      "WS_ERR_TOO_MANY_FRAGMENTS",
      1009,
    );
  });

  test("invalid UTF-8: a text message, a truncated one, a close reason", () => {
    const bad = clientFrame(1, bytes(0x68, 0xc3, 0x28));
    expectError(failWith("server", bad), "WS_ERR_INVALID_UTF8", 1007);
    const cut = concat(
      clientFrame(1, bytes(0x68), { fin: false }),
      clientFrame(0, bytes(0xe2, 0x82)),
    );
    expectError(failWith("server", cut), "WS_ERR_INVALID_UTF8", 1007);
    const reason = concat(closeBody(1000), bytes(0xff));
    expectError(
      failWith("server", clientFrame(8, reason)),
      "WS_ERR_INVALID_UTF8",
      1007,
    );
  });

  test("a close frame: bad code, 1-byte payload", () => {
    for (const code of [999, 1005, 1006, 1015, 2999, 5000]) {
      expectError(
        failWith("server", clientFrame(8, closeBody(code))),
        "WS_ERR_INVALID_CLOSE_CODE",
        1002,
      );
    }
    expectError(
      failWith("server", clientFrame(8, bytes(3))),
      "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
      1002,
    );
  });

  test("reserved bits on a control frame an extension does not own", () => {
    const ext = passThrough(() => new Uint8Array(0));
    const ping = clientFrame(9, "x", { rsv: 4 });
    expectError(
      failWith("server", ping, { activeExtensions: [ext] }),
      "WS_ERR_UNEXPECTED_RSV_1",
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
    expectError(
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
    expectError(errorOf(events), "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH", 1009);
  });

  test("a bad extensions response fails the client's handshake", () => {
    for (const response of ["permessage-deflate; bogus", "x-unknown", "a b"]) {
      const { events } = handshake({ client: [pmd()], response });
      expectError(errorOf(events), "WS_ERR_INVALID_EXTENSION", 1006, 101);
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
    expectError(event, "WS_ERR_INTERNAL", 1011);
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
    expectError(event, "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH", 1009);
    assert.equal(event.cause, undefined);
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
    expectError(failWith("server", frame), "WS_ERR_UNEXPECTED_RSV_2_3", 1002);
  });
});
