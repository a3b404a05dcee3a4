/**
 * The error model through the browser API: a peer's violation reaches the
 * `error` event with its id, a wskit/extension bug with its exception, a
 * listener's exception with id "", and local misuse throws what a browser
 * throws.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { computeAccept, WebSocket, WebSocketErrorEvent } from "../mod.ts";
import type { Extension, ExtensionNegotiator } from "../core/extension.ts";
import { closed, once } from "./net_helpers.ts";

/**
 * A raw server: answers the upgrade (with `extensions` when given), then
 * writes `frames` as they are.
 */
async function rawServer(
  frames: Uint8Array,
  extensions?: string,
): Promise<{ url: string; stop(): Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    let head = "";
    socket.on("data", (chunk) => {
      if (head.includes("\r\n\r\n")) return;
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(head)![1];
      const ext = extensions === undefined
        ? ""
        : `Sec-WebSocket-Extensions: ${extensions}\r\n`;
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${
            computeAccept(key)
          }\r\n${ext}\r\n`,
      );
      socket.write(frames);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An unmasked server frame (payload under 126 bytes). */
function frame(first: number, payload: string): Uint8Array {
  const data = new TextEncoder().encode(payload);
  return new Uint8Array([first, data.length, ...data]);
}

test("websocket errors: an RSV1 frame from the server: the error event's id", async () => {
  const server = await rawServer(frame(0xc1, "x")); // FIN + RSV1, text
  try {
    const ws = new WebSocket(server.url);
    const error = once<WebSocketErrorEvent>(ws, "error");
    const event = await closed(ws);
    const failure = await error;
    assert.equal(failure.id, "WS_ERR_UNEXPECTED_RSV_1");
    assert.equal(failure.code, 1002);
    assert.equal(failure.error, undefined);
    assert.equal(event.code, 1006);
  } finally {
    await server.stop();
  }
});

test('websocket errors: a listener\'s exception has id "", then a peer fault its own', async () => {
  // A text message, then a frame with a reserved opcode.
  const bytes = new Uint8Array([...frame(0x81, "hi"), ...frame(0x83, "")]);
  const server = await rawServer(bytes);
  const thrown = new Error("listener bug");
  const seen: WebSocketErrorEvent[] = [];
  const original = console.error;
  console.error = () => {};
  try {
    const ws = new WebSocket(server.url);
    ws.addEventListener("message", () => {
      throw thrown;
    });
    ws.addEventListener("error", (e) => seen.push(e as WebSocketErrorEvent));
    await closed(ws);
    assert.deepEqual(
      seen.map((e) => [e.id, e.code]),
      [["", 0], ["WS_ERR_INVALID_OPCODE", 1002]],
    );
    assert.equal(seen[0].error, thrown);
  } finally {
    console.error = original;
    await server.stop();
  }
});

test("websocket errors: an extension bug: WS_ERR_INTERNAL, 1011, the exception as error", async () => {
  const bug = new TypeError("cannot read properties of undefined");
  const extension: Extension = {
    name: "x-test",
    rsv: 4,
    response: "x-test",
    encode: (payload) => ({ payload, rsv: 0 }),
    decode: () => {
      throw bug;
    },
    dispose() {},
  };
  const negotiator: ExtensionNegotiator = {
    name: "x-test",
    offer: () => "x-test",
    accept: () => extension,
    respond: () => undefined,
  };
  const server = await rawServer(frame(0xc2, "x"), "x-test");
  try {
    const ws = new WebSocket(server.url, [], {
      extensionNegotiators: [negotiator],
      perMessageDeflate: false,
    });
    const error = once<WebSocketErrorEvent>(ws, "error");
    await closed(ws);
    const failure = await error;
    assert.equal(failure.id, "WS_ERR_INTERNAL");
    assert.equal(failure.code, 1011);
    assert.equal(failure.error, bug);
  } finally {
    await server.stop();
  }
});

test('websocket errors: WebSocketErrorEvent\'s id from its init, "" by default', () => {
  assert.equal(new WebSocketErrorEvent("error").id, "");
  assert.equal(
    new WebSocketErrorEvent("error", { id: "WS_ERR_X" }).id,
    "WS_ERR_X",
  );
  assert.equal(
    new WebSocketErrorEvent("m", 1002, undefined, "WS_ERR_Y").id,
    "WS_ERR_Y",
  );
  assert.equal(new WebSocketErrorEvent("m", 0).id, "");
  const names = [];
  for (const key in new WebSocketErrorEvent("e")) names.push(key);
  assert.ok(names.includes("id"), "id is an enumerable attribute");
});

test("websocket errors: close() maps the core's checks to DOMExceptions, code first", async () => {
  const server = await rawServer(new Uint8Array(0));
  try {
    const ws = new WebSocket(server.url);
    await once(ws, "open");
    const name = (fn: () => void) => {
      try {
        fn();
      } catch (error) {
        assert.ok(error instanceof DOMException, String(error));
        return error.name;
      }
      return "none";
    };
    const long = "é".repeat(62);
    assert.equal(name(() => ws.close(1001)), "InvalidAccessError");
    assert.equal(name(() => ws.close(999, long)), "InvalidAccessError");
    assert.equal(name(() => ws.close(1000, long)), "SyntaxError");
    assert.equal(name(() => ws.close(3000.4, "")), "none"); // [Clamp]: 3000
    assert.equal(ws.readyState, WebSocket.CLOSING);
    // Once closing, the checks still apply (as in browsers).
    assert.equal(name(() => ws.close(1005)), "InvalidAccessError");
    assert.equal(name(() => ws.close(undefined, long)), "SyntaxError");
    ws.close();
  } finally {
    await server.stop();
  }
});
