/**
 * permessage-deflate over loopback with peers this project did not write:
 * the `ws` package (client and server, threshold 0, with and without
 * context takeover, several window sizes) and the runtime's built-in
 * WebSocket client, which our server must negotiate with by default.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import WS, { WebSocketServer as WSServer } from "ws";
import type { Socket } from "node:net";
import { connect, inbox, startEcho, until, urlOf } from "./net_helpers.ts";
import { noise, text } from "./deflate_helpers.ts";

type WSDeflate = {
  threshold?: number;
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
};

/** Closes a ws server, dropping any client a failed test left open. */
function closeWss(wss: WSServer): Promise<unknown> {
  for (const client of wss.clients) client.terminate();
  return new Promise((r) => wss.close(r));
}

/** Payloads from 16 B to 128 KiB, compressible text and random bytes. */
function payloads(): (string | Uint8Array)[] {
  const out: (string | Uint8Array)[] = [];
  let seed = 100;
  for (const size of [16, 100, 1000, 5000, 20000, 65536, 131072]) {
    out.push(text(size, ++seed), text(size, ++seed), noise(size, ++seed));
    out.push(text(size, seed - 2)); // a repeat: context takeover pays off
  }
  return out;
}

function same(a: unknown, b: string | Uint8Array): boolean {
  if (typeof b === "string") return String(a) === b;
  const bytes = a instanceof Uint8Array ? a : new Uint8Array(a as ArrayBuffer);
  return bytes.length === b.length && bytes.every((x, i) => x === b[i]);
}

const wsConfigs: [string, WSDeflate][] = [
  ["context takeover", {}],
  [
    "no context takeover",
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
  ],
  ["windows 9/10", { serverMaxWindowBits: 9, clientMaxWindowBits: 10 }],
  ["windows 15/12", { serverMaxWindowBits: 15, clientMaxWindowBits: 12 }],
];

for (const [name, config] of wsConfigs) {
  test(`deflate interop: ws client → our server (${name})`, async () => {
    const server = await startEcho({ perMessageDeflate: { threshold: 0 } });
    try {
      const client = new WS(urlOf(server), {
        perMessageDeflate: { threshold: 0, ...config },
      });
      await new Promise((resolve, reject) => {
        client.once("open", resolve);
        client.once("error", reject);
      });
      assert.match(client.extensions, /^permessage-deflate/);
      const got: unknown[] = [];
      client.on("message", (data) => got.push(data));
      const sent = payloads();
      for (const p of sent) client.send(p, { binary: typeof p !== "string" });
      await until(() => got.length === sent.length, "all echoes");
      sent.forEach((p, i) => assert.ok(same(got[i], p), `message ${i}`));
      const done = new Promise<number>((r) => client.once("close", r));
      client.close(1000);
      assert.equal(await done, 1000);
    } finally {
      await server.close();
    }
  });

  test(`deflate interop: our client → ws server (${name})`, async () => {
    const wss = new WSServer({
      host: "127.0.0.1",
      port: 0,
      perMessageDeflate: { threshold: 0, ...config },
    });
    await new Promise((r) => wss.once("listening", r));
    let socket: Socket | undefined;
    wss.on("connection", (s, req) => {
      socket = req.socket;
      s.on("message", (d, binary) => s.send(d, { binary }));
    });
    try {
      const port = (wss.address() as { port: number }).port;
      const ws = await connect(`ws://127.0.0.1:${port}/`, undefined, {
        perMessageDeflate: { threshold: 0 },
      });
      assert.match(ws.extensions, /^permessage-deflate/);
      const box = inbox(ws);
      const sent = payloads();
      for (const p of sent) ws.send(p);
      for (let i = 0; i < sent.length; i++) {
        assert.ok(same(await box.next(), sent[i]), `message ${i}`);
      }
      const total = sent.reduce((n, p) => n + p.length, 0);
      assert.ok(
        socket !== undefined && socket.bytesRead < total * 0.7,
        `the server read ${socket?.bytesRead} bytes for ${total}`,
      );
      const closed = new Promise((r) => ws.addEventListener("close", r));
      ws.close(1000);
      await closed;
    } finally {
      await closeWss(wss);
    }
  });
}

test("deflate interop: our server negotiates by default; perMessageDeflate: false turns it off", async () => {
  for (const setting of [undefined, false] as const) {
    const server = await startEcho({ perMessageDeflate: setting });
    try {
      const client = new WS(urlOf(server)); // ws offers deflate by default
      await new Promise((resolve, reject) => {
        client.once("open", resolve);
        client.once("error", reject);
      });
      if (setting === false) assert.equal(client.extensions, "");
      else assert.match(client.extensions, /^permessage-deflate/);
      const message = text(50000, 1);
      const echo = new Promise((r) => client.once("message", r));
      client.send(message);
      assert.equal(String(await echo), message);
      const done = new Promise((r) => client.once("close", r));
      client.close();
      await done;
    } finally {
      await server.close();
    }
  }
});

test("deflate interop: our client offers permessage-deflate only when asked", async () => {
  const offers: (string | undefined)[] = [];
  const wss = new WSServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: true,
  });
  await new Promise((r) => wss.once("listening", r));
  wss.on("connection", (s, req) => {
    offers.push(req.headers["sec-websocket-extensions"]);
    s.on("message", (d, binary) => s.send(d, { binary }));
  });
  try {
    const port = (wss.address() as { port: number }).port;
    for (const perMessageDeflate of [undefined, true]) {
      const ws = await connect(`ws://127.0.0.1:${port}/`, undefined, {
        perMessageDeflate,
      });
      if (perMessageDeflate) assert.match(ws.extensions, /^permessage-deflate/);
      else assert.equal(ws.extensions, "");
      const box = inbox(ws);
      ws.send(text(3000, 2));
      assert.equal(await box.next(), text(3000, 2));
      const closed = new Promise((r) => ws.addEventListener("close", r));
      ws.close();
      await closed;
    }
    assert.equal(offers[0], undefined);
    assert.match(
      offers[1] ?? "",
      /^permessage-deflate;.*client_max_window_bits$/,
    );
  } finally {
    await closeWss(wss);
  }
});

test("deflate interop: our client ↔ our server, tuned options, over loopback", async () => {
  const server = await startEcho({
    perMessageDeflate: { threshold: 64, clientMaxWindowBits: 11, level: 1 },
  });
  try {
    const ws = await connect(urlOf(server), undefined, {
      perMessageDeflate: { threshold: 64, serverMaxWindowBits: 10 },
    });
    // (on Deno, whose zlib cannot prime a compressor, both sides also say
    // *_no_context_takeover)
    assert.match(ws.extensions, /^permessage-deflate;/);
    assert.match(ws.extensions, /server_max_window_bits=10/);
    assert.match(ws.extensions, /client_max_window_bits=11/);
    const box = inbox(ws);
    const sent = payloads();
    for (const p of sent) ws.send(p);
    for (let i = 0; i < sent.length; i++) {
      assert.ok(same(await box.next(), sent[i]), `message ${i}`);
    }
    const closed = new Promise((r) => ws.addEventListener("close", r));
    ws.close();
    await closed;
  } finally {
    await server.close();
  }
});

type Native = {
  send(data: unknown): void;
  close(code?: number): void;
  binaryType: string;
  extensions: string;
  addEventListener(type: string, fn: (e: { data?: unknown }) => void): void;
};
const g = globalThis as unknown as {
  WebSocket?: new (url: string) => Native;
  Deno?: unknown;
  Bun?: {
    serve(options: unknown): { port: number; stop(force?: boolean): void };
  };
};

test("deflate interop: the runtime's built-in client gets permessage-deflate from our server if it offers it", async () => {
  // Node 20 has it only with --experimental-websocket (npm test passes it)
  if (!g.WebSocket) return;
  const server = await startEcho();
  try {
    const native = new g.WebSocket!(urlOf(server));
    native.binaryType = "arraybuffer";
    const got: unknown[] = [];
    native.addEventListener("message", (e) => got.push(e.data));
    await new Promise<void>((r) => native.addEventListener("open", () => r()));
    // Node's (undici) and Bun's clients offer it; Deno's (2.x) does not.
    if (g.Deno) assert.equal(native.extensions, "");
    else assert.match(native.extensions, /^permessage-deflate/);
    const sent = [text(40000, 3), noise(3000, 4), text(200, 5), text(40000, 3)];
    for (const p of sent) native.send(p);
    await until(() => got.length === sent.length, "echoes");
    sent.forEach((p, i) => assert.ok(same(got[i], p), `message ${i}`));
    const done = new Promise((r) => native.addEventListener("close", r));
    native.close(1000);
    await done;
  } finally {
    await server.close();
  }
});

test("deflate interop: our client ↔ Bun's built-in server with perMessageDeflate (Bun only)", async () => {
  if (!g.Bun) return; // Deno's built-in server does not negotiate it; Node has none
  const server = g.Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req: Request, srv: { upgrade(req: Request): boolean }) {
      return srv.upgrade(req) ? undefined : new Response("no", { status: 400 });
    },
    websocket: {
      perMessageDeflate: true,
      message(
        ws: { send(d: unknown, compress?: boolean): void },
        data: unknown,
      ) {
        ws.send(data, true);
      },
    },
  });
  try {
    const ws = await connect(`ws://127.0.0.1:${server.port}/`, undefined, {
      perMessageDeflate: { threshold: 0 },
    });
    assert.match(ws.extensions, /^permessage-deflate/);
    const box = inbox(ws);
    const sent = payloads();
    for (const p of sent) ws.send(p);
    for (let i = 0; i < sent.length; i++) {
      assert.ok(same(await box.next(), sent[i]), `message ${i}`);
    }
    const closed = new Promise((r) => ws.addEventListener("close", r));
    ws.close();
    await closed;
  } finally {
    server.stop(true);
  }
});
