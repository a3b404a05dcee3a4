/**
 * Interop with peers this project did not write: the `ws` package (client
 * and server) and the current runtime's built-in WebSocket client and server.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import WS, { WebSocketServer as WSServer } from "ws";
import { WebSocket } from "../mod.ts";
import {
  closed,
  connect,
  inbox,
  startEcho,
  until,
  urlOf,
} from "./net_helpers.ts";

type Native = {
  send(data: unknown): void;
  close(code?: number, reason?: string): void;
  binaryType: string;
  protocol: string;
  addEventListener(
    type: string,
    fn: (e: { data?: unknown; code?: number; reason?: string }) => void,
  ): void;
};

const g = globalThis as unknown as {
  WebSocket?: new (url: string, protocols?: string[]) => Native;
  Deno?: {
    serve(
      options: {
        hostname: string;
        port: number;
        onListen?: (a: { port: number }) => void;
      },
      handler: (req: Request) => Response,
    ): {
      finished: Promise<void>;
      shutdown(): Promise<void>;
      addr: { port: number };
    };
    upgradeWebSocket(
      req: Request,
      options?: { protocol?: string },
    ): { socket: Native; response: Response };
  };
  Bun?: {
    serve(options: unknown): { port: number; stop(force?: boolean): void };
  };
};

test("interop: ws client ↔ our server (text, binary, subprotocol, close)", async () => {
  const server = await startEcho({ protocols: ["chat"] });
  try {
    const client = new WS(urlOf(server), ["x", "chat"]);
    await new Promise((resolve, reject) => {
      client.once("open", resolve);
      client.once("error", reject);
    });
    assert.equal(client.protocol, "chat");
    const got: [unknown, boolean][] = [];
    client.on("message", (data, isBinary) => got.push([data, isBinary]));
    client.send("text ✓");
    client.send(new Uint8Array([1, 2, 3]));
    client.send(Buffer.alloc(70000, 5));
    await until(() => got.length === 3, "three echoes");
    assert.equal(String(got[0][0]), "text ✓");
    assert.equal(got[0][1], false);
    assert.deepEqual([...(got[1][0] as Buffer)], [1, 2, 3]);
    assert.equal(got[1][1], true);
    assert.equal((got[2][0] as Buffer).length, 70000);
    const done = new Promise<[number, string]>((r) =>
      client.once("close", (code, reason) => r([code, String(reason)]))
    );
    client.close(4321, "ws done");
    assert.deepEqual(await done, [4321, "ws done"]);
  } finally {
    await server.close();
  }
});

test("interop: ws client fragmented message and ping reach our server", async () => {
  const server = await startEcho();
  try {
    const client = new WS(urlOf(server));
    await new Promise((r) => client.once("open", r));
    const pong = new Promise<Buffer>((r) => client.once("pong", r));
    client.ping("are you there");
    assert.equal(String(await pong), "are you there");
    const echo = new Promise<string>((r) =>
      client.once("message", (d) => r(String(d)))
    );
    client.send("part one, ", { fin: false });
    client.send("part two", { fin: true });
    assert.equal(await echo, "part one, part two");
    client.terminate();
  } finally {
    await server.close();
  }
});

test("interop: our client ↔ ws server", async () => {
  const wss = new WSServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: (set) => set.has("b") ? "b" : false,
  });
  await new Promise((r) => wss.once("listening", r));
  wss.on("connection", (socket) => {
    socket.on(
      "message",
      (data, isBinary) => socket.send(data, { binary: isBinary }),
    );
    socket.on("close", () => {});
  });
  try {
    const port = (wss.address() as { port: number }).port;
    const ws = await connect(`ws://127.0.0.1:${port}/`, ["a", "b"]);
    assert.equal(ws.protocol, "b");
    const box = inbox(ws);
    ws.send("hello ws");
    ws.send(new Uint8Array(100_000).fill(3));
    assert.equal(await box.next(), "hello ws");
    assert.equal((await box.next() as Uint8Array).length, 100_000);
    const done = closed(ws);
    ws.close(1000, "bye");
    const event = await done;
    assert.deepEqual([event.code, event.reason, event.wasClean], [
      1000,
      "bye",
      true,
    ]);
  } finally {
    await new Promise((r) => wss.close(r));
  }
});

test("interop: ws server closing with a code reaches our client", async () => {
  const wss = new WSServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  wss.on("connection", (socket) => socket.close(4500, "from ws"));
  try {
    const port = (wss.address() as { port: number }).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const event = await closed(ws);
    assert.deepEqual([event.code, event.reason, event.wasClean], [
      4500,
      "from ws",
      true,
    ]);
  } finally {
    await new Promise((r) => wss.close(r));
  }
});

test("interop: the runtime's built-in WebSocket client ↔ our server", async () => {
  assert.ok(g.WebSocket, "this runtime has a built-in WebSocket client");
  const server = await startEcho({ protocols: ["chat"] });
  try {
    const native = new g.WebSocket!(urlOf(server), ["chat"]);
    native.binaryType = "arraybuffer";
    const got: unknown[] = [];
    native.addEventListener("message", (e) => got.push(e.data));
    await new Promise<void>((r) => native.addEventListener("open", () => r()));
    assert.equal(native.protocol, "chat");
    native.send("native text");
    native.send(new Uint8Array([4, 5, 6]));
    await until(() => got.length === 2, "two echoes");
    assert.equal(got[0], "native text");
    assert.deepEqual(
      new Uint8Array(got[1] as ArrayBuffer),
      new Uint8Array([4, 5, 6]),
    );
    const done = new Promise<[number, string]>((r) =>
      native.addEventListener("close", (e) => r([e.code!, e.reason!]))
    );
    native.close(4000, "native bye");
    assert.deepEqual(await done, [4000, "native bye"]);
  } finally {
    await server.close();
  }
});

/** Starts the runtime's own WebSocket echo server (ws on Node, which has none). */
async function nativeEchoServer(): Promise<
  { port: number; stop(): Promise<void> }
> {
  if (g.Deno) {
    let port = 0;
    const server = g.Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: (a) => (port = a.port),
    }, (req) => {
      const offered = req.headers.get("sec-websocket-protocol");
      const { socket, response } = g.Deno!.upgradeWebSocket(
        req,
        offered ? { protocol: "chat" } : {},
      );
      socket.addEventListener("message", (e) => socket.send(e.data));
      return response;
    });
    port ||= server.addr.port;
    return { port, stop: () => server.shutdown() };
  }
  if (g.Bun) {
    const server = g.Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(
        req: Request,
        srv: { upgrade(req: Request, o?: unknown): boolean },
      ) {
        const offered = req.headers.get("sec-websocket-protocol");
        const ok = srv.upgrade(
          req,
          offered
            ? { headers: { "Sec-WebSocket-Protocol": "chat" } }
            : undefined,
        );
        return ok ? undefined : new Response("no", { status: 400 });
      },
      websocket: {
        message(ws: { send(d: unknown): void }, data: unknown) {
          ws.send(data);
        },
      },
    });
    return {
      port: server.port,
      stop: () => Promise.resolve(server.stop(true)),
    };
  }
  const wss = new WSServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: () => "chat",
  });
  await new Promise((r) => wss.once("listening", r));
  wss.on(
    "connection",
    (s) => s.on("message", (d, bin) => s.send(d, { binary: bin })),
  );
  return {
    port: (wss.address() as { port: number }).port,
    stop: () => new Promise((r) => wss.close(() => r())),
  };
}

test("interop: our client ↔ the runtime's built-in server", async () => {
  const native = await nativeEchoServer();
  try {
    const ws = await connect(`ws://127.0.0.1:${native.port}/`, ["chat"]);
    assert.equal(ws.protocol, "chat");
    const box = inbox(ws);
    ws.send("to native");
    ws.send(new Uint8Array(200_000).fill(9));
    assert.equal(await box.next(), "to native");
    const big = await box.next() as Uint8Array;
    assert.equal(big.length, 200_000);
    assert.equal(big[199_999], 9);
    const done = closed(ws);
    ws.close(1000);
    assert.equal((await done).wasClean, true);
  } finally {
    await native.stop();
  }
});
