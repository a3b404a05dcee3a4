/**
 * Listeners that throw (or reject) never reach the process: over real
 * loopback, on server sockets and client sockets. The test runner itself
 * surviving is part of the check (an uncaught exception or unhandled
 * rejection fails the run), plus: the `error` event carries the exception,
 * the connection stays open by default, and another client is served.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "../mod.ts";
import { adoptSocket, type WebSocketErrorEvent } from "../socket/websocket.ts";
import { Driver } from "../socket/driver.ts";
import { memoryPipe, openStream, streamTransport } from "../streams.ts";
import { Connection } from "../core/connection.ts";
import {
  closed,
  connect,
  inbox,
  once,
  startEcho,
  startServer,
  until,
  urlOf,
} from "./net_helpers.ts";

/** A way of adding a listener for `type` that fails with `error`. */
type Install = (ws: WebSocket, type: string, error: Error) => void;

const installs: [string, Install][] = [
  ["an on… handler that throws", (ws, type, error) => {
    (ws as unknown as Record<string, unknown>)[`on${type}`] = () => {
      throw error;
    };
  }],
  ["an addEventListener function that throws", (ws, type, error) => {
    ws.addEventListener(type, () => {
      throw error;
    });
  }],
  ["a { handleEvent } object that throws", (ws, type, error) => {
    ws.addEventListener(type, {
      handleEvent() {
        throw error;
      },
    });
  }],
  ["an async listener that rejects", (ws, type, error) => {
    ws.addEventListener(type, async () => {
      await Promise.resolve();
      throw error;
    });
  }],
];

/** Resolves with the next `error` event on `ws`. */
function nextError(ws: WebSocket): Promise<WebSocketErrorEvent> {
  return once<WebSocketErrorEvent>(ws, "error");
}

/** A client connects to `url`, exchanges one message, and closes. */
async function servedNormally(url: string): Promise<void> {
  const ws = await connect(url);
  const box = inbox(ws);
  ws.send("still serving?");
  assert.equal(await box.next(), "still serving?");
  ws.close(1000);
  assert.equal((await closed(ws)).code, 1000);
}

describe("hostile application: listeners", () => {
  for (const [name, install] of installs) {
    test(`server socket: ${name} for "message" is reported and the connection stays open`, async () => {
      const boom = new Error(`boom from ${name}`);
      const errors: WebSocketErrorEvent[] = [];
      const server = await startServer({
        onConnection(socket) {
          socket.binaryType = "uint8array";
          // The echo is a listener of its own, so an `onmessage` that
          // throws does not replace it.
          socket.addEventListener(
            "message",
            (e) => socket.send((e as MessageEvent).data),
          );
          install(socket, "message", boom);
          socket.addEventListener("error", (e) => {
            errors.push(e as WebSocketErrorEvent);
          });
        },
      });
      try {
        const ws = await connect(urlOf(server));
        const box = inbox(ws);
        ws.send("one");
        assert.equal(await box.next(), "one", "the echo listener still ran");
        ws.send("two");
        assert.equal(await box.next(), "two", "the connection is still open");
        await until(() => errors.length === 2, "two error events");
        for (const event of errors) {
          assert.equal(event.error, boom);
          assert.equal(event.code, 0);
          assert.match(event.message, /"message" listener threw: boom/);
        }
        assert.equal(ws.readyState, WebSocket.OPEN);
        ws.close(1000);
        assert.equal((await closed(ws)).code, 1000);
        await servedNormally(urlOf(server));
      } finally {
        await server.close();
      }
    });

    test(`client socket: ${name} for open, message and close is reported each time`, async () => {
      const server = await startEcho();
      try {
        const errors: unknown[] = [];
        const ws = new WebSocket(urlOf(server));
        ws.binaryType = "uint8array";
        const thrown = {
          open: new Error("open"),
          message: new Error("message"),
          close: new Error("close"),
        };
        for (const [type, error] of Object.entries(thrown)) {
          install(ws, type, error);
        }
        ws.addEventListener("error", (e) => {
          const event = e as WebSocketErrorEvent;
          assert.equal(event.code, 0);
          errors.push(event.error);
        });
        await once(ws, "open");
        await until(() => errors.length === 1, "the open listener's error");
        const box = inbox(ws);
        ws.send("hi");
        assert.equal(await box.next(), "hi");
        await until(() => errors.length === 2, "the message listener's error");
        assert.equal(ws.readyState, WebSocket.OPEN, "still open");
        ws.close(1000);
        await once(ws, "close");
        await until(() => errors.length === 3, "the close listener's error");
        assert.deepEqual(errors, [thrown.open, thrown.message, thrown.close]);
        await servedNormally(urlOf(server));
      } finally {
        await server.close();
      }
    });

    test(`client socket: ${name} for "error" is not dispatched again`, async () => {
      const server = await startEcho();
      try {
        const ws = await connect(urlOf(server));
        const messageError = new Error("from the message listener");
        const errorError = new Error("from the error listener");
        install(ws, "message", messageError);
        let errorEvents = 0;
        ws.addEventListener("error", () => errorEvents++);
        install(ws, "error", errorError);
        const box = inbox(ws);
        ws.send("x");
        assert.equal(await box.next(), "x");
        await until(() => errorEvents >= 1, "the error event");
        // Let a rejected promise (the async case) settle: still one event.
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(
          errorEvents,
          1,
          "the error listener's throw is not re-dispatched",
        );
        ws.close();
        await closed(ws);
      } finally {
        await server.close();
      }
    });

    test(`client socket: ${name} with closeOnHandlerError fails the connection with 1011`, async () => {
      const closes: number[] = [];
      const server = await startEcho({
        onConnection(socket) {
          socket.addEventListener("close", (e) => {
            closes.push((e as CloseEvent).code);
          });
        },
      });
      try {
        const boom = new Error("handler bug");
        const ws = await connect(urlOf(server), [], {
          closeOnHandlerError: true,
        });
        install(ws, "message", boom);
        const error = nextError(ws);
        const done = closed(ws);
        ws.send("trigger");
        const event = await error;
        assert.equal(event.code, 1011);
        assert.equal(event.error, boom);
        await done;
        await until(() => closes.length === 1, "the server saw the close");
        assert.deepEqual(closes, [1011]);
      } finally {
        await server.close();
      }
    });
  }

  test("removeEventListener removes a wrapped listener; de-duplication, once and signal keep their DOM meaning", async () => {
    const server = await startEcho();
    try {
      const ws = await connect(urlOf(server));
      const calls: string[] = [];
      const removed = () => calls.push("removed");
      const twice = () => calls.push("twice");
      const onlyOnce = () => calls.push("once");
      const aborted = () => calls.push("aborted");
      const object = { handleEvent: () => calls.push("object") };
      ws.addEventListener("message", removed);
      ws.removeEventListener("message", removed);
      ws.addEventListener("message", twice);
      ws.addEventListener("message", twice); // a duplicate: ignored
      ws.addEventListener("message", onlyOnce, { once: true });
      const controller = new AbortController();
      ws.addEventListener("message", aborted, { signal: controller.signal });
      controller.abort();
      ws.addEventListener("message", object);
      ws.addEventListener("message", removed, { capture: true });
      ws.removeEventListener("message", removed); // other capture: stays
      const box = inbox(ws);
      // The listeners each message reached (sorted: runtimes differ on
      // whether capture listeners run first at the target).
      const reached = async (text: string): Promise<string[]> => {
        ws.send(text);
        await box.next();
        return calls.splice(0).sort();
      };
      assert.deepEqual(await reached("a"), [
        "object",
        "once",
        "removed",
        "twice",
      ]);
      assert.deepEqual(await reached("b"), ["object", "removed", "twice"]);
      ws.removeEventListener("message", object);
      ws.removeEventListener("message", removed, { capture: true });
      assert.deepEqual(await reached("c"), ["twice"]);
      ws.close();
      await closed(ws);
    } finally {
      await server.close();
    }
  });

  test("with no error listener, a throwing listener is written to the console once per socket, not per throw", async () => {
    const server = await startEcho();
    const original = console.error;
    const logged: unknown[][] = [];
    console.error = (...args: unknown[]) => {
      logged.push(args);
    };
    try {
      const ws = await connect(urlOf(server));
      const boom = new Error("nobody listens");
      ws.onmessage = () => {
        throw boom;
      };
      const box = inbox(ws);
      for (const text of ["1", "2", "3"]) {
        ws.send(text);
        assert.equal(await box.next(), text);
      }
      assert.equal(logged.length, 1);
      assert.ok(logged[0].includes(boom));
      assert.equal(ws.readyState, WebSocket.OPEN);
      ws.close();
      await closed(ws);
    } finally {
      console.error = original;
      await server.close();
    }
  });

  test("onMessage returning a rejected promise fails the connection with 1011, like a throw", async () => {
    const errors: WebSocketErrorEvent[] = [];
    const closes: number[] = [];
    const boom = new Error("async onMessage bug");
    const server = await startServer({
      onMessage: async () => {
        await Promise.resolve();
        throw boom;
      },
      onConnection(socket) {
        socket.addEventListener("error", (e) => {
          errors.push(e as WebSocketErrorEvent);
        });
      },
    });
    try {
      const ws = await connect(urlOf(server));
      const done = closed(ws);
      ws.addEventListener("close", (e) => closes.push((e as CloseEvent).code));
      ws.send("x");
      await done;
      assert.deepEqual(closes, [1011]);
      assert.equal(errors.length, 1);
      assert.equal(errors[0].error, boom);
      assert.equal(errors[0].code, 1011);
    } finally {
      await server.close();
    }
  });

  test("SocketSetup.onError hears every listener exception with its socket", async () => {
    const [near, far] = memoryPipe();
    const heard: [unknown, WebSocket][] = [];
    const driver = new Driver(
      new Connection({ role: "server" }),
      streamTransport(near),
    );
    const socket = adoptSocket(driver, {
      url: "ws://pipe.test/",
      onError: (error, ws) => heard.push([error, ws]),
    });
    const peer = openStream(far, { role: "client" });
    const boom = new Error("from a listener");
    socket.addEventListener("message", () => {
      throw boom;
    });
    socket.addEventListener("error", () => {
      throw new Error("the error listener too");
    });
    const peerClosed = closed(peer);
    const socketClosed = closed(socket);
    peer.send("x");
    await until(() => heard.length === 2, "both exceptions");
    assert.equal(heard[0][0], boom);
    assert.equal(heard[0][1], socket);
    assert.equal((heard[1][0] as Error).message, "the error listener too");
    socket.close(1000);
    assert.equal((await peerClosed).code, 1000);
    await socketClosed;
    assert.equal(socket.readyState, WebSocket.CLOSED);
  });
});
