/**
 * Handshake hooks that throw, return garbage or never settle: the client
 * gets a defined HTTP answer, the failure reaches `onError` with the hook's
 * name, and the same server keeps serving.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import type { ErrorContext, ServeOptions } from "../socket/server.ts";
import type { WebSocketServer } from "../mod.ts";
import { closed, connect, inbox, startEcho, until } from "./net_helpers.ts";

/** Sends a raw upgrade request; resolves with the status line and headers. */
function rawUpgrade(
  port: number,
  extra = "",
  path = "/",
): Promise<{ status: number; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    socket.on("error", reject);
    socket.on("data", (d) => {
      text += d.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        socket.destroy();
        resolve({
          status: Number(text.split(" ")[1]),
          head: text.slice(0, end),
        });
      }
    });
    socket.on("close", () => reject(new Error(`closed early: ${text}`)));
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        `Sec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
  });
}

interface Reported {
  error: unknown;
  context: ErrorContext;
}

/** An echo server that records `onError` reports. */
async function start(
  options: ServeOptions,
): Promise<{ server: WebSocketServer; reports: Reported[] }> {
  const reports: Reported[] = [];
  const server = await startEcho({
    onError(error, context) {
      reports.push({ error, context });
    },
    ...options,
  });
  return { server, reports };
}

/** A normal client connects and gets its message echoed. */
async function echoes(server: WebSocketServer, path = "/"): Promise<void> {
  const ws = await connect(`ws://127.0.0.1:${server.port}${path}`);
  const box = inbox(ws);
  ws.send("still serving");
  assert.equal(await box.next(), "still serving");
  const done = closed(ws);
  ws.close();
  await done;
}

describe("hostile application: hooks", () => {
  test("authenticate 302 with Location passes through as a redirect", async () => {
    let calls = 0;
    const { server, reports } = await start({
      authenticate(request) {
        if (request.path === "/ok") return true;
        calls++;
        return { status: 302, headers: { Location: "/login" } };
      },
    });
    try {
      const { status, head } = await rawUpgrade(server.port);
      assert.equal(status, 302);
      assert.match(head, /\r\nlocation: \/login/i);
      assert.equal(calls, 1);
      assert.equal(reports.length, 0);
      await echoes(server, "/ok");
    } finally {
      await server.close();
    }
  });

  const invalid: [string, unknown][] = [
    ["a 302 without Location", { status: 302 }],
    ["status 200", { status: 200 }],
    ["status 700", { status: 700 }],
    ["a non-Latin-1 header value", {
      status: 401,
      headers: { "WWW-Authenticate": "Bearer realm=\u2603" },
    }],
    ["a number", 42],
    ["a string", "no"],
    ["a non-numeric status", { status: "x" }],
    ["null", null],
  ];
  for (const [name, result] of invalid) {
    test(`authenticate returning ${name} gets 500 and is reported`, async () => {
      const { server, reports } = await start({
        authenticate: (request) =>
          request.path === "/ok" ? true : result as boolean,
      });
      try {
        assert.equal((await rawUpgrade(server.port)).status, 500);
        assert.equal(reports.length, 1);
        assert.equal(reports[0].context.source, "authenticate");
        assert.equal(reports[0].context.request?.path, "/");
        await echoes(server, "/ok");
      } finally {
        await server.close();
      }
    });
  }

  test("authenticate that throws synchronously gets 500", async () => {
    const { server, reports } = await start({
      authenticate(request) {
        if (request.path === "/ok") return true;
        throw new Error("auth bug");
      },
    });
    try {
      assert.equal((await rawUpgrade(server.port)).status, 500);
      assert.equal(reports.length, 1);
      assert.equal(reports[0].context.source, "authenticate");
      assert.equal((reports[0].error as Error).message, "auth bug");
      await echoes(server, "/ok");
    } finally {
      await server.close();
    }
  });

  test("authenticate that rejects gets 500", async () => {
    const { server, reports } = await start({
      authenticate: (request) =>
        request.path === "/ok"
          ? Promise.resolve(true)
          : Promise.reject(new Error("async auth bug")),
    });
    try {
      assert.equal((await rawUpgrade(server.port)).status, 500);
      assert.deepEqual(reports.map((r) => r.context.source), ["authenticate"]);
      await echoes(server, "/ok");
    } finally {
      await server.close();
    }
  });

  test("authenticate that never settles is bounded by the handshake timeout", async () => {
    const { server } = await start({
      handshakeTimeout: 200,
      lingerTimeout: 200,
      maxConnections: 1,
      authenticate: (request) =>
        request.path === "/ok" ? true : new Promise<boolean>(() => {}),
    });
    try {
      const socket = net.connect(server.port, "127.0.0.1");
      socket.on("error", () => {});
      const gone = new Promise<void>((resolve) => socket.on("close", resolve));
      socket.write(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      );
      await until(() => server.connectionCount === 1, "the slot to be taken");
      await gone; // the server gave up on it
      await until(() => server.connectionCount === 0, "the slot to be freed");
      await echoes(server, "/ok");
    } finally {
      await server.close();
    }
  });

  test("origins predicate that throws (Origin: null, missing) gets 500", async () => {
    const { server, reports } = await start({
      origins: (origin) => new URL(origin!).hostname === "good.example",
    });
    try {
      const nul = await rawUpgrade(server.port, "Origin: null\r\n");
      assert.equal(nul.status, 500);
      assert.equal((await rawUpgrade(server.port)).status, 500);
      assert.deepEqual(reports.map((r) => r.context.source), [
        "origins",
        "origins",
      ]);
      const good = await rawUpgrade(
        server.port,
        "Origin: https://good.example\r\n",
      );
      assert.equal(good.status, 101);
    } finally {
      await server.close();
    }
  });

  test("protocols function that throws or returns garbage gets 500", async () => {
    const { server, reports } = await start({
      protocols(offered) {
        if (offered.includes("boom")) throw new Error("protocols bug");
        if (offered.includes("num")) return 7 as unknown as string;
        return "";
      },
    });
    try {
      for (const name of ["boom", "num"]) {
        const reply = await rawUpgrade(
          server.port,
          `Sec-WebSocket-Protocol: ${name}\r\n`,
        );
        assert.equal(reply.status, 500);
      }
      assert.deepEqual(reports.map((r) => r.context.source), [
        "protocols",
        "protocols",
      ]);
      await echoes(server);
    } finally {
      await server.close();
    }
  });

  test("onConnection that throws closes that socket with 1011", async () => {
    const { server, reports } = await start({
      onConnection(_socket, request) {
        if (request.path === "/bad") throw new Error("setup bug");
      },
    });
    try {
      const ws = await connect(`ws://127.0.0.1:${server.port}/bad`);
      const event = await closed(ws);
      assert.equal(event.code, 1011);
      assert.equal(reports.length, 1);
      assert.equal(reports[0].context.source, "onConnection");
      assert.ok(reports[0].context.socket !== undefined);
      await echoes(server);
    } finally {
      await server.close();
    }
  });

  test("onError that throws goes to console.error and the server keeps serving", async () => {
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => {
      logged.push(args);
    };
    const { server } = await start({
      onError() {
        throw new Error("onError bug");
      },
      authenticate(request) {
        if (request.path === "/ok") return true;
        throw new Error("auth bug");
      },
    });
    try {
      assert.equal((await rawUpgrade(server.port)).status, 500);
      const flat = logged.flat().map((x) => x instanceof Error ? x.message : x);
      assert.ok(flat.includes("onError bug"), String(flat));
      assert.ok(flat.includes("auth bug"), String(flat));
      await echoes(server, "/ok");
    } finally {
      console.error = original;
      await server.close();
    }
  });

  test("without onError, hook failures go to console.error", async () => {
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => {
      logged.push(args);
    };
    const server = await startEcho({
      origins: () => {
        throw new Error("origin bug");
      },
    });
    try {
      assert.equal((await rawUpgrade(server.port)).status, 500);
      const flat = logged.flat().map((x) => x instanceof Error ? x.message : x);
      assert.ok(flat.includes("origin bug"), String(flat));
    } finally {
      console.error = original;
      await server.close();
    }
  });

  test("a socket listener that throws reaches onError (source listener) and the socket stays open", async () => {
    const { server, reports } = await start({
      onConnection(socket) {
        socket.onmessage = (event) => {
          if (event.data === "bad") throw new Error("listener bug");
          socket.send(event.data);
        };
      },
    });
    try {
      const ws = await connect(`ws://127.0.0.1:${server.port}/`);
      const box = inbox(ws);
      ws.send("bad");
      ws.send("after");
      assert.equal(await box.next(), "after");
      assert.equal(reports.length, 1);
      assert.equal(reports[0].context.source, "listener");
      assert.equal(reports[0].context.event, "message");
      assert.equal((reports[0].error as Error).message, "listener bug");
      assert.ok(reports[0].context.socket !== undefined);
      assert.equal(reports[0].context.request?.path, "/");
      const done = closed(ws);
      ws.close();
      assert.equal((await done).code, 1005);
    } finally {
      await server.close();
    }
  });

  test("closeOnHandlerError: a listener that throws fails its connection with 1011", async () => {
    const { server, reports } = await start({
      closeOnHandlerError: true,
      onConnection(socket) {
        socket.addEventListener("message", (event) => {
          if (event.data === "bad") {
            return Promise.reject(new Error("async bug"));
          }
          socket.send(event.data);
        });
      },
    });
    try {
      const ws = await connect(`ws://127.0.0.1:${server.port}/`);
      const box = inbox(ws);
      ws.send("fine");
      assert.equal(await box.next(), "fine");
      const done = closed(ws);
      ws.send("bad");
      const event = await done;
      assert.equal(event.code, 1011);
      assert.equal(
        event.reason,
        "internal error",
        "the exception's text is not sent",
      );
      assert.equal(reports.length, 1);
      assert.equal(reports[0].context.source, "listener");
      await echoes(server);
    } finally {
      await server.close();
    }
  });

  test("an onMessage callback that throws reaches onError (source onMessage)", async () => {
    const { server, reports } = await start({
      onMessage(socket, data) {
        if (data === "bad") throw new Error("callback bug");
        socket.send(data);
      },
    });
    try {
      const ws = await connect(`ws://127.0.0.1:${server.port}/`);
      const done = closed(ws);
      ws.send("bad");
      assert.equal((await done).code, 1011);
      assert.equal(reports.length, 1);
      assert.equal(reports[0].context.source, "onMessage");
      assert.equal(reports[0].context.event, undefined);
      await echoes(server);
    } finally {
      await server.close();
    }
  });
});
