import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalError } from "../core/errors.ts";
import fc from "fast-check";
import {
  Connection,
  type ConnectionEvent,
  ReadyState,
} from "../core/connection.ts";
import {
  clientFrame,
  closeBody,
  closeOf,
  concat,
  feed,
  messages,
  output,
  pump,
  serverFrame,
  VALID_CLOSE_CODES,
} from "./helpers.ts";

const server = (opts = {}) => new Connection({ role: "server", ...opts });
const client = (opts = {}) => new Connection({ role: "client", ...opts });
const bytes = (...b: number[]) => new Uint8Array(b);

/** Asserts the server failed with `code`, sent a close frame with it and wants the transport closed. */
function assertFailed(
  conn: Connection,
  events: readonly ConnectionEvent[],
  code: number,
): void {
  const close = closeOf(events);
  assert.equal(close.code, code);
  assert.equal(close.wasClean, false);
  const error = events.find((e) => e.type === "error");
  assert.ok(
    error && error.type === "error" && error.code === code,
    "an error event with the code",
  );
  const out = output(conn);
  assert.equal(out[0], 0x88, "a close frame was sent");
  assert.equal((out[2] << 8) | out[3], code);
  assert.equal(conn.state, ReadyState.CLOSED);
  assert.equal(conn.wantsTransportClose, true);
}

test("connection: text and binary messages come out typed", () => {
  const s = server();
  const events = feed(
    s,
    concat(
      clientFrame(1, "héllo"),
      clientFrame(2, bytes(1, 2, 3)),
      clientFrame(2),
    ),
  );
  assert.deepEqual(messages(events), [
    "héllo",
    bytes(1, 2, 3),
    new Uint8Array(0),
  ]);
});

test("connection: fragmented message with interleaved control frames", () => {
  const s = server();
  const events = feed(
    s,
    concat(
      clientFrame(1, "frag", { fin: false }),
      clientFrame(9, "ping"),
      clientFrame(0, "men", { fin: false }),
      clientFrame(10, "pong"),
      clientFrame(0, "ted"),
    ),
    3,
  );
  assert.deepEqual(events.map((e) => e.type), ["ping", "pong", "message"]);
  assert.deepEqual(messages(events), ["fragmented"]);
  assert.deepEqual(
    output(s),
    concat(bytes(0x8a, 4), new TextEncoder().encode("ping")),
  );
});

test("connection: ping is answered with a pong carrying its payload", () => {
  const c = client();
  const events = feed(c, serverFrame(9, bytes(1, 2, 3)));
  assert.equal(events[0].type, "ping");
  const out = output(c);
  assert.equal(out[0], 0x8a);
  assert.equal(out[1], 0x83, "client pong is masked");
  const s = server();
  const echoed = feed(s, out);
  assert.deepEqual(echoed, [{ type: "pong", data: bytes(1, 2, 3) }]);
});

test("connection: continuation with nothing to continue fails with 1002", () => {
  const s = server();
  assertFailed(s, feed(s, clientFrame(0, "x")), 1002);
});

test("connection: new data frame inside a fragmented message fails with 1002", () => {
  const s = server();
  assertFailed(
    s,
    feed(s, concat(clientFrame(1, "a", { fin: false }), clientFrame(2, "b"))),
    1002,
  );
});

test("connection: invalid UTF-8 fails with 1007 at the first bad byte, mid-fragment", () => {
  const s = server();
  // The first fragment is valid, the second has a bad byte, and the message never ends.
  const first = feed(s, clientFrame(1, "ok", { fin: false }));
  assert.deepEqual(first, []);
  const bad = clientFrame(
    0,
    concat(bytes(0x61, 0xff), new Uint8Array(100).fill(0x61)),
    { fin: false },
  );
  // Deliver only the header and the first two payload bytes: failure is immediate.
  const events = feed(s, bad.subarray(0, 2 + 4 + 2));
  assertFailed(s, events, 1007);
});

test("connection: text ending inside a character fails with 1007", () => {
  const s = server();
  assertFailed(s, feed(s, clientFrame(1, bytes(0xe2, 0x82))), 1007);
});

test("connection: the 1007 reason does not depend on how the frame is split", () => {
  // Found by the fuzzer: a whole frame took a fast path with a different reason.
  const truncated = bytes(0x61, 0xe2, 0x82);
  const invalid = bytes(0x61, 0xff, 0x62);
  for (
    const [payload, reason] of [[truncated, "ends inside"], [
      invalid,
      "invalid",
    ]] as const
  ) {
    const frame = clientFrame(1, payload);
    const reasons = [[frame], [frame.subarray(0, 7), frame.subarray(7)]].map(
      (chunks) => {
        const s = server();
        const events = chunks.flatMap((c) => feed(s, c));
        const close = events.find((e) => e.type === "close");
        assert.equal(close?.type, "close");
        assert.equal(close.code, 1007);
        return close.reason;
      },
    );
    assert.equal(reasons[0], reasons[1]);
    assert.match(reasons[0], new RegExp(reason));
  }
});

test("connection: a character split across fragments is accepted", () => {
  const s = server();
  const euro = new TextEncoder().encode("€");
  const events = feed(
    s,
    concat(
      clientFrame(1, euro.subarray(0, 1), { fin: false }),
      clientFrame(0, euro.subarray(1)),
    ),
  );
  assert.deepEqual(messages(events), ["€"]);
});

test("connection: message size is checked at the frame header, before the payload (1009)", () => {
  const s = server({ maxMessageSize: 1000 });
  const header = clientFrame(2, new Uint8Array(1001)).subarray(0, 8); // header + mask key only
  assertFailed(s, feed(s, header), 1009);
});

test("connection: message size counts every fragment", () => {
  const s = server({ maxMessageSize: 10 });
  const ok = feed(
    s,
    concat(
      clientFrame(2, new Uint8Array(5), { fin: false }),
      clientFrame(0, new Uint8Array(5)),
    ),
  );
  assert.equal(messages(ok).length, 1);
  const events = feed(
    s,
    concat(
      clientFrame(2, new Uint8Array(6), { fin: false }),
      clientFrame(0, new Uint8Array(5)),
    ),
  );
  assertFailed(s, events, 1009);
});

test("connection: empty continuations are bounded by maxFragments", () => {
  const s = server({ maxFragments: 100 });
  const frames = [clientFrame(2, "", { fin: false })];
  for (let i = 0; i < 200; i++) frames.push(clientFrame(0, "", { fin: false }));
  assertFailed(s, feed(s, concat(...frames)), 1009);
});

test("connection: by default a 4 MiB message in 64-byte fragments is accepted", () => {
  const s = server();
  const chunk = new Uint8Array(64).fill(0x41);
  const count = 65536;
  const one = clientFrame(0, chunk, { fin: false });
  const all = new Uint8Array(one.length * count);
  for (let i = 0; i < count; i++) all.set(one, i * one.length);
  all.set(clientFrame(2, chunk, { fin: false }), 0);
  all.set(clientFrame(0, chunk), (count - 1) * one.length);
  const events = feed(s, all, 65536);
  const [msg] = messages(events) as Uint8Array[];
  assert.equal(msg.length, 4 * 1024 * 1024);
  assert.equal(msg[4 * 1024 * 1024 - 1], 0x41);
});

test("connection: one-byte chunks of a 64 KiB message in 1-byte fragments", () => {
  const s = server();
  const text = "x".repeat(65536);
  const frames = [clientFrame(1, "x", { fin: false })];
  for (let i = 1; i < 65535; i++) {
    frames.push(clientFrame(0, "x", { fin: false }));
  }
  frames.push(clientFrame(0, "x"));
  const events = feed(s, concat(...frames), 7);
  assert.deepEqual(messages(events), [text]);
});

test("connection: peer close is echoed with its code and ends cleanly", () => {
  const s = server();
  const events = feed(s, clientFrame(8, closeBody(1000, "bye")));
  assert.deepEqual(closeOf(events), {
    type: "close",
    code: 1000,
    reason: "bye",
    wasClean: true,
  });
  assert.deepEqual(
    output(s),
    concat(bytes(0x88, 0x05, 0x03, 0xe8), new TextEncoder().encode("bye")),
  );
  assert.equal(s.state, ReadyState.CLOSED);
  assert.equal(
    s.wantsTransportClose,
    true,
    "the server closes the transport first",
  );
});

test("connection: empty close is answered with an empty close and reported as 1005", () => {
  const s = server();
  const events = feed(s, clientFrame(8));
  assert.equal(closeOf(events).code, 1005);
  assert.deepEqual(output(s), bytes(0x88, 0x00));
});

test("connection: every valid close code is accepted", () => {
  for (const code of VALID_CLOSE_CODES) {
    const s = server();
    const close = closeOf(feed(s, clientFrame(8, closeBody(code))));
    assert.equal(close.code, code);
    assert.equal(close.wasClean, true);
  }
});

test("connection: invalid close codes fail with 1002", () => {
  const invalid = [
    0,
    999,
    1004,
    1005,
    1006,
    1015,
    1016,
    1100,
    2000,
    2999,
    5000,
    65535,
  ];
  for (const code of invalid) {
    const s = server();
    assertFailed(s, feed(s, clientFrame(8, closeBody(code))), 1002);
  }
});

test("connection: a 1-byte close payload fails with 1002", () => {
  const s = server();
  assertFailed(s, feed(s, clientFrame(8, bytes(3))), 1002);
});

test("connection: a close reason that is not UTF-8 fails with 1007", () => {
  const s = server();
  assertFailed(
    s,
    feed(
      s,
      clientFrame(8, concat(closeBody(1000), bytes(0xce, 0xba, 0xe1, 0xbd))),
    ),
    1007,
  );
});

test("connection: local close waits for the peer's close, then is clean", () => {
  const c = client();
  const s = server();
  assert.deepEqual(c.close(4000, "done"), []);
  assert.equal(c.state, ReadyState.CLOSING);
  assert.deepEqual(c.timer, { kind: "close", ms: 5000 });
  const serverEvents = pump(c, s);
  assert.deepEqual(closeOf(serverEvents), {
    type: "close",
    code: 4000,
    reason: "done",
    wasClean: true,
  });
  const clientEvents = pump(s, c);
  assert.deepEqual(closeOf(clientEvents), {
    type: "close",
    code: 4000,
    reason: "done",
    wasClean: true,
  });
  assert.equal(c.state, ReadyState.CLOSED);
  assert.equal(
    c.wantsTransportClose,
    false,
    "the client waits for the server to close",
  );
  const linger = c.timer;
  assert.deepEqual(linger, { kind: "linger", ms: 5000 });
  assert.deepEqual(c.timeout(), []);
  assert.equal(c.wantsTransportClose, true);
  assert.equal(c.timer, linger, "still the same wait");
  assert.deepEqual(c.transportClosed(), []);
  assert.equal(c.timer, undefined);
});

test("connection: close validates code and reason", () => {
  const c = client();
  for (const code of [999, 1001, 1005, 1006, 2999, 5000]) {
    assert.throws(() => c.close(code), isArgumentError);
  }
  assert.throws(
    () => c.close(1000, "é".repeat(62)),
    (e) =>
      e instanceof LocalError && e.kind === "syntax" && /123/.test(e.message),
  );
  c.close(1000, "é".repeat(61) + "x");
  assert.equal(c.state, ReadyState.CLOSING);
  assert.deepEqual(c.close(1000), [], "closing twice does nothing");
});

test("connection: close() without a code sends an empty close frame", () => {
  const s = server();
  s.close();
  assert.deepEqual(output(s), bytes(0x88, 0x00));
});

test("connection: closeWithCode allows library codes such as 1001", () => {
  const s = server();
  s.closeWithCode(1001, "shutdown");
  assert.equal(output(s)[3], 0xe9);
  assert.throws(() => server().closeWithCode(1006), isArgumentError);
});

test("connection: no data frames after a close is sent", () => {
  const s = server();
  s.close(1000);
  output(s);
  assert.throws(() => s.send("late"), /CLOSING/);
  assert.throws(() => s.ping(), /CLOSING/);
  // a ping received while closing is not answered with a pong
  const events = feed(s, clientFrame(9, "p"));
  assert.equal(events[0].type, "ping");
  assert.deepEqual(s.takeOutput(), []);
});

test("connection: messages received while closing are still delivered", () => {
  const s = server();
  s.close(1000);
  assert.deepEqual(messages(feed(s, clientFrame(1, "in flight"))), [
    "in flight",
  ]);
});

test("connection: close handshake timeout reports 1006", () => {
  const s = server();
  s.close(1000);
  const events = s.timeout();
  assert.deepEqual(closeOf(events), {
    type: "close",
    code: 1006,
    reason: "timed out waiting for the peer's close frame",
    wasClean: false,
  });
  assert.equal(s.wantsTransportClose, true);
});

test("connection: transport EOF without a close frame is 1006, not clean", () => {
  const s = server();
  const events = s.transportClosed();
  assert.deepEqual(events, [{
    type: "close",
    code: 1006,
    reason: "",
    wasClean: false,
  }]);
  assert.deepEqual(s.transportClosed(), [], "close fires exactly once");
  assert.deepEqual(s.takeOutput(), [], "1006 is never sent");
});

test("connection: bytes after the close frame are ignored", () => {
  const s = server();
  const events = feed(
    s,
    concat(
      clientFrame(8, closeBody(1000)),
      clientFrame(1, "late"),
      bytes(0xff, 0xff),
    ),
  );
  assert.deepEqual(events.map((e) => e.type), ["close"]);
});

test("connection: fail() sends the code and does not wait", () => {
  const s = server();
  const events = s.fail(1008, "rate limit");
  assertFailed(s, events, 1008);
  assert.deepEqual(s.fail(1008, "again"), []);
});

test("connection: send fragments a message when asked", () => {
  const s = server();
  s.send("abcdefgh", { fragmentSize: 3 });
  const out = output(s);
  assert.deepEqual(
    out,
    concat(
      serverFrame(1, "abc", { fin: false }),
      serverFrame(0, "def", { fin: false }),
      serverFrame(0, "gh"),
    ),
  );
  assert.throws(
    () => s.send(new Uint8Array(4), { fragmentSize: 0 }),
    isArgumentError,
  );
});

test("connection: ping payloads are limited to 125 bytes", () => {
  const c = client();
  assert.throws(() => c.ping(new Uint8Array(126)), isArgumentError);
  c.ping("x".repeat(125));
  c.pong("beat");
  const events = pump(c, server());
  assert.deepEqual(events.map((e) => e.type), ["ping", "pong"]);
});

test("connection: send accepts ArrayBuffer and other views", () => {
  const c = client();
  const s = server();
  c.send(new Uint16Array([0x0201]).buffer);
  c.send(new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2));
  const got = messages(pump(c, s));
  assert.deepEqual(got, [bytes(1, 2), bytes(8, 7)]);
});

test("connection: client and server round-trip large messages both ways", () => {
  const c = client();
  const s = server();
  const big = new Uint8Array(1 << 20).map((_, i) => i * 7);
  c.send(big);
  s.send(big);
  assert.deepEqual(messages(pump(c, s)), [big]);
  assert.deepEqual(messages(pump(s, c)), [big]);
});

test("connection: property: random messages round-trip with random fragmentation and chunking", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.oneof(
            fc.string({ unit: "grapheme" }),
            fc.uint8Array({ maxLength: 3000 }),
          ),
          fc.integer({ min: 1, max: 700 }),
        ),
        { maxLength: 8 },
      ),
      fc.integer({ min: 1, max: 5000 }),
      fc.boolean(),
      (msgs, chunk, fromClient) => {
        const a = fromClient ? client() : server();
        const b = fromClient ? server() : client();
        for (const [m, frag] of msgs) a.send(m, { fragmentSize: frag });
        const got = messages(feed(b, output(a), chunk));
        assert.deepEqual(got, msgs.map(([m]) => m));
      },
    ),
    { numRuns: 200 },
  );
});

test("connection: property: random bytes never throw and end in a close code", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }),
      fc.constantFrom("client" as const, "server" as const),
      (chunks, role) => {
        const conn = new Connection({ role, maxMessageSize: 1 << 16 });
        const events: ConnectionEvent[] = [];
        for (const chunk of chunks) events.push(...conn.receive(chunk));
        events.push(...conn.transportClosed());
        const closes = events.filter((e) => e.type === "close");
        assert.equal(closes.length, 1, "exactly one close event");
        const close = closes[0] as Extract<ConnectionEvent, { type: "close" }>;
        assert.ok(
          [1000, 1002, 1005, 1006, 1007, 1009].includes(close.code) ||
            close.code >= 1000,
        );
      },
    ),
    { numRuns: 500 },
  );
});

/** A `LocalError` of kind `"argument"` (a bad value from the caller). */
function isArgumentError(error: unknown): boolean {
  return error instanceof LocalError && error.kind === "argument";
}
