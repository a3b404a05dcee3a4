/**
 * Refused handshakes whose peer keeps TCP open (it never answers our FIN):
 * the server lets go of them by itself, so they cannot hold descriptors or
 * `maxConnections` slots. Also the `attach()` path: its limits, `close()`,
 * and upgrades for another path when nothing else listens.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import { readdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { attach } from "../node.ts";
import type { WebSocketServer } from "../mod.ts";
import { closed, connect, inbox, startEcho, until } from "./net_helpers.ts";
import { holdOpen } from "./process_helpers.ts";

/** Open file descriptors of this process, where /proc exists (Linux). */
function fdCount(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function upgrade(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` +
    `Sec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** A peer that sends `request`, reads the answer and never closes its side. */
interface Holder {
  socket: net.Socket;
  /** What the server sent (latin1). */
  text(): string;
  /** The server sent EOF (or reset the connection). */
  ended(): boolean;
}

async function hold(port: number, request: string): Promise<Holder> {
  const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  let text = "";
  let ended = false;
  socket.on("data", (d) => text += d.toString("latin1"));
  socket.on("end", () => ended = true);
  socket.on("close", () => ended = true);
  socket.on("error", () => ended = true);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(request);
  return { socket, text: () => text, ended: () => ended };
}

const status = (h: Holder) => Number(h.text().split(" ")[1]);

const statusOf = (answer: string | undefined) => Number(answer?.split(" ")[1]);

describe("refused peers that hold TCP open", () => {
  test("refused, unfinished and over-limit handshakes free their slots and descriptors", async () => {
    const server = await startEcho({
      maxConnections: 4,
      handshakeTimeout: 300,
      lingerTimeout: 1500,
      authenticate: (request) => request.path !== "/deny",
    });
    const port = server.port;
    const before = fdCount();
    const peers = holdOpen(port, [
      upgrade("/deny"), // 401
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n", // 426
      upgrade("/").replace(KEY, "short"), // 400
      "GET / HTTP/1.1\r\nHost: 1", // never finishes: times out
    ]);
    let late: ReturnType<typeof holdOpen> | undefined;
    try {
      await until(
        () => peers.answers.slice(0, 3).every((a) => a !== undefined),
        "three answers",
      );
      assert.deepEqual(peers.answers.slice(0, 3).map(statusOf), [
        401,
        426,
        400,
      ]);
      assert.equal(
        server.connectionCount,
        4,
        "refused peers count until they go",
      );
      // Meanwhile a fifth is refused with 503 and holds on too.
      late = holdOpen(port, [upgrade("/")]);
      await until(() => late!.answers[0] !== undefined, "the 503");
      assert.equal(statusOf(late.answers[0]), 503);
      await until(
        () => peers.eof.every(Boolean) && late!.eof[0],
        "EOF to every peer",
      );
      // None of the peers closes its side; the server lets go by itself.
      await until(
        () => server.connectionCount === 0,
        "every maxConnections slot back while the peers hold on",
      );
      if (before !== undefined) {
        // What remains is each child's stdin and stdout pipes (and, on some
        // runtimes, its pidfd): 3 each. The five refused connections held
        // five more before the fix.
        await until(
          () => fdCount()! <= before + 6,
          "the server's descriptors of refused peers closed",
        );
      }
      const ws = await connect(`ws://127.0.0.1:${port}/`);
      const box = inbox(ws);
      ws.send("served");
      assert.equal(await box.next(), "served");
      const done = closed(ws);
      ws.close();
      await done;
    } finally {
      await peers.stop();
      await late?.stop();
      await server.close();
    }
  });
});

/** An `http` server on a free port with `attach()`ed WebSockets. */
async function attached(
  options: Parameters<typeof attach>[1],
): Promise<{ httpServer: http.Server; ws: WebSocketServer; port: number }> {
  const httpServer = http.createServer((_req, res) => res.end("plain http"));
  const ws = attach(httpServer, {
    onConnection(socket) {
      socket.onmessage = (e) => socket.send(e.data);
    },
    ...options,
  });
  await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
  const port = (httpServer.address() as AddressInfo).port;
  return { httpServer, ws, port };
}

async function stop(
  httpServer: http.Server,
  ws: WebSocketServer,
): Promise<void> {
  await ws.close();
  httpServer.closeAllConnections?.();
  await new Promise<void>((r) => httpServer.close(() => r()));
}

describe("attach()", () => {
  test("an upgrade for another path gets 404 when nothing else listens", async () => {
    const { httpServer, ws, port } = await attached({ path: "/ws" });
    const peer = await hold(port, upgrade("/other"));
    try {
      await until(() => peer.text().includes("\r\n\r\n"), "an answer");
      assert.equal(status(peer), 404);
      const client = await connect(`ws://127.0.0.1:${port}/ws`);
      const box = inbox(client);
      client.send("on /ws");
      assert.equal(await box.next(), "on /ws");
      client.close();
      await closed(client);
    } finally {
      peer.socket.destroy();
      await stop(httpServer, ws);
    }
  });

  test("an upgrade for another path is left to another upgrade listener", async () => {
    const { httpServer, ws, port } = await attached({ path: "/ws" });
    let seen = "";
    httpServer.on("upgrade", (req, socket) => {
      if (req.url !== "/other") return;
      seen = req.url;
      socket.end("HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n");
    });
    const peer = await hold(port, upgrade("/other"));
    try {
      await until(() => peer.text().includes("\r\n\r\n"), "an answer");
      assert.equal(status(peer), 418);
      assert.equal(seen, "/other");
    } finally {
      peer.socket.destroy();
      await stop(httpServer, ws);
    }
  });

  test("maxConnections applies, and close() refuses new upgrades", async () => {
    const { httpServer, ws, port } = await attached({ maxConnections: 1 });
    try {
      const first = await connect(`ws://127.0.0.1:${port}/`);
      const peer = await hold(port, upgrade("/"));
      await until(() => peer.text().includes("\r\n\r\n"), "an answer");
      assert.equal(status(peer), 503);
      peer.socket.destroy();
      const done = closed(first);
      first.close();
      await done;
      await until(() => ws.connectionCount === 0, "the slot back");
      const closing = ws.close();
      const late = await hold(port, upgrade("/"));
      await until(() => late.text().includes("\r\n\r\n"), "an answer");
      assert.equal(status(late), 503);
      late.socket.destroy();
      await closing;
    } finally {
      await stop(httpServer, ws);
    }
  });
});
