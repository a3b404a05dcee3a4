// The core's timer contract (`Connection.timer`): which wait is in effect in
// each state, for how long, and that the same wait is the same object.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Connection,
  type ConnectionOptions,
  ReadyState,
} from "../core/connection.ts";
import { feed, output, pump } from "./helpers.ts";

const encoder = new TextEncoder();

/** A client and a server, the opening handshake done between them. */
function openPair(
  options: ConnectionOptions = {},
): { c: Connection; s: Connection } {
  const c = Connection.client("ws://example.com/", options);
  const s = Connection.server(options);
  assert.equal(pump(c, s)[0].type, "request");
  s.accept();
  assert.equal(pump(s, c)[0].type, "open");
  return { c, s };
}

test("timer: the opening handshake waits handshakeTimeout (default 10000), the same object until open", () => {
  const c = Connection.client("ws://example.com/");
  const timer = c.timer;
  assert.deepEqual(timer, { kind: "handshake", ms: 10000 });
  assert.equal(c.timer, timer, "the same object while the wait lasts");
  const s = Connection.server({ handshakeTimeout: 250 });
  assert.deepEqual(s.timer, { kind: "handshake", ms: 250 });
  assert.equal(pump(c, s)[0].type, "request");
  assert.equal(s.timer?.kind, "handshake", "still waiting for a decision");
  s.accept();
  assert.equal(s.timer, undefined, "none while OPEN");
  pump(s, c);
  assert.equal(c.state, ReadyState.OPEN);
  assert.equal(c.timer, undefined);
  assert.equal(new Connection({ role: "client" }).timer, undefined);
});

test("timer: a handshake timer that fires fails with 1006; a client then lingers 0 ms", () => {
  const c = Connection.client("ws://example.com/", { lingerTimeout: 700 });
  const events = c.timeout();
  assert.deepEqual(events.map((e) => e.type), ["error", "close"]);
  assert.equal(events[1].type === "close" && events[1].code, 1006);
  assert.equal(c.wantsTransportClose, true);
  assert.deepEqual(c.timer, { kind: "linger", ms: 0 });
});

test("timer: a client whose handshake response is refused lingers 0 ms", () => {
  const c = Connection.client("ws://example.com/");
  c.takeOutput();
  c.receive(encoder.encode("HTTP/1.1 403 Forbidden\r\n\r\n"));
  assert.equal(c.state, ReadyState.CLOSED);
  assert.equal(c.wantsTransportClose, true);
  assert.deepEqual(c.timer, { kind: "linger", ms: 0 });
});

test("timer: a server that rejects a handshake ends the transport and lingers", () => {
  const s = Connection.server({ closeTimeout: 300 });
  s.receive(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  assert.equal(s.state, ReadyState.CLOSED);
  assert.equal(s.wantsTransportClose, true);
  assert.deepEqual(s.timer, { kind: "linger", ms: 300 });
});

test("timer: our close waits closeTimeout for the peer's; expiry fails with 1006", () => {
  const { c } = openPair({ closeTimeout: 1234 });
  c.close(1000);
  const timer = c.timer;
  assert.deepEqual(timer, { kind: "close", ms: 1234 });
  assert.equal(c.timer, timer);
  c.takeOutput();
  assert.equal(c.timer, timer, "writing the output changes no wait");
  const events = c.timeout();
  const close = events.find((e) => e.type === "close");
  assert.ok(close?.type === "close" && close.code === 1006 && !close.wasClean);
  assert.equal(c.wantsTransportClose, true);
  assert.deepEqual(c.timer, { kind: "linger", ms: 1234 });
});

test("timer: lingerTimeout defaults to closeTimeout, and to 5000", () => {
  for (
    const [options, ms] of [
      [{}, 5000],
      [{ closeTimeout: 40 }, 40],
      [{ closeTimeout: 40, lingerTimeout: 900 }, 900],
    ] as const
  ) {
    const { c, s } = openPair(options);
    c.close(1000);
    pump(c, s); // the server answers and wants the transport ended
    assert.equal(s.wantsTransportClose, true);
    assert.deepEqual(s.timer, { kind: "linger", ms }, JSON.stringify(options));
    pump(s, c); // a clean close: the client waits for the server's FIN
    assert.equal(c.state, ReadyState.CLOSED);
    assert.equal(c.wantsTransportClose, false);
    assert.deepEqual(c.timer, { kind: "linger", ms }, JSON.stringify(options));
  }
});

test("timer: the peer's close lingers at once, the same object through takeOutput()", () => {
  const { c, s } = openPair({ lingerTimeout: 77 });
  s.close(4000);
  pump(s, c);
  const timer = c.timer;
  assert.deepEqual(timer, { kind: "linger", ms: 77 });
  assert.equal(c.canSend, true, "the echo is still to be taken");
  output(c);
  assert.equal(c.canSend, false);
  assert.equal(c.timer, timer);
});

test("timer: a failure ends the transport and lingers lingerTimeout", () => {
  const s = new Connection({ role: "server", lingerTimeout: 55 });
  feed(s, new Uint8Array([0x81, 0x05, 1, 2, 3, 4, 5])); // unmasked: 1002
  assert.equal(s.wantsTransportClose, true);
  assert.deepEqual(s.timer, { kind: "linger", ms: 55 });
  const f = new Connection({ role: "client" });
  f.fail(1008, "policy");
  assert.deepEqual(f.timer, { kind: "linger", ms: 5000 });
});

test("timer: undefined after transportClosed(), whatever the state", () => {
  const connecting = Connection.client("ws://example.com/");
  connecting.transportClosed();
  assert.equal(connecting.timer, undefined);
  const { c, s } = openPair();
  c.close();
  assert.equal(c.timer?.kind, "close");
  c.transportClosed();
  assert.equal(c.timer, undefined);
  assert.equal(c.wantsTransportClose, true);
  s.fail(1001, "going away");
  assert.equal(s.timer?.kind, "linger");
  s.transportClosed();
  assert.equal(s.timer, undefined);
  s.timeout();
  assert.equal(s.timer, undefined);
});
