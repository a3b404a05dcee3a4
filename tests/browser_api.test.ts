/**
 * Browser-API details a web-platform-tests run checks, over a real
 * loopback server: `bufferedAmount` counts application data only; `send()`
 * converts its argument as WebIDL does before checking the state; URL
 * credentials become `Authorization`; relative URLs resolve against
 * `location`; argument conversions of `close()`, `binaryType` and the
 * protocol list; an `HTTP/1.0 101` answer is a failed connection.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { computeAccept, WebSocket, type WebSocketErrorEvent } from "../mod.ts";
import type { UpgradeRequest } from "../core/handshake.ts";
import {
  closed,
  connect,
  once,
  startServer,
  until,
  urlOf,
} from "./net_helpers.ts";

/** A server whose sockets collect what they receive; and the requests. */
async function recordingServer(): Promise<{
  server: Awaited<ReturnType<typeof startServer>>;
  received: () => Promise<unknown>;
  requests: UpgradeRequest[];
}> {
  const requests: UpgradeRequest[] = [];
  const all: unknown[] = [];
  const waiting: ((v: unknown) => void)[] = [];
  const server = await startServer({
    onConnection(socket, request) {
      requests.push(request);
      socket.binaryType = "uint8array";
      socket.onmessage = (event) => {
        const wait = waiting.shift();
        if (wait) wait(event.data);
        else all.push(event.data);
      };
    },
  });
  const received = (): Promise<unknown> =>
    all.length > 0
      ? Promise.resolve(all.shift())
      : new Promise((resolve) => waiting.push(resolve));
  return { server, received, requests };
}

/** `promise`, or a failure after 10 s (so a wrong answer cannot hang the run). */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} in 10 s`)), 10000);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function closeAll(ws: WebSocket, server: { close(): Promise<void> }) {
  if (ws.readyState !== WebSocket.CLOSED) {
    const done = closed(ws);
    ws.close();
    await done;
  }
  await server.close();
}

describe("bufferedAmount", () => {
  test("counts the data only, and drops to 0 once written", async () => {
    const { server, received } = await recordingServer();
    const ws = await connect(urlOf(server));
    try {
      assert.equal(ws.bufferedAmount, 0);
      ws.send(new Uint8Array(15));
      assert.equal(ws.bufferedAmount, 15);
      assert.deepEqual(await received(), new Uint8Array(15));
      await until(() => ws.bufferedAmount === 0, "15 bytes written");

      const big = new Uint8Array(65000).fill(7);
      ws.send(big);
      assert.equal(ws.bufferedAmount, 65000);
      ws.send(new ArrayBuffer(10));
      assert.equal(ws.bufferedAmount, 65010);
      assert.deepEqual(await received(), big);
      assert.deepEqual(await received(), new Uint8Array(10));
      await until(() => ws.bufferedAmount === 0, "65010 bytes written");
    } finally {
      await closeAll(ws, server);
    }
  });

  test("text counts UTF-8 bytes, not UTF-16 units", async () => {
    const { server, received } = await recordingServer();
    const ws = await connect(urlOf(server));
    try {
      ws.send("h\u00e9\u20ac\u{1F600}"); // 1 + 2 + 3 + 4 bytes
      assert.equal(ws.bufferedAmount, 10);
      ws.send("x\uD800"); // a lone surrogate is sent as U+FFFD: 1 + 3 bytes
      assert.equal(ws.bufferedAmount, 14);
      const long = "\u00e9".repeat(70000); // past one frame-length form
      ws.send(long);
      assert.equal(ws.bufferedAmount, 14 + 140000);
      assert.equal(await received(), "h\u00e9\u20ac\u{1F600}");
      assert.equal(await received(), "x\uFFFD");
      assert.equal(await received(), long);
      await until(() => ws.bufferedAmount === 0, "text written");
    } finally {
      await closeAll(ws, server);
    }
  });

  test("a Blob counts at once; data sent after closing stays counted", async () => {
    const { server, received } = await recordingServer();
    const ws = await connect(urlOf(server));
    try {
      ws.send(new Blob([new Uint8Array(5)]));
      ws.send("abc"); // waits behind the Blob, counted already
      assert.equal(ws.bufferedAmount, 8);
      assert.deepEqual(await received(), new Uint8Array(5));
      assert.equal(await received(), "abc");
      await until(() => ws.bufferedAmount === 0, "blob written");
      const done = closed(ws);
      ws.close();
      ws.send("\u00e9\u00e9"); // closing: discarded, 4 bytes counted
      assert.equal(ws.bufferedAmount, 4);
      await done;
      ws.send(new Uint8Array(6));
      assert.equal(ws.bufferedAmount, 10);
    } finally {
      await closeAll(ws, server);
    }
  });
});

describe("send() argument conversion", () => {
  test("null, numbers and objects are sent as their strings", async () => {
    const { server, received } = await recordingServer();
    const ws = await connect(urlOf(server));
    try {
      const send = ws.send.bind(ws) as (data: unknown) => boolean;
      send(null);
      send(123);
      send(undefined);
      send({ toString: () => "obj" });
      send("\uDC00!");
      assert.equal(await received(), "null");
      assert.equal(await received(), "123");
      assert.equal(await received(), "undefined");
      assert.equal(await received(), "obj");
      assert.equal(await received(), "\uFFFD!");
    } finally {
      await closeAll(ws, server);
    }
  });

  test("send() with no argument throws TypeError, even while connecting", async () => {
    const { server } = await recordingServer();
    const ws = new WebSocket(urlOf(server));
    try {
      const send = ws.send as (this: WebSocket, ...args: unknown[]) => boolean;
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      assert.throws(() => send.call(ws), TypeError);
      assert.throws(
        () => send.call(ws, null),
        (e) => e instanceof DOMException && e.name === "InvalidStateError",
      );
      assert.throws(
        () =>
          send.call(ws, {
            toString() {
              throw new RangeError("conversion first");
            },
          }),
        RangeError,
      );
      await once(ws, "open");
      assert.throws(() => send.call(ws), TypeError);
    } finally {
      await closeAll(ws, server);
    }
  });
});

describe("constructor", () => {
  test("URL credentials are sent as Authorization: Basic; url keeps them", async () => {
    const { server, requests } = await recordingServer();
    const url = `ws://user:pass@127.0.0.1:${server.port}/private`;
    const ws = await connect(url);
    try {
      assert.equal(ws.url, url);
      assert.equal(requests.length, 1);
      assert.equal(
        requests[0].headers.get("authorization"),
        "Basic dXNlcjpwYXNz",
      );
      assert.equal(requests[0].target, "/private");
    } finally {
      await closeAll(ws, server);
    }
  });

  test("an explicit Authorization header wins over URL credentials", async () => {
    const { server, requests } = await recordingServer();
    const ws = await connect(
      `ws://user:pass@127.0.0.1:${server.port}/`,
      undefined,
      { headers: { Authorization: "Bearer t" } },
    );
    try {
      assert.deepEqual(requests[0].headers.getAll("authorization"), [
        "Bearer t",
      ]);
    } finally {
      await closeAll(ws, server);
    }
  });

  test('the protocol list is converted (null is the token "null")', async () => {
    const { server, requests } = await recordingServer();
    const ws = await connect(
      urlOf(server),
      null as unknown as string,
    );
    try {
      assert.deepEqual(requests[0].protocols, ["null"]);
    } finally {
      await closeAll(ws, server);
    }
    const { server: other, requests: more } = await recordingServer();
    const set = new Set(["a", "b"]) as unknown as string[];
    const ws2 = await connect(urlOf(other), set);
    try {
      assert.deepEqual(more[0].protocols, ["a", "b"]);
    } finally {
      await closeAll(ws2, other);
    }
  });

  test("a relative URL is a SyntaxError where there is no location", () => {
    assert.throws(
      () => new WebSocket("/chat"),
      (e) => e instanceof DOMException && e.name === "SyntaxError",
    );
  });

  test("a relative URL resolves against Deno's --location", async () => {
    const requests: string[] = [];
    const server = await startServer({
      onConnection(_socket, request) {
        requests.push(request.target);
      },
    });
    try {
      const base = `http://127.0.0.1:${server.port}/base/`;
      const deno = fileURLToPath(
        new URL("../node_modules/.bin/deno", import.meta.url).href,
      );
      const script = fileURLToPath(
        new URL("./fixtures/location_client.ts", import.meta.url).href,
      );
      const child = spawn(
        deno,
        ["run", "-A", "--no-check", `--location=${base}`, script, "chat?x=1"],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let output = "";
      child.stdout!.on("data", (d: Uint8Array) => {
        output += new TextDecoder().decode(d);
      });
      child.stderr!.on("data", (d: Uint8Array) => {
        output += new TextDecoder().decode(d);
      });
      const code = await new Promise<number | null>((resolve) =>
        child.once("close", resolve)
      );
      assert.equal(code, 0, output);
      assert.match(
        output,
        new RegExp(`open ws://127\\.0\\.0\\.1:${server.port}/base/chat\\?x=1`),
      );
      assert.match(output, /close 1000/);
      assert.deepEqual(requests, ["/base/chat?x=1"]);
    } finally {
      await server.close();
    }
  });
});

describe("close() and binaryType conversion", () => {
  test("close() converts code ([Clamp]) and reason before checking them", async () => {
    const { server } = await recordingServer();
    const ws = await connect(urlOf(server));
    const close = ws.close.bind(ws) as (
      code?: unknown,
      reason?: unknown,
    ) => void;
    const invalidAccess = (e: unknown) =>
      e instanceof DOMException && e.name === "InvalidAccessError";
    const syntax = (e: unknown) =>
      e instanceof DOMException && e.name === "SyntaxError";
    try {
      assert.throws(() => close("abc"), invalidAccess); // NaN → 0
      assert.throws(() => close(999, "x".repeat(200)), invalidAccess);
      assert.throws(() => close(1000, "\u00e9".repeat(62)), syntax);
      assert.throws(() => close(1000, "\uD800".repeat(42)), syntax); // 126 bytes
      assert.equal(ws.readyState, WebSocket.OPEN);
      const done = closed(ws);
      close(999.6, { toString: () => "bye" }); // [Clamp] rounds it to 1000
      const event = await done;
      assert.equal(event.code, 1000);
      assert.equal(event.reason, "bye");
    } finally {
      await closeAll(ws, server);
    }
  });

  test("binaryType takes a value's string and ignores unknown ones", async () => {
    const { server } = await recordingServer();
    const ws = await connect(urlOf(server));
    try {
      const set = (v: unknown) => {
        (ws as unknown as { binaryType: unknown }).binaryType = v;
      };
      set({ toString: () => "arraybuffer" });
      assert.equal(ws.binaryType, "arraybuffer");
      set("nonsense");
      assert.equal(ws.binaryType, "arraybuffer");
      set("blob");
      assert.equal(ws.binaryType, "blob");
    } finally {
      await closeAll(ws, server);
    }
  });
});

describe("handshake response version", () => {
  test("HTTP/1.0 101 is a failed connection: error, then close 1006", async () => {
    const sockets = new Set<net.Socket>();
    const raw = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
      let head = "";
      socket.on("data", (d) => {
        head += d.toString("latin1");
        const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1];
        if (!head.includes("\r\n\r\n") || key === undefined) return;
        socket.write(
          "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
            "Connection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
        );
      });
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    try {
      const port = (raw.address() as net.AddressInfo).port;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      let opened = false;
      ws.onopen = () => opened = true;
      const error = once<WebSocketErrorEvent>(ws, "error");
      const done = closed(ws);
      assert.match((await within(error, "error event")).message, /HTTP\/1\.0/);
      const event = await within(done, "close event");
      assert.equal(event.code, 1006);
      assert.equal(event.wasClean, false);
      assert.equal(opened, false);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => raw.close(r));
    }
  });
});
