/** Our WebSocket client against our server, over loopback, on the current runtime. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { computeAccept, WebSocket } from "../mod.ts";
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
import type { WebSocketErrorEvent } from "../socket/websocket.ts";

test("websocket: text, binary and empty messages echo with their types", async () => {
  const server = await startEcho();
  try {
    const ws = await connect(urlOf(server));
    const box = inbox(ws);
    ws.send("héllo");
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send("");
    ws.send(new Uint8Array(0));
    assert.equal(await box.next(), "héllo");
    assert.deepEqual(await box.next(), new Uint8Array([1, 2, 3]));
    assert.equal(await box.next(), "");
    assert.deepEqual(await box.next(), new Uint8Array(0));
    const done = closed(ws);
    ws.close(1000, "bye");
    const event = await done;
    assert.equal(event.code, 1000);
    assert.equal(event.reason, "bye");
    assert.equal(event.wasClean, true);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  } finally {
    await server.close();
  }
});

test("websocket: binaryType arraybuffer and blob", async () => {
  const server = await startEcho();
  try {
    const ws = await connect(urlOf(server));
    ws.binaryType = "arraybuffer";
    ws.send(new Uint8Array([9, 8]));
    const a = await once<MessageEvent>(ws, "message");
    assert.ok(a.data instanceof ArrayBuffer);
    assert.deepEqual(new Uint8Array(a.data), new Uint8Array([9, 8]));
    ws.binaryType = "blob";
    ws.send(new Blob([new Uint8Array([7])]));
    const b = await once<MessageEvent>(ws, "message");
    assert.ok(b.data instanceof Blob);
    assert.deepEqual(
      new Uint8Array(await b.data.arrayBuffer()),
      new Uint8Array([7]),
    );
    ws.close();
    await closed(ws);
  } finally {
    await server.close();
  }
});

test("websocket: a 16 MiB message round-trips", async () => {
  const server = await startEcho();
  try {
    const ws = await connect(urlOf(server));
    const big = new Uint8Array(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i / 4096;
    ws.send(big);
    const got = (await once<MessageEvent>(ws, "message")).data as Uint8Array;
    assert.equal(got.length, big.length);
    assert.ok(Buffer.from(got).equals(Buffer.from(big)));
    ws.close();
    await closed(ws);
  } finally {
    await server.close();
  }
});

test("websocket: subprotocol negotiation by server preference", async () => {
  const server = await startEcho({ protocols: ["v2", "v1"] });
  try {
    const ws = await connect(urlOf(server), ["v1", "v2"]);
    assert.equal(ws.protocol, "v2");
    ws.close();
    await closed(ws);
    const none = await connect(urlOf(server), ["other"]);
    assert.equal(none.protocol, "");
    none.close();
    await closed(none);
  } finally {
    await server.close();
  }
});

test("websocket: requireProtocol rejects a client offering none (error, then close 1006)", async () => {
  const server = await startEcho({ protocols: ["v1"], requireProtocol: true });
  try {
    const ws = new WebSocket(urlOf(server), ["nope"]);
    const error = once<WebSocketErrorEvent>(ws, "error");
    const event = await closed(ws);
    assert.match((await error).message, /400/);
    assert.equal(event.code, 1006);
    assert.equal(event.wasClean, false);
  } finally {
    await server.close();
  }
});

test("websocket: server-initiated close with code and reason reaches the client", async () => {
  const server = await startServer({
    onConnection(socket) {
      socket.onmessage = () => socket.close(4001, "go away");
    },
  });
  try {
    const ws = await connect(urlOf(server));
    const done = closed(ws);
    ws.send("x");
    const event = await done;
    assert.deepEqual([event.code, event.reason, event.wasClean], [
      4001,
      "go away",
      true,
    ]);
  } finally {
    await server.close();
  }
});

test("websocket: client close code and reason reach the server", async () => {
  let serverClose:
    | Promise<{ code: number; reason: string; wasClean: boolean }>
    | undefined;
  const server = await startServer({
    onConnection(socket) {
      serverClose = closed(socket);
    },
  });
  try {
    const ws = await connect(urlOf(server));
    ws.close(3005, "client done");
    await closed(ws);
    await until(() => serverClose !== undefined, "server socket");
    const event = await serverClose!;
    assert.deepEqual([event.code, event.reason, event.wasClean], [
      3005,
      "client done",
      true,
    ]);
  } finally {
    await server.close();
  }
});

test("websocket: an abrupt disconnect is 1006 and not clean on the other side", async () => {
  let serverClose: Promise<{ code: number; wasClean: boolean }> | undefined;
  const server = await startServer({
    onConnection(socket) {
      serverClose = closed(socket);
    },
  });
  try {
    const ws = await connect(urlOf(server));
    await until(() => serverClose !== undefined, "server socket");
    const mine = closed(ws);
    ws.terminate();
    const event = await serverClose!;
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
    assert.deepEqual([(await mine).code, (await mine).wasClean], [1006, false]);
  } finally {
    await server.close();
  }
});

test("websocket: origin allowlist rejects with 403", async () => {
  const server = await startEcho({ origins: ["https://good.example"] });
  try {
    const good = await connect(urlOf(server), [], {
      origin: "https://GOOD.example",
    });
    good.close();
    await closed(good);
    const bad = new WebSocket(urlOf(server), [], {
      origin: "https://evil.example",
    });
    const error = once<WebSocketErrorEvent>(bad, "error");
    assert.equal((await closed(bad)).code, 1006);
    assert.match((await error).message, /403/);
  } finally {
    await server.close();
  }
});

test("websocket: authentication hook sees headers and query; rejects with 401", async () => {
  const server = await startEcho({
    authenticate(request) {
      const token =
        new URL(request.target, "http://x").searchParams.get("token") ??
          request.headers.get("authorization");
      if (token === "secret" || token === "Bearer secret") return true;
      return {
        status: 401,
        body: "bad token",
        headers: { "WWW-Authenticate": "Bearer" },
      };
    },
  });
  try {
    const byQuery = await connect(urlOf(server, "/?token=secret"));
    byQuery.close();
    await closed(byQuery);
    const byHeader = await connect(urlOf(server), [], {
      headers: { Authorization: "Bearer secret" },
    });
    byHeader.close();
    await closed(byHeader);
    const bad = new WebSocket(urlOf(server, "/?token=wrong"));
    const error = once<WebSocketErrorEvent>(bad, "error");
    assert.equal((await closed(bad)).code, 1006);
    assert.match((await error).message, /401/);
  } finally {
    await server.close();
  }
});

test("websocket: async authentication is awaited", async () => {
  const server = await startEcho({
    authenticate: async (request) => {
      await new Promise((r) => setTimeout(r, 20));
      return request.headers.get("cookie") === "session=ok" ? true : false;
    },
  });
  try {
    const ok = await connect(urlOf(server), [], {
      headers: { Cookie: "session=ok" },
    });
    ok.close();
    await closed(ok);
    await assert.rejects(connect(urlOf(server)), /1006/);
  } finally {
    await server.close();
  }
});

test("websocket: path mismatch gets 404", async () => {
  const server = await startEcho({ path: "/ws" });
  try {
    const ok = await connect(urlOf(server, "/ws?x=1"));
    ok.close();
    await closed(ok);
    const bad = new WebSocket(urlOf(server, "/other"));
    const error = once<WebSocketErrorEvent>(bad, "error");
    await closed(bad);
    assert.match((await error).message, /404/);
  } finally {
    await server.close();
  }
});

test("websocket: connection refused gives error then close 1006", async () => {
  const server = await startEcho();
  const url = urlOf(server);
  await server.close();
  const ws = new WebSocket(url);
  const error = once<WebSocketErrorEvent>(ws, "error");
  const event = await closed(ws);
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
  assert.ok((await error).message.length > 0);
});

test("websocket: a bad Sec-WebSocket-Accept fails the connection", async () => {
  const raw = net.createServer((socket) => {
    socket.once("data", () => {
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${
            computeAccept("AAAAAAAAAAAAAAAAAAAAAA==")
          }\r\n\r\n`,
      );
    });
  });
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
  try {
    const port = (raw.address() as net.AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const error = once<WebSocketErrorEvent>(ws, "error");
    const event = await closed(ws);
    assert.equal(event.code, 1006);
    assert.match((await error).message, /accept/i);
  } finally {
    await new Promise((r) => raw.close(r));
  }
});

test("websocket: the handshake times out against a silent server", async () => {
  const sockets: net.Socket[] = [];
  const raw = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
  try {
    const port = (raw.address() as net.AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, [], {
      connectTimeout: 100,
    });
    const error = once<WebSocketErrorEvent>(ws, "error");
    const event = await closed(ws);
    assert.equal(event.code, 1006);
    assert.match((await error).message, /timed out/);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => raw.close(r));
  }
});

test("websocket: browser API errors (bad URL, send while connecting, close codes)", async () => {
  assert.throws(
    () => new WebSocket("ftp://x"),
    (e: unknown) => e instanceof DOMException && e.name === "SyntaxError",
  );
  assert.throws(
    () => new WebSocket("ws://x/#frag"),
    (e: unknown) => e instanceof DOMException && e.name === "SyntaxError",
  );
  assert.throws(
    () => new WebSocket("ws://x", ["a", "a"]),
    (e: unknown) => e instanceof DOMException,
  );
  const server = await startEcho();
  try {
    const ws = new WebSocket(urlOf(server));
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    assert.throws(
      () => ws.send("early"),
      (e: unknown) =>
        e instanceof DOMException && e.name === "InvalidStateError",
    );
    await once(ws, "open");
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.throws(
      () => ws.close(1001),
      (e: unknown) =>
        e instanceof DOMException && e.name === "InvalidAccessError",
    );
    assert.throws(
      () => ws.close(1000, "x".repeat(124)),
      (e: unknown) => e instanceof DOMException && e.name === "SyntaxError",
    );
    const done = closed(ws);
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSING);
    assert.equal((await done).code, 1005);
    ws.send("after close is discarded");
    assert.ok(ws.bufferedAmount > 0);
  } finally {
    await server.close();
  }
});

test("websocket: close() while connecting fails with 1006", async () => {
  const server = await startEcho();
  try {
    const ws = new WebSocket(urlOf(server));
    const error = once(ws, "error");
    ws.close();
    const event = await closed(ws);
    await error;
    assert.equal(event.code, 1006);
  } finally {
    await server.close();
  }
});

test("websocket: onX handlers and addEventListener both fire, once each", async () => {
  const server = await startEcho();
  try {
    const ws = new WebSocket(urlOf(server));
    const seen: string[] = [];
    ws.onopen = () => seen.push("onopen");
    ws.addEventListener("open", () => seen.push("listener"));
    ws.onmessage = (e) => {
      seen.push(`message:${e.data}`);
      ws.close();
    };
    ws.onclose = (e) => seen.push(`close:${e.code}`);
    ws.onopen = () => seen.push("onopen2"); // replaces, keeps position
    assert.equal(ws.onerror, null);
    ws.onerror = "not a function" as never; // ignored, as in browsers
    assert.equal(ws.onerror, null);
    assert.equal(typeof ws.onclose, "function");
    await once(ws, "open");
    ws.send("x");
    await closed(ws);
    assert.deepEqual(seen, ["onopen2", "listener", "message:x", "close:1005"]);
  } finally {
    await server.close();
  }
});

test("websocket: send() reports backpressure and bufferedAmount drains", async () => {
  const server = await startServer({ onConnection() {} });
  try {
    const ws = await connect(urlOf(server));
    const chunk = new Uint8Array(256 * 1024);
    let ok = true;
    let sent = 0;
    while (ok && sent < 64) {
      ok = ws.send(chunk);
      sent++;
    }
    assert.equal(ok, false, "send() eventually returns false");
    assert.ok(ws.bufferedAmount > 0);
    await once(ws, "drain");
    await until(() => ws.bufferedAmount === 0, "bufferedAmount to reach 0");
    ws.close();
    await closed(ws);
  } finally {
    await server.close();
  }
});

test("websocket: ping() is answered with a pong event", async () => {
  const server = await startEcho();
  try {
    const ws = await connect(urlOf(server));
    ws.ping("hb");
    const pong = await once<MessageEvent>(ws, "pong");
    assert.equal(new TextDecoder().decode(pong.data), "hb");
    ws.close();
    await closed(ws);
  } finally {
    await server.close();
  }
});

test("server: close() sends 1001 to every client and resolves", async () => {
  const server = await startEcho();
  const a = await connect(urlOf(server));
  const b = await connect(urlOf(server));
  await until(() => server.clients.size === 2, "two clients");
  const closes = [closed(a), closed(b)];
  await server.close();
  for (const event of await Promise.all(closes)) {
    assert.equal(event.code, 1001);
    assert.equal(event.wasClean, true);
  }
  assert.equal(server.clients.size, 0);
});

test("server: broadcast reaches every open client but the sender", async () => {
  const server = await startServer({
    onConnection(socket) {
      socket.onmessage = (e) => server.broadcast(e.data as string, socket);
    },
  });
  try {
    const [a, b, c] = await Promise.all(
      [1, 2, 3].map(() => connect(urlOf(server))),
    );
    await until(() => server.clients.size === 3, "three clients");
    const gotB = once<MessageEvent>(b, "message");
    const gotC = once<MessageEvent>(c, "message");
    a.send("to all");
    assert.equal((await gotB).data, "to all");
    assert.equal((await gotC).data, "to all");
    for (const ws of [a, b, c]) ws.close();
    await Promise.all(
      [a, b, c].map((ws) =>
        ws.readyState === WebSocket.CLOSED ? null : closed(ws)
      ),
    );
  } finally {
    await server.close();
  }
});

test("server: maxConnections answers 503 beyond the limit", async () => {
  const server = await startEcho({ maxConnections: 1 });
  try {
    const a = await connect(urlOf(server));
    const b = new WebSocket(urlOf(server));
    const error = once<WebSocketErrorEvent>(b, "error");
    await closed(b);
    assert.match((await error).message, /503/);
    a.close();
    await closed(a);
  } finally {
    await server.close();
  }
});

test("server: a bad upgrade request gets its HTTP status", async () => {
  const server = await startEcho();
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server.port, "127.0.0.1", () => {
        socket.write(
          "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        );
      });
      let text = "";
      socket.on("data", (d) => (text += d));
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
    });
    assert.match(reply, /^HTTP\/1\.1 426 /);
    assert.match(reply, /Sec-WebSocket-Version: 13/);
  } finally {
    await server.close();
  }
});

test("websocket: a message arriving with the handshake response is dispatched after open, in a later task", async () => {
  const server = await startServer({
    onConnection(socket) {
      socket.send("welcome"); // written together with the 101 response
    },
  });
  try {
    const ws = new WebSocket(urlOf(server));
    await once(ws, "open");
    // Listeners added after awaiting open still see the first message.
    const message = await once<MessageEvent>(ws, "message");
    assert.equal(message.data, "welcome");
    ws.close();
    await closed(ws);
  } finally {
    await server.close();
  }
});

test("websocket: replies to messages that arrive together with a close frame still go out", async () => {
  const raw = net.createServer((socket) => {
    socket.once("data", (head) => {
      const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(String(head))![1];
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
      );
      setTimeout(() => {
        // "ping me" then a close, in one write.
        socket.write(
          Buffer.from([
            0x81,
            7,
            ...Buffer.from("ping me"),
            0x88,
            2,
            0x03,
            0xe8,
          ]),
        );
      }, 20);
      let got = Buffer.alloc(0);
      socket.on("data", (d) => {
        got = Buffer.concat([got, d]);
        if (got.length < 2) return;
        socket.emit("firstOpcode", got[0] & 0x0f);
        // A masked reply shorter than 126 bytes, then the masked close echo:
        // once that is here, close the TCP connection as a server should.
        const next = 2 + 4 + (got[1] & 0x7f);
        if (got.length >= next + 2 + 4 + 2 && got[next] === 0x88) {
          socket.end();
        }
      });
    });
  });
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
  try {
    const port = (raw.address() as net.AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    ws.onmessage = (e) => ws.send(`reply to ${e.data}`);
    const done = closed(ws);
    const serverSide = await new Promise<net.Socket>((r) =>
      raw.once("connection", r)
    );
    const firstOpcode = new Promise<number>((r) =>
      serverSide.once("firstOpcode", r)
    );
    assert.equal(
      await firstOpcode,
      1,
      "the text reply precedes the close echo",
    );
    const event = await done;
    assert.equal(event.code, 1000);
    assert.equal(event.wasClean, true);
    serverSide.destroy();
  } finally {
    await new Promise((r) => raw.close(r));
  }
});

test("websocket: a server's onMessage callback gets every message in place of message events", async () => {
  const got: (string | Uint8Array)[] = [];
  let events = 0;
  const server = await startServer({
    onConnection(socket) {
      socket.binaryType = "blob"; // ignored by the callback
      socket.addEventListener("message", () => events++);
    },
    onMessage(socket, data) {
      got.push(data);
      socket.send(data);
    },
  });
  try {
    const ws = await connect(urlOf(server));
    const box = inbox(ws);
    ws.send("héllo");
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send("");
    assert.equal(await box.next(), "héllo");
    assert.deepEqual(await box.next(), new Uint8Array([1, 2, 3]));
    assert.equal(await box.next(), "");
    assert.equal(got[0], "héllo");
    assert.ok(got[1] instanceof Uint8Array);
    assert.deepEqual([...got[1] as Uint8Array], [1, 2, 3]);
    assert.equal(events, 0);
    ws.close();
    await closed(ws);
  } finally {
    await server.close();
  }
});

test("websocket: a client's onMessage option gets messages with the socket", async () => {
  const server = await startEcho();
  try {
    const got: unknown[] = [];
    let events = 0;
    let first: WebSocket | undefined;
    const ws = await connect(urlOf(server), undefined, {
      onMessage(socket, data) {
        first ??= socket;
        got.push(data);
      },
    });
    ws.addEventListener("message", () => events++);
    ws.send("a");
    ws.send(new Uint8Array([7]));
    await until(() => got.length === 2, "two messages");
    assert.equal(first, ws);
    assert.equal(got[0], "a");
    assert.deepEqual(got[1], new Uint8Array([7]));
    assert.equal(events, 0);
    ws.close();
    await closed(ws);
  } finally {
    await server.close();
  }
});

test("websocket: an onMessage callback that throws fails the connection with 1011 and stops delivery", async () => {
  const boom = new Error("handler bug");
  const seen: unknown[] = [];
  let errorEvent: WebSocketErrorEvent | undefined;
  const server = await startServer({
    onConnection(socket) {
      socket.addEventListener("error", (e) => {
        errorEvent = e as WebSocketErrorEvent;
      });
    },
    onMessage(_socket, data) {
      seen.push(data);
      if (data === "bad") throw boom;
    },
  });
  try {
    const ws = await connect(urlOf(server));
    const done = closed(ws);
    // Sent in one burst, so they reach the server in one read.
    ws.send("ok");
    ws.send("bad");
    ws.send("after");
    const event = await done;
    assert.equal(event.code, 1011);
    assert.equal(event.reason, "internal error"); // not the exception's text
    assert.deepEqual(seen, ["ok", "bad"]);
    await until(() => errorEvent !== undefined, "the server's error event");
    assert.equal(errorEvent!.code, 1011);
    assert.equal(errorEvent!.error, boom);
  } finally {
    await server.close();
  }
});
