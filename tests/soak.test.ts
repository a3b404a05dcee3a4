/**
 * Soak: normal clients and abusive ones against one server for a few
 * seconds. Abusers: application handlers that throw or reject, handshakes
 * that are refused (or never finish) and then held open, frames pipelined
 * with a close, and decompression bombs. At the end every normal client got
 * every reply, and the server's connection slots, the process's file
 * descriptors and its live timers are back where they started.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { readdirSync } from "node:fs";
import { constants, deflateRawSync } from "node:zlib";
import type { WebSocketServer } from "../mod.ts";
import { clientFrame, closeBody, concat } from "./helpers.ts";
import { connect, startServer, until, urlOf } from "./net_helpers.ts";
import { holdOpen } from "./process_helpers.ts";

const SOAK_MS = 6000;

/** Live timers made through the globals, so every runtime can count them. */
function trackTimers(): { live: Set<unknown>; restore(): void } {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = {
    setTimeout: g.setTimeout,
    clearTimeout: g.clearTimeout,
    setInterval: g.setInterval,
    clearInterval: g.clearInterval,
  };
  const live = new Set<unknown>();
  const realSet = saved.setTimeout as (
    fn: () => void,
    ms?: number,
  ) => unknown;
  const realClear = saved.clearTimeout as (h: unknown) => void;
  const realEvery = saved.setInterval as (
    fn: () => void,
    ms?: number,
  ) => unknown;
  const realStop = saved.clearInterval as (h: unknown) => void;
  g.setTimeout = (
    fn: (...a: unknown[]) => void,
    ms?: number,
    ...a: unknown[]
  ) => {
    const handle: unknown = realSet(() => {
      live.delete(handle);
      fn(...a);
    }, ms);
    live.add(handle);
    return handle;
  };
  g.clearTimeout = (h: unknown) => {
    live.delete(h);
    realClear(h);
  };
  g.setInterval = (
    fn: (...a: unknown[]) => void,
    ms?: number,
    ...a: unknown[]
  ) => {
    const handle = realEvery(() => fn(...a), ms);
    live.add(handle);
    return handle;
  };
  g.clearInterval = (h: unknown) => {
    live.delete(h);
    realStop(h);
  };
  return { live, restore: () => Object.assign(g, saved) };
}

/** Open file descriptors of this process, where /proc exists (Linux). */
function fdCount(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw TCP peer that collects everything it receives. */
async function rawPeer(port: number): Promise<{
  socket: net.Socket;
  received(): Uint8Array;
  ended: Promise<void>;
}> {
  const socket = net.connect(port, "127.0.0.1");
  const chunks: Uint8Array[] = [];
  socket.on("data", (d) => chunks.push(new Uint8Array(d)));
  socket.on("error", () => {});
  const ended = new Promise<void>((r) => socket.once("close", () => r()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, received: () => concat(...chunks), ended };
}

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ORIGIN = "Origin: http://127.0.0.1\r\n";
function upgrade(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` +
    `Sec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** Server frames after the 101 head: opcode and payload of each. */
function serverFrames(
  bytes: Uint8Array,
): { opcode: number; data: Uint8Array }[] {
  const text = new TextDecoder("latin1").decode(bytes);
  let at = text.indexOf("\r\n\r\n");
  if (at < 0) return [];
  at += 4;
  const frames = [];
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at] & 15;
    let len = bytes[at + 1] & 127;
    let head = 2;
    if (len === 126) {
      len = (bytes[at + 2] << 8) | bytes[at + 3];
      head = 4;
    } else if (len === 127) {
      len = Number(new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8)
        .getBigUint64(0));
      head = 10;
    }
    if (at + head + len > bytes.length) break;
    frames.push({ opcode, data: bytes.slice(at + head, at + head + len) });
    at += head + len;
  }
  return frames;
}

/** A permessage-deflate payload of `size` zero bytes (RFC 7692 §7.2.1). */
function bombPayload(size: number): Uint8Array {
  const compressed = deflateRawSync(new Uint8Array(size), {
    level: 9,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return new Uint8Array(compressed.subarray(0, compressed.length - 4));
}

test("soak: normal clients are served while abusers come and go; slots, fds and timers return", async () => {
  const timers = trackTimers();
  const fdsBefore = fdCount();
  let server: WebSocketServer | undefined;
  const waves: ReturnType<typeof holdOpen>[] = [];
  const reported: unknown[] = [];
  try {
    server = await startServer(
      {
        maxConnections: 64,
        handshakeTimeout: 300,
        closeTimeout: 400,
        maxMessageSize: 1 << 20,
        origins: (origin) => new URL(origin!).hostname === "127.0.0.1",
        authenticate(request) {
          if (request.path === "/deny") return false;
          if (request.path === "/throw") throw new Error("auth bug");
          if (request.path === "/redirect") {
            return { status: 302, headers: { Location: "/login" } };
          }
          return true;
        },
        onError: (error: unknown) => void reported.push(error),
        onConnection(socket) {
          socket.binaryType = "uint8array";
          socket.onmessage = (event) => {
            const data = event.data;
            if (data === "throw") throw new Error("listener bug");
            if (data === "reject") {
              return Promise.reject(new Error("async bug"));
            }
            if (data === "json") return JSON.parse("{oops");
            socket.send(data);
          };
        },
      } as Parameters<typeof startServer>[0],
    );
    const port = server.port;
    const deadline = Date.now() + SOAK_MS;
    const bomb = bombPayload(8 << 20);

    let served = 0;
    const normal = async (id: number) => {
      while (Date.now() < deadline) {
        const ws = await connect(urlOf(server!), [], {
          origin: "http://127.0.0.1",
        });
        const replies: unknown[] = [];
        ws.onmessage = (e) => replies.push(e.data);
        const sent: string[] = [];
        for (let i = 0; i < 20; i++) {
          if (i % 5 === 1) ws.send("throw");
          if (i % 5 === 2) ws.send("reject");
          if (i % 5 === 3) ws.send("json");
          const message = `client ${id} message ${i} ${"é".repeat(i)}`;
          sent.push(message);
          ws.send(message);
        }
        await until(() => replies.length >= sent.length, "every reply");
        assert.deepEqual(replies, sent, "every reply, in order");
        const done = new Promise((r) => ws.addEventListener("close", r));
        ws.close(1000);
        await done;
        served++;
      }
    };

    // Refused handshakes whose peers never close their side, in two
    // waves (the peers live in child processes: see holdOpen).
    const refusedKinds = [
      upgrade("/deny", ORIGIN), // 401
      upgrade("/throw", ORIGIN), // 500: authenticate throws
      upgrade("/redirect", ORIGIN), // 302
      upgrade("/", "Origin: null\r\n"), // 500: the origins predicate throws
      upgrade("/", "Origin: http://evil.example\r\n"), // 403
      upgrade("/"), // 500: no Origin, the predicate throws
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", // 426
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr", // never finishes
    ];
    const refuser = async () => {
      for (let wave = 0; wave < 2; wave++) {
        waves.push(holdOpen(port, [...refusedKinds, ...refusedKinds]));
        await sleep(SOAK_MS / 2);
      }
    };

    let pipelined = 0;
    const pipeliner = async () => {
      while (Date.now() < deadline) {
        const peer = await rawPeer(port);
        peer.socket.write(concat(
          new TextEncoder().encode(upgrade("/", ORIGIN)),
          clientFrame(1, "one"),
          clientFrame(1, "two"),
          clientFrame(8, closeBody(1000, "bye")),
        ));
        await peer.ended;
        const frames = serverFrames(peer.received());
        assert.deepEqual(
          frames.map((f) => [f.opcode, new TextDecoder().decode(f.data)]),
          [[1, "one"], [1, "two"], [
            8,
            new TextDecoder().decode(closeBody(1000, "bye")),
          ]],
          "replies to pipelined messages go out before the close echo",
        );
        pipelined++;
      }
    };

    let bombs = 0;
    const bomber = async () => {
      while (Date.now() < deadline) {
        const peer = await rawPeer(port);
        peer.socket.write(
          upgrade(
            "/",
            ORIGIN + "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          ),
        );
        await until(() => peer.received().length > 0, "the 101");
        peer.socket.write(clientFrame(2, bomb, { rsv: 4 }));
        await peer.ended;
        const frames = serverFrames(peer.received());
        const close = frames.find((f) => f.opcode === 8);
        assert.ok(close, "the bomb gets a close frame");
        assert.equal((close.data[0] << 8) | close.data[1], 1009);
        bombs++;
      }
    };

    await Promise.all([
      ...[0, 1, 2, 3].map(normal),
      refuser(),
      pipeliner(),
      bomber(),
    ]);
    assert.ok(served >= 4 && pipelined >= 2 && bombs >= 2);
    const answered = waves.flatMap((w) =>
      w.answers.filter((_, i) => i % refusedKinds.length !== 7)
    );
    assert.ok(answered.every((a) => a !== undefined), "every refusal answered");
    assert.deepEqual(
      waves[0].answers.slice(0, 7).map((a) => Number(a!.split(" ")[1])),
      [401, 500, 302, 500, 403, 500, 426],
    );
    assert.ok(reported.length > 0, "handler and hook errors were reported");

    // The refused peers still hold their end open: the server must have
    // let go of them by itself.
    await until(
      () => server!.connectionCount === 0,
      "every connection slot freed while refused peers stay connected",
    );
    assert.ok(
      waves.every((w) => w.eof.every(Boolean)),
      "EOF to every refused peer",
    );
    const last = await connect(urlOf(server), [], {
      origin: "http://127.0.0.1",
    });
    const lastClosed = new Promise((r) => last.addEventListener("close", r));
    last.close();
    await lastClosed;
  } finally {
    for (const wave of waves) await wave.stop();
    await server?.close();
    timers.restore();
  }
  await until(() => timers.live.size === 0, "no live timers");
  if (fdsBefore !== undefined) {
    await until(() => fdCount()! <= fdsBefore, "file descriptors back");
  }
});
