/** Per-connection limits over loopback: rate, idle keep-alive, send queue cap, ping floods. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocket } from "../mod.ts";
import type { WebSocketErrorEvent } from "../socket/websocket.ts";
import { clientFrame } from "./helpers.ts";
import {
  closed,
  connect,
  once,
  rawClient,
  startEcho,
  startServer,
  until,
  urlOf,
} from "./net_helpers.ts";

test("limits: a client over the message rate limit is closed with 1008", async () => {
  const ids: string[] = [];
  const server = await startEcho({
    limits: { rateLimit: { messages: 5, windowMs: 60_000 } },
    onConnection(socket) {
      socket.addEventListener("error", (e) => ids.push(e.id));
    },
  });
  try {
    const ws = await connect(urlOf(server));
    const done = closed(ws);
    for (let i = 0; i < 10; i++) ws.send(`m${i}`);
    const event = await done;
    assert.equal(event.code, 1008);
    assert.match(event.reason, /rate limit/);
    assert.deepEqual(ids, ["WS_ERR_RATE_LIMIT"], "the server's error id");
  } finally {
    await server.close();
  }
});

test("limits: a byte rate limit closes with 1008", async () => {
  const server = await startEcho({
    limits: { rateLimit: { bytes: 1000, windowMs: 60_000 } },
  });
  try {
    const ws = await connect(urlOf(server));
    const done = closed(ws);
    ws.send(new Uint8Array(600));
    ws.send(new Uint8Array(600));
    assert.equal((await done).code, 1008);
  } finally {
    await server.close();
  }
});

test("limits: idle timeout pings a silent peer, then closes it with 1001", async () => {
  const server = await startEcho({ limits: { idleTimeout: 200 } });
  try {
    const raw = await rawClient(server.port);
    await until(() => raw.received().includes(0x88), "a close frame", 5000);
    const got = raw.received();
    assert.equal(got[0], 0x89, "a keep-alive ping came first");
    const close = got.indexOf(0x88);
    assert.equal(got.readUInt16BE(close + 2), 1001);
    raw.socket.destroy();
  } finally {
    await server.close();
  }
});

test("limits: a live peer answers keep-alive pings and stays connected", async () => {
  const server = await startEcho({ limits: { idleTimeout: 150 } });
  try {
    const ws = await connect(urlOf(server));
    let closedEarly = false;
    ws.addEventListener("close", () => (closedEarly = true));
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(
      closedEarly,
      false,
      "our client's automatic pongs keep it alive",
    );
    ws.close();
    await closed(ws);
  } finally {
    await server.close();
  }
});

test("limits: a peer that never reads cannot grow the send queue past maxQueuedBytes", async () => {
  let serverSocket: WebSocket | undefined;
  const server = await startServer({
    limits: { maxQueuedBytes: 4 * 1024 * 1024 },
    onConnection(socket) {
      serverSocket = socket;
    },
  });
  try {
    const raw = await rawClient(server.port);
    raw.socket.pause(); // never read
    await until(() => serverSocket !== undefined, "accepted");
    const error = once<WebSocketErrorEvent>(serverSocket!, "error");
    const done = closed(serverSocket!);
    let maxQueued = 0;
    // An application that ignores send()'s backpressure signal.
    for (let i = 0; i < 256 && serverSocket!.readyState === 1; i++) {
      serverSocket!.send(new Uint8Array(256 * 1024));
      maxQueued = Math.max(maxQueued, serverSocket!.bufferedAmount);
    }
    const event = await done;
    assert.equal(event.wasClean, false);
    assert.match((await error).message, /queued/);
    // `bufferedAmount` counts, within one task, everything sent in it (the
    // WHATWG value drops only between tasks), so here it is the total sent
    // while open: wskit's own queue past 4 MiB failed the connection after
    // the OS socket buffer took its share (a few MiB; more on Bun), long
    // before the loop's 64 MiB.
    assert.ok(
      maxQueued <= 16 * 1024 * 1024,
      `queue stayed bounded (${maxQueued})`,
    );
    raw.socket.destroy();
  } finally {
    await server.close();
  }
});

test("limits: a ping flood from a peer that never reads stops being read, then is closed (1008)", async () => {
  let serverSocket: WebSocket | undefined;
  const server = await startServer({
    pauseReadingAt: 64 * 1024,
    closeTimeout: 200,
    limits: { backpressureTimeout: 300 },
    onConnection(socket) {
      serverSocket = socket;
    },
  });
  try {
    const raw = await rawClient(server.port);
    raw.socket.pause(); // never read the pongs
    await until(() => serverSocket !== undefined, "accepted");
    const done = closed(serverSocket!);
    let maxQueued = 0;
    const watch = setInterval(
      () => (maxQueued = Math.max(maxQueued, serverSocket!.bufferedAmount)),
      5,
    );
    const ping = clientFrame(9, new Uint8Array(125));
    const flood = Buffer.concat(Array.from({ length: 2000 }, () => ping));
    let writes = 0;
    const pump = () => {
      while (writes < 200 && !raw.socket.destroyed) {
        writes++;
        if (!raw.socket.write(flood)) return raw.socket.once("drain", pump);
      }
    };
    pump();
    const event = await done;
    clearInterval(watch);
    assert.equal(event.wasClean, false);
    assert.ok(
      maxQueued < 8 * 1024 * 1024,
      `pongs queued for the peer stayed bounded (${maxQueued})`,
    );
    raw.socket.destroy();
  } finally {
    await server.close();
  }
});
