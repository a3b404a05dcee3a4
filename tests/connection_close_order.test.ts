/**
 * Core (no network): replies the application queues while handling the
 * events of a chunk that ends with a close frame or a protocol violation
 * come out of `takeOutput()` before our close frame.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Connection,
  type ConnectionEvent,
  ReadyState,
} from "../core/connection.ts";
import { computeAccept } from "../core/handshake.ts";
import {
  clientFrame,
  closeBody,
  concat,
  messages,
  output,
  serverFrame,
} from "./helpers.ts";

const enc = new TextEncoder();

/** What a peer of `role` makes of `bytes`: messages and the close, in order. */
function peerSees(
  role: "client" | "server",
  bytes: Uint8Array,
): string[] {
  const peer = new Connection({ role });
  return peer.receive(bytes.slice()).flatMap((e) => {
    if (e.type === "message") return [`message:${String(e.data)}`];
    if (e.type === "close") return [`close:${e.code}`];
    return [];
  });
}

/** Handles `events` as an echo application would: replies to each message. */
function echo(conn: Connection, events: readonly ConnectionEvent[]): void {
  for (const data of messages(events)) {
    assert.equal(conn.canSend, true, "still possible to reply");
    conn.send(`echo:${String(data)}`);
  }
}

describe("connection: replies before our close frame", () => {
  test("server: messages then the peer's close in one chunk", () => {
    const conn = new Connection({ role: "server" });
    const events = conn.receive(
      concat(
        clientFrame(1, "a"),
        clientFrame(1, "b"),
        clientFrame(8, closeBody(1000, "bye")),
      ),
    );
    assert.deepEqual(events.map((e) => e.type), [
      "message",
      "message",
      "close",
    ]);
    echo(conn, events);
    assert.deepEqual(peerSees("client", output(conn)), [
      "message:echo:a",
      "message:echo:b",
      "close:1000",
    ]);
    assert.equal(conn.canSend, false, "nothing may follow the close frame");
  });

  const violations: [string, Uint8Array, number][] = [
    ["RSV1 set", clientFrame(1, "x", { rsv: 4 }), 1002],
    ["a reserved opcode", clientFrame(3, "x"), 1002],
    ["invalid UTF-8", clientFrame(1, new Uint8Array([0xc3, 0x28])), 1007],
    ["a 1-byte close payload", clientFrame(8, new Uint8Array([3])), 1002],
  ];
  for (const [what, bad, code] of violations) {
    test(`server: a message then ${what} in one chunk`, () => {
      const conn = new Connection({ role: "server" });
      const events = conn.receive(concat(clientFrame(1, "ok"), bad));
      assert.deepEqual(events.map((e) => e.type), [
        "message",
        "error",
        "close",
      ]);
      assert.equal(conn.state, ReadyState.CLOSED);
      echo(conn, events);
      assert.deepEqual(peerSees("client", output(conn)), [
        "message:echo:ok",
        `close:${code}`,
      ]);
      assert.equal(conn.wantsTransportClose, true);
    });
  }

  test("client: 101, a text frame and a close in one chunk", () => {
    const conn = Connection.client("ws://example.test/");
    const request = new TextDecoder().decode(output(conn));
    const key = /sec-websocket-key: *(\S+)/i.exec(request)![1];
    const response = enc.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
    );
    const events = conn.receive(
      concat(response, serverFrame(1, "hi"), serverFrame(8, closeBody(1000))),
    );
    assert.deepEqual(events.map((e) => e.type), ["open", "message", "close"]);
    echo(conn, events);
    assert.deepEqual(peerSees("server", output(conn)), [
      "message:echo:hi",
      "close:1000",
    ]);
  });

  test("server: frames pipelined with the upgrade request, then accept()", () => {
    const conn = Connection.server();
    const request = enc.encode(
      "GET / HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    const first = conn.receive(
      concat(request, clientFrame(1, "early"), clientFrame(8, closeBody(1000))),
    );
    assert.deepEqual(first.map((e) => e.type), ["request"]);
    const events = conn.accept();
    assert.deepEqual(events.map((e) => e.type), ["open", "message", "close"]);
    echo(conn, events);
    const out = output(conn);
    const text = new TextDecoder().decode(out);
    assert.match(text, /^HTTP\/1\.1 101 /);
    const head = text.indexOf("\r\n\r\n") + 4;
    assert.deepEqual(peerSees("client", out.subarray(head)), [
      "message:echo:early",
      "close:1000",
    ]);
  });

  test("fail() by the application queues its close frame at once", () => {
    const conn = new Connection({ role: "server" });
    conn.fail(1008, "policy");
    assert.equal(conn.canSend, false);
    assert.throws(() => conn.send("late"));
    assert.deepEqual(peerSees("client", output(conn)), ["close:1008"]);
  });
});
