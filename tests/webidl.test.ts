/**
 * The WebIDL shape of the browser-API classes (HTML's `websockets.idl`, the
 * DOM's `CloseEvent`/`ErrorEvent`): property descriptors of the classes,
 * their prototypes and instances, the class names and `Symbol.toStringTag`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CloseEvent, WebSocket, WebSocketErrorEvent } from "../mod.ts";
import { toClampedUint16, toUnsigned, toUSVString } from "../socket/webidl.ts";
import { closed, once, startServer, urlOf } from "./net_helpers.ts";

const CONSTANTS = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };

/** Asserts `name` is a WebIDL attribute of `proto`: an enumerable, configurable accessor. */
function assertAttribute(proto: object, name: string, writable: boolean): void {
  const d = Object.getOwnPropertyDescriptor(proto, name);
  assert.ok(d !== undefined, `${name} is on the prototype`);
  assert.equal(typeof d.get, "function", `${name} has a getter`);
  assert.equal(
    typeof d.set,
    writable ? "function" : "undefined",
    `${name} setter`,
  );
  assert.equal(d.enumerable, true, `${name} is enumerable`);
  assert.equal(d.configurable, true, `${name} is configurable`);
  assert.equal(d.get!.name, `get ${name}`, `${name} getter's name`);
  if (writable) {
    assert.equal(d.set!.name, `set ${name}`, `${name} setter's name`);
  }
  // On an object that is not a WebSocket: "Illegal invocation", a TypeError.
  assert.throws(() => d.get!.call({}), TypeError, `${name} brand check`);
}

/** Asserts `name` is a WebIDL operation of `proto`. */
function assertOperation(proto: object, name: string, length: number): void {
  const d = Object.getOwnPropertyDescriptor(proto, name);
  assert.ok(d !== undefined, `${name} is on the prototype`);
  assert.equal(typeof d.value, "function", `${name} is a method`);
  assert.equal(d.enumerable, true, `${name} is enumerable`);
  assert.equal(d.writable, true, `${name} is writable`);
  assert.equal(d.configurable, true, `${name} is configurable`);
  assert.equal((d.value as () => void).length, length, `${name}.length`);
}

function assertTag(proto: object, tag: string): void {
  const d = Object.getOwnPropertyDescriptor(proto, Symbol.toStringTag);
  assert.deepEqual(d, {
    value: tag,
    writable: false,
    enumerable: false,
    configurable: true,
  });
}

describe("webidl: WebSocket", () => {
  test("class, prototype and instance have the WebIDL shape", async () => {
    const server = await startServer();
    try {
      assert.equal(WebSocket.length, 1);
      assert.equal(WebSocket.name, "WebSocket");
      const proto = WebSocket.prototype;
      for (const [name, value] of Object.entries(CONSTANTS)) {
        for (const target of [WebSocket, proto]) {
          assert.deepEqual(
            Object.getOwnPropertyDescriptor(target, name),
            { value, writable: false, enumerable: true, configurable: false },
            name,
          );
        }
      }
      for (
        const name of [
          "url",
          "readyState",
          "bufferedAmount",
          "extensions",
          "protocol",
        ]
      ) assertAttribute(proto, name, false);
      for (
        const name of [
          "binaryType",
          "onopen",
          "onerror",
          "onclose",
          "onmessage",
        ]
      ) assertAttribute(proto, name, true);
      assertOperation(proto, "send", 1);
      assertOperation(proto, "close", 0);
      assertTag(proto, "WebSocket");

      const ws = new WebSocket(urlOf(server));
      const done = closed(ws);
      try {
        assert.equal(Object.prototype.toString.call(ws), "[object WebSocket]");
        for (
          const name of [
            ...Object.keys(CONSTANTS),
            "url",
            "readyState",
            "binaryType",
            "send",
          ]
        ) {
          assert.equal(Object.hasOwn(ws, name), false, `${name} is not own`);
        }
        assert.equal(ws.OPEN, 1);
        assert.throws(() => {
          (ws as unknown as { OPEN: number }).OPEN = 5;
        }, TypeError);
        assert.throws(() => {
          (WebSocket as unknown as { CLOSED: number }).CLOSED = 5;
        }, TypeError);
        assert.equal(WebSocket.CLOSED, 3);
        assert.equal(ws.url, urlOf(server));
      } finally {
        ws.close();
        await done;
      }
    } finally {
      await server.close();
    }
  });

  test("url is read-only, and the constructor needs its argument", () => {
    assert.throws(
      () => new (WebSocket as unknown as new () => WebSocket)(),
      TypeError,
    );
    const d = Object.getOwnPropertyDescriptor(WebSocket.prototype, "url")!;
    assert.throws(
      () => (d.get as () => string).call({}),
      TypeError,
      "getter rejects a foreign receiver",
    );
  });
});

describe("webidl: CloseEvent", () => {
  test("named CloseEvent, getters on the prototype, DOM constructor", () => {
    assert.equal(CloseEvent.name, "CloseEvent");
    assert.equal(CloseEvent.length, 1);
    const proto = CloseEvent.prototype;
    for (const name of ["wasClean", "code", "reason"]) {
      assertAttribute(proto, name, false);
    }
    assertTag(proto, "CloseEvent");

    const event = new CloseEvent("close", {
      code: 4000,
      reason: "bye\uD800",
      wasClean: true,
      cancelable: true,
    });
    assert.equal(Object.prototype.toString.call(event), "[object CloseEvent]");
    assert.ok(event instanceof Event);
    assert.equal(event.type, "close");
    assert.equal(event.cancelable, true);
    assert.equal(event.code, 4000);
    assert.equal(event.reason, "bye\uFFFD", "reason is a USVString");
    assert.equal(event.wasClean, true);
    assert.deepEqual(Object.keys(event).filter((k) => k !== "isTrusted"), []);

    const empty = new CloseEvent("x");
    assert.deepEqual([empty.code, empty.reason, empty.wasClean], [
      0,
      "",
      false,
    ]);
    const wrapped = new CloseEvent("x", { code: 65536 + 1001 });
    assert.equal(wrapped.code, 1001, "code is an unsigned short");
    assert.throws(
      () => new (CloseEvent as unknown as new () => Event)(),
      TypeError,
    );
  });
});

describe("webidl: ErrorEvent", () => {
  test("named ErrorEvent, getters on the prototype, both constructors", () => {
    assert.equal(WebSocketErrorEvent.name, "ErrorEvent");
    const proto = WebSocketErrorEvent.prototype;
    for (
      const name of ["message", "filename", "lineno", "colno", "error", "code"]
    ) assertAttribute(proto, name, false);
    assertTag(proto, "ErrorEvent");

    const cause = new Error("boom");
    const ours = new WebSocketErrorEvent("handshake failed", 1006, cause);
    assert.equal(Object.prototype.toString.call(ours), "[object ErrorEvent]");
    assert.equal(ours.type, "error");
    assert.equal(ours.message, "handshake failed");
    assert.equal(ours.code, 1006);
    assert.equal(ours.error, cause);
    assert.deepEqual([ours.filename, ours.lineno, ours.colno], ["", 0, 0]);

    const dom = new WebSocketErrorEvent("oops", {
      message: "m",
      filename: "f.js",
      lineno: 3,
      colno: 4,
      error: cause,
    });
    assert.equal(dom.type, "oops");
    assert.deepEqual(
      [dom.message, dom.filename, dom.lineno, dom.colno, dom.error, dom.code],
      ["m", "f.js", 3, 4, cause, 0],
    );
  });

  test("the error event a socket dispatches is that ErrorEvent", async () => {
    // A server that is not there: the connection fails.
    const server = await startServer();
    const url = urlOf(server);
    await server.close();
    const ws = new WebSocket(url);
    const error = once<WebSocketErrorEvent>(ws, "error");
    const done = closed(ws);
    const event = await error;
    assert.equal(Object.prototype.toString.call(event), "[object ErrorEvent]");
    assert.equal(event.code, 1006);
    assert.equal(typeof event.message, "string");
    const close = await done;
    assert.equal(Object.prototype.toString.call(close), "[object CloseEvent]");
    assert.equal(close.code, 1006);
  });
});

describe("webidl: conversions", () => {
  test("[Clamp] unsigned short, unsigned short, USVString", () => {
    assert.deepEqual(
      [2.5, 3.5, 999.6, -1, 70000, NaN, Infinity, "12"].map(toClampedUint16),
      [2, 4, 1000, 0, 65535, 0, 65535, 12],
    );
    assert.deepEqual(
      [65537, -1, 3.9, NaN, "7"].map((v) => toUnsigned(v, 16)),
      [1, 65535, 3, 0, 7],
    );
    assert.equal(
      toUSVString("a\uD800b\uDC00c\uD83D\uDE00"),
      "a\uFFFDb\uFFFDc\u{1F600}",
    );
    assert.equal(toUSVString(null), "null");
  });
});
