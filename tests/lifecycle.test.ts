/** Timeouts, exactly-once close and process lifetime, over loopback. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { spawn } from "node:child_process";
import process from "node:process";
import { computeAccept, WebSocket } from "../mod.ts";
import { runtimeArgs } from "./process_helpers.ts";
import { closed, connect, startEcho, until, urlOf } from "./net_helpers.ts";

test("lifecycle: nothing keeps the process alive after everything is closed", async () => {
  const child = spawn(
    process.execPath,
    runtimeArgs("tests/fixtures/exit_after_close.ts"),
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const timer = setTimeout(() => child.kill(), 20000);
  const code = await new Promise((r) =>
    child.once("exit", (c, s) => r(c ?? s))
  );
  clearTimeout(timer);
  assert.equal(code, 0, `the process exits by itself (output: ${output})`);
  assert.match(output, /closed all/);
});

/** A raw server that completes the handshake and then ignores everything. */
async function deafServer(): Promise<
  { port: number; sockets: net.Socket[]; stop(): Promise<void> }
> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.once("data", (head) => {
      const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(String(head))![1];
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
      );
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    stop: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

test("lifecycle: a peer that never answers our close frame is closed after closeTimeout (1006)", async () => {
  const deaf = await deafServer();
  try {
    const ws = await connect(`ws://127.0.0.1:${deaf.port}/`, [], {
      closeTimeout: 150,
    });
    const done = closed(ws);
    const started = Date.now();
    ws.close(1000);
    const event = await done;
    assert.equal(event.code, 1006);
    assert.equal(event.wasClean, false);
    assert.ok(Date.now() - started >= 100, "waited for the close timeout");
    await until(
      () => deaf.sockets.every((s) => s.destroyed || s.readableEnded),
      "socket closed",
    );
  } finally {
    await deaf.stop();
  }
});

test("lifecycle: the close event fires exactly once even when close paths race", async () => {
  const server = await startEcho();
  try {
    const ws = await connect(urlOf(server));
    let count = 0;
    ws.addEventListener("close", () => count++);
    ws.close(1000);
    ws.close(3000);
    ws.terminate();
    await until(() => count > 0, "close");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(count, 1);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  } finally {
    await server.close();
  }
});

test("lifecycle: the server drops a client that never finishes its handshake (slowloris)", async () => {
  const server = await startEcho({ handshakeTimeout: 200 });
  try {
    const socket = net.connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    const start = Date.now();
    const interval = setInterval(() => socket.write("G"), 20); // one byte at a time
    await new Promise((r) => socket.once("close", r));
    clearInterval(interval);
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 150, `dropped only after the timeout (${elapsed} ms)`);
  } finally {
    await server.close();
  }
});

test("lifecycle: a server socket whose peer vanishes closes with 1006 and leaves the clients set", async () => {
  let serverSocket: WebSocket | undefined;
  const server = await startEcho({
    onConnection(s) {
      serverSocket = s;
    },
  });
  try {
    const raw = net.connect(server.port, "127.0.0.1");
    raw.on("error", () => {});
    raw.write(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    await until(() => serverSocket !== undefined, "accepted");
    const event = closed(serverSocket!);
    raw.destroy();
    const e = await event;
    assert.deepEqual([e.code, e.wasClean], [1006, false]);
    await until(() => server.clients.size === 0, "client removed");
  } finally {
    await server.close();
  }
});
